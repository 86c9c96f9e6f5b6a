"""The reference model of the auction rules, written from issue 10's words (see
test_auction_rules), shared by the tests of what follows the gavel (test_after_the_gavel)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from gavel.domain.auction import DEFAULT_INCREMENTS, Auction, IncrementStep, Item, SoftClose
from gavel.domain.bidding import BidKind, RejectReason

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
