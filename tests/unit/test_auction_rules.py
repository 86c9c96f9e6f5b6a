"""The auction rules (proxy bidding, increments, reserve, Buy It Now, soft close) against a
reference model written from issue 10's words, over random auctions and command sequences.

The model keeps what the words speak of — every bidder's maximum, the leader as the greatest
maximum (ties: the earlier), the price by the formula over the two best maxima — and nothing
of the implementation's bookkeeping, so the two agree only if the rules are the ones stated.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gavel.domain.auction import DEFAULT_INCREMENTS, Auction, IncrementStep, Item, SoftClose
from gavel.domain.bidding import (
    BidKind,
    BidOutcome,
    BuyNow,
    CloseAuction,
    Closed,
    Command,
    PlaceBid,
    RejectReason,
    decide,
    decide_all,
)
from gavel.messages import auction_to_pb, outcome_to_pb

START = datetime(2030, 1, 1, tzinfo=UTC)
END = START + timedelta(minutes=60)
AUCTION = uuid.UUID(int=10)
BIDDERS = ("ann", "bob", "cy", "dee")


@dataclass
class Record:
    """A bid row as the words describe it."""

    kind: BidKind
    bidder: str
    accepted: bool
    reason: RejectReason | None
    amount: int
    max_amount: int


@dataclass
class Reference:
    start_price: int
    reserve: int
    buy_now: int
    table: list[tuple[int, int]]
    end: datetime
    soft: SoftClose | None
    #: bidder -> (their maximum, the order in which it was set: ties go to the earlier)
    maxima: dict[str, tuple[int, int]] = field(default_factory=dict)
    price: int = 0
    order: int = 0
    any_accepted: bool = False
    closed: bool = False
    winner: str = ""

    def inc(self, p: int) -> int:
        return [i for f, i in self.table if f <= p][-1]

    def ranked(self) -> list[tuple[str, int]]:
        return [(b, m) for b, (m, _) in sorted(self.maxima.items(), key=lambda kv: (-kv[1][0], kv[1][1]))]

    @property
    def leader(self) -> str:
        return self.ranked()[0][0] if self.maxima else ""

    @property
    def leader_max(self) -> int:
        return self.ranked()[0][1] if self.maxima else 0

    @property
    def min_next(self) -> int:
        return self.start_price if not self.leader else self.price + self.inc(self.price)

    @property
    def reserve_met(self) -> bool:
        return self.reserve == 0 or (bool(self.leader) and self.leader_max >= self.reserve)

    @property
    def buy_now_available(self) -> bool:
        if not self.buy_now or self.closed:
            return False
        return not self.reserve_met if self.reserve else not self.any_accepted

    def formula(self) -> int:
        ranked = self.ranked()
        m1 = ranked[0][1]
        p = (
            self.start_price
            if len(ranked) == 1
            else max(self.start_price, min(m1, ranked[1][1] + self.inc(ranked[1][1])))
        )
        return max(p, self.reserve) if self.reserve and m1 >= self.reserve else p

    def set_max(self, bidder: str, amount: int) -> None:
        self.order += 1
        self.maxima[bidder] = (amount, self.order)

    def window(self, at: datetime) -> RejectReason | None:
        if self.closed or at >= self.end:
            return RejectReason.AUCTION_ENDED
        if at < START:
            return RejectReason.AUCTION_NOT_STARTED
        return None

    def bid(self, bidder: str, m: int, at: datetime) -> list[Record]:
        rejected = self.window(at)
        if rejected is None:
            if not self.leader:
                rejected = RejectReason.BELOW_STARTING_PRICE if m < self.start_price else None
            elif bidder == self.leader:
                rejected = RejectReason.NOT_ABOVE_OWN_MAX if m <= self.leader_max else None
            elif m < self.min_next:
                rejected = RejectReason.BELOW_MIN_BID
            elif m <= self.leader_max:
                rejected = RejectReason.OUTBID
        if rejected is RejectReason.NOT_ABOVE_OWN_MAX:  # kept the lead: shown at the price
            return [Record(BidKind.MANUAL, bidder, False, rejected, self.price, m)]
        if rejected not in (None, RejectReason.OUTBID):
            return [Record(BidKind.MANUAL, bidder, False, rejected, m, m)]
        before = (self.price, self.leader)
        raising = bidder == self.leader
        self.set_max(bidder, max(m, self.maxima.get(bidder, (0, 0))[0]))
        if raising:  # never against oneself; only meeting the reserve moves the price
            if self.reserve and m >= self.reserve:
                self.price = max(self.price, self.reserve)
        else:
            self.price = self.formula()
        if (self.price, self.leader) != before and self.soft and self.end - self.soft.window <= at < self.end:
            self.end = min(self.soft.hard_end, max(self.end, at + self.soft.extension))
        if rejected is RejectReason.OUTBID:
            return [
                Record(BidKind.MANUAL, bidder, False, rejected, m, m),
                Record(BidKind.PROXY, self.leader, True, None, self.price, self.leader_max),
            ]
        self.any_accepted = True
        return [Record(BidKind.MANUAL, bidder, True, None, self.price, m)]

    def buy(self, buyer: str, at: datetime) -> list[Record]:
        if self.closed:
            reason = RejectReason.BUY_NOW_UNAVAILABLE if self.buy_now else RejectReason.AUCTION_ENDED
        else:
            reason = self.window(at)
        if reason is None and not self.buy_now_available:
            reason = RejectReason.BUY_NOW_UNAVAILABLE
        if reason is not None:
            return [Record(BidKind.BUY_NOW, buyer, False, reason, self.buy_now, 0)]
        self.closed, self.winner, self.price = True, buyer, self.buy_now
        self.set_max(buyer, self.buy_now)
        self.maxima = {buyer: self.maxima[buyer]}  # sold: the buyer leads, whatever the maxima were
        return [Record(BidKind.BUY_NOW, buyer, True, None, self.buy_now, self.buy_now)]

    def close(self, end: datetime) -> bool:
        if self.closed or end != self.end:
            return False
        self.closed = True
        self.winner = self.leader if self.reserve_met else ""
        return True


@st.composite
def tables(draw: st.DrawFn) -> list[tuple[int, int]]:
    if draw(st.booleans()):
        return [(s.from_price, s.increment) for s in DEFAULT_INCREMENTS]
    froms = sorted(set(draw(st.lists(st.integers(1, 3000), max_size=5))))
    return [(f, draw(st.integers(1, 300))) for f in [0, *froms]]


@st.composite
def auctions(draw: st.DrawFn) -> Auction:
    start_price = draw(st.integers(1, 1000))
    reserve = draw(st.sampled_from([0, 0, start_price, start_price + draw(st.integers(1, 2000))]))
    buy_now = draw(st.sampled_from([0, max(start_price, reserve) + draw(st.integers(1, 3000))]))
    soft = None
    if draw(st.booleans()):
        soft = SoftClose(
            window=timedelta(minutes=draw(st.integers(1, 30))),
            extension=timedelta(minutes=draw(st.integers(1, 30))),
            hard_end=END + timedelta(minutes=draw(st.integers(1, 60))),
        )
    table = draw(tables())
    return Auction(
        auction_id=AUCTION,
        seller_id="seller",
        item=Item("Lamp"),
        start_date=START,
        end_date=END,
        starting_price=start_price,
        currency="USD",
        created_at=START,
        reserve_price=reserve,
        buy_now_price=buy_now,
        increments=tuple(IncrementStep(f, i) for f, i in table),
        soft_close=soft,
        original_end_date=END,
    )


def reference_of(a: Auction) -> Reference:
    table = [(s.from_price, s.increment) for s in a.increments]
    return Reference(a.starting_price, a.reserve_price, a.buy_now_price, table, a.end_date, a.soft_close)


def draw_command(data: st.DataObject, now: Auction, at: datetime) -> Command:
    """Amounts around what matters right now (the minimum, the leader's maximum, the
    reserve), so that every case is reached; the draw only aims, the model judges."""
    what = data.draw(st.sampled_from(["bid"] * 8 + ["buy", "close"]))
    bidder = data.draw(st.sampled_from(BIDDERS))
    if what == "close":
        return CloseAuction(AUCTION, data.draw(st.sampled_from([now.end_date, END])), now.end_date)
    if what == "buy":
        return BuyNow(uuid.uuid4(), AUCTION, bidder, at)
    pivot = data.draw(
        st.sampled_from([now.min_next_bid, now.leader_max or now.starting_price, now.reserve_price or now.highest_bid])
    )
    amount = max(1, pivot + data.draw(st.integers(-60, 400)))
    return PlaceBid(uuid.uuid4(), AUCTION, bidder, amount, at)


def records_of(steps: list[tuple[Auction, BidOutcome | Closed]]) -> list[Record]:
    return [
        Record(o.kind, o.bidder_id, o.accepted, o.reason, o.amount, o.max_amount)
        for _, o in steps
        if isinstance(o, BidOutcome)
    ]


@settings(max_examples=300)
@given(auctions(), st.data())
def test_decisions_follow_the_rules(auction: Auction, data: st.DataObject) -> None:
    ref, state = reference_of(auction), auction
    at = START - timedelta(minutes=1)
    for _ in range(data.draw(st.integers(1, 40))):
        at += timedelta(seconds=data.draw(st.sampled_from([1, 10, 60, 300, 900])))
        if data.draw(st.booleans()):  # near the (moving) end, where soft close acts
            at = max(at, ref.end - timedelta(seconds=data.draw(st.integers(1, 120))))
        command = draw_command(data, state, at)
        steps = decide(state, command)
        if isinstance(command, PlaceBid):
            expected = ref.bid(command.bidder_id, command.amount, command.placed_at)
            assert records_of(steps) == expected
        elif isinstance(command, BuyNow):
            assert records_of(steps) == ref.buy(command.bidder_id, command.placed_at)
        else:
            assert bool(steps) == ref.close(command.end_date)
        state = steps[-1][0] if steps else state
        assert (state.highest_bid, state.highest_bidder_id) == (ref.price, ref.leader)
        assert state.leader_max == ref.leader_max
        assert state.min_next_bid == ref.min_next
        assert state.reserve_met == ref.reserve_met
        assert state.buy_now_available == ref.buy_now_available
        assert state.end_date == ref.end
        assert (state.closed_at is not None, state.winner_id) == (ref.closed, ref.winner)


@settings(max_examples=200)
@given(auctions(), st.data())
def test_group_commit_equals_one_at_a_time(auction: Auction, data: st.DataObject) -> None:
    state, log = auction, []
    at = START
    for _ in range(data.draw(st.integers(1, 30))):
        at += timedelta(seconds=data.draw(st.integers(0, 600)))
        command = draw_command(data, state, at)
        log.append(command)
        state = decide_all(state, [command])[0]
    final, singly = decide_all(auction, log)
    sizes = iter(data.draw(st.lists(st.integers(1, 8), max_size=10)))
    grouped_state, grouped, i = auction, [], 0
    while i < len(log):
        size = next(sizes, len(log))
        grouped_state, steps = decide_all(grouped_state, log[i : i + size])
        grouped += steps
        i += size
    assert grouped == singly and grouped_state == final
    # Every record has its own version, in order, and the count is the records'.
    versions = [o.version for _, o in singly]
    assert versions == list(range(1, len(versions) + 1))
    assert final.bid_count == sum(isinstance(o, BidOutcome) and o.kind is not BidKind.PROXY for _, o in singly)


@settings(max_examples=200)
@given(auctions(), st.data())
def test_maxima_and_the_reserve_are_shown_to_their_owners_only(auction: Auction, data: st.DataObject) -> None:
    state = auction
    at = START
    for _ in range(data.draw(st.integers(1, 20))):
        at += timedelta(seconds=data.draw(st.integers(1, 120)))
        command = draw_command(data, state, at)
        steps = decide(state, command)
        state = steps[-1][0] if steps else state
        for _, outcome in steps:
            if not isinstance(outcome, BidOutcome):
                continue
            assert outcome_to_pb(outcome).max_amount == 0
            assert outcome_to_pb(outcome, "someone-else").max_amount == 0
            assert outcome_to_pb(outcome, outcome.bidder_id).max_amount == outcome.max_amount
            # Public: the price a bid set or kept, never the amount a leader entered.
            if outcome.accepted or outcome.reason is RejectReason.NOT_ABOVE_OWN_MAX:
                assert outcome.amount == outcome.highest_bid
    for viewer in ("", "ann", "bob"):
        assert auction_to_pb(state, at, viewer).reserve_price == 0
    assert auction_to_pb(state, at, "seller").reserve_price == state.reserve_price


def test_ebay_examples() -> None:
    """Worked by hand from the default ladder: the cases a peer project got wrong."""
    a = Auction(AUCTION, "seller", Item("Lamp"), START, END, 100, "USD", START, original_end_date=END)
    at = START + timedelta(minutes=1)

    def bid(state: Auction, who: str, m: int) -> tuple[Auction, list[BidOutcome]]:
        steps = decide(state, PlaceBid(uuid.uuid4(), AUCTION, who, m, at))
        return steps[-1][0], [o for _, o in steps if isinstance(o, BidOutcome)]

    s, [first] = bid(a, "ann", 1000)
    assert (first.amount, s.highest_bid, s.min_next_bid) == (100, 100, 125)  # alone: the starting price
    s, [raise_] = bid(s, "ann", 2000)
    assert raise_.accepted and s.highest_bid == 100  # never against herself
    s, [outbid, proxy] = bid(s, "bob", 1500)
    assert outbid.reason is RejectReason.OUTBID and outbid.amount == 1500
    assert (proxy.kind, proxy.bidder_id, proxy.amount) == (BidKind.PROXY, "ann", 1550)  # 1500 + 50
    s, [low] = bid(s, "bob", 1599)
    assert low.reason is RejectReason.BELOW_MIN_BID and s.min_next_bid == 1600  # 1550 + 50
    s, [tie, proxy] = bid(s, "bob", 2000)
    assert tie.reason is RejectReason.OUTBID and (proxy.bidder_id, s.highest_bid) == ("ann", 2000)  # the earlier
    s, [lead] = bid(s, "bob", 2600)
    assert lead.accepted and (s.highest_bidder_id, s.highest_bid, lead.amount) == ("bob", 2050, 2050)  # 2000 + 50
    _, [own] = bid(s, "bob", 2600)
    assert own.reason is RejectReason.NOT_ABOVE_OWN_MAX


def test_reserve_buy_now_and_soft_close_examples() -> None:
    soft = SoftClose(timedelta(minutes=5), timedelta(minutes=10), END + timedelta(minutes=12))
    a = Auction(
        AUCTION, "seller", Item("Lamp"), START, END, 100, "USD", START,
        reserve_price=1000, buy_now_price=5000, soft_close=soft, original_end_date=END,
    )  # fmt: skip

    def bid(state: Auction, who: str, m: int, at: datetime) -> Auction:
        return decide(state, PlaceBid(uuid.uuid4(), AUCTION, who, m, at))[-1][0]

    s = bid(a, "ann", 500, START + timedelta(minutes=1))
    assert (s.highest_bid, s.reserve_met, s.buy_now_available) == (100, False, True)  # below the reserve
    s = bid(s, "ann", 1200, START + timedelta(minutes=2))
    assert (s.highest_bid, s.reserve_met, s.buy_now_available) == (1000, True, False)  # jumps to the reserve
    s = bid(s, "bob", 1100, END - timedelta(minutes=1))  # outbid in the window: the price moves
    assert (s.highest_bidder_id, s.highest_bid, s.end_date) == ("ann", 1150, END + timedelta(minutes=9))
    s = bid(s, "bob", 1300, s.end_date - timedelta(seconds=1))  # capped at the hard end
    assert (s.highest_bidder_id, s.end_date) == ("bob", END + timedelta(minutes=12))
    [(_, nothing)] = decide(s, BuyNow(uuid.uuid4(), AUCTION, "cy", START + timedelta(minutes=3)))
    assert isinstance(nothing, BidOutcome) and nothing.reason is RejectReason.BUY_NOW_UNAVAILABLE
    assert decide(s, CloseAuction(AUCTION, END, END)) == []  # the old end's close is a no-op
    [(closed, done)] = decide(s, CloseAuction(AUCTION, s.end_date, s.end_date))
    assert isinstance(done, Closed) and closed.winner_id == "bob"
    # Not met: no winner.
    low = bid(a, "ann", 900, START + timedelta(minutes=1))
    [(unsold, _)] = decide(low, CloseAuction(AUCTION, END, END))
    assert unsold.winner_id == "" and unsold.highest_bidder_id == "ann"
