"""The auction rules (proxy bidding, increments, reserve, Buy It Now, soft close) against a
reference model written from issue 10's words, over random auctions and command sequences.

The model keeps what the words speak of — every bidder's maximum, the leader as the greatest
maximum (ties: the earlier), the price by the formula over the two best maxima — and nothing
of the implementation's bookkeeping, so the two agree only if the rules are the ones stated.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gavel.auth import Principal
from gavel.domain.auction import Auction, Item, SoftClose
from gavel.domain.bidding import (
    BidKind,
    BidOutcome,
    BuyNow,
    CloseAuction,
    Closed,
    PlaceBid,
    RejectReason,
)
from gavel.domain.decision import Command, decide, decide_all
from gavel.messages import auction_to_pb, outcome_to_pb
from tests.unit.rules_reference import AUCTION, BIDDERS, END, START, Record, auctions, reference_of


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
            assert outcome_to_pb(outcome, None).max_amount == 0
            assert outcome_to_pb(outcome, Principal("someone-else")).max_amount == 0
            assert outcome_to_pb(outcome, Principal(outcome.bidder_id)).max_amount == outcome.max_amount
            # Public: the price a bid set or kept, never the amount a leader entered.
            if outcome.accepted or outcome.reason is RejectReason.NOT_ABOVE_OWN_MAX:
                assert outcome.amount == outcome.highest_bid
    for viewer in (None, Principal("ann"), Principal("bob")):
        assert auction_to_pb(state, at, viewer).reserve_price == 0
    assert auction_to_pb(state, at, Principal("seller")).reserve_price == state.reserve_price


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
