"""The bid decision's time rules and invariants over plain bids (the auction rules, against
their reference model, are in test_auction_rules)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from gavel.domain.auction import Auction, Item
from gavel.domain.bidding import (
    BidOutcome,
    CloseAuction,
    Closed,
    PlaceBid,
    RejectReason,
    Steps,
    decide_bid,
    decide_close,
)
from gavel.domain.decision import decide_all


def one(steps: Steps) -> BidOutcome:
    """The bid's own outcome (a proxy's answer, if any, comes after it)."""
    outcome = steps[0][1]
    assert isinstance(outcome, BidOutcome)
    return outcome


def after(steps: Steps) -> Auction:
    return steps[-1][0]


START = datetime(2030, 1, 1, tzinfo=UTC)
END = START + timedelta(hours=1)
AUCTION = uuid.UUID(int=7)
STATE = Auction(
    auction_id=AUCTION,
    seller_id="seller",
    item=Item("Lamp"),
    start_date=START,
    end_date=END,
    starting_price=100,
    currency="USD",
    created_at=START,
)


def bid(amount: int, bidder: str = "b1", at: datetime = START + timedelta(minutes=1)) -> PlaceBid:
    return PlaceBid(uuid.uuid4(), AUCTION, bidder, amount, at)


bids = st.lists(
    st.builds(
        lambda amount, bidder, offset: bid(amount, f"u{bidder}", START + timedelta(seconds=offset)),
        st.integers(1, 400),
        st.integers(0, 5),
        st.integers(-600, 4200),  # some before the start, some after the end
    ),
    max_size=60,
)


def test_first_bid_must_reach_the_starting_price() -> None:
    low = one(decide_bid(STATE, bid(99)))
    exact = one(decide_bid(STATE, bid(100)))
    assert (low.accepted, low.reason) == (False, RejectReason.BELOW_STARTING_PRICE)
    assert exact.accepted and exact.highest_bid == 100


def test_a_higher_maximum_takes_the_lead_and_a_tie_goes_to_the_earlier() -> None:
    steps = decide_bid(STATE, bid(150, "alice"))
    first = one(steps)
    steps = decide_bid(after(steps), bid(150, "bob"))
    tie, proxy = one(steps), steps[1][1]
    steps = decide_bid(after(steps), bid(200, "bob"))
    higher, state = one(steps), after(steps)
    assert first.accepted and not tie.accepted and higher.accepted
    assert tie.reason is RejectReason.OUTBID and isinstance(proxy, BidOutcome) and proxy.bidder_id == "alice"
    # 150 + the increment at 150 (25): the least that beats alice's maximum.
    assert (state.highest_bid, state.highest_bidder_id, state.version, state.bid_count) == (175, "bob", 4, 3)
    assert higher.prev_bid_id == proxy.bid_id


def test_the_window_is_judged_by_receive_time() -> None:
    early = one(decide_bid(STATE, bid(500, at=START - timedelta(milliseconds=1))))
    at_end = one(decide_bid(STATE, bid(500, at=END)))
    last_moment = one(decide_bid(STATE, bid(500, at=END - timedelta(milliseconds=1))))
    assert early.reason is RejectReason.AUCTION_NOT_STARTED
    assert at_end.reason is RejectReason.AUCTION_ENDED
    assert last_moment.accepted


def test_close_decides_the_winner_once() -> None:
    state = after(decide_bid(STATE, bid(300, "alice")))
    [(state, closed)] = decide_close(state, CloseAuction(AUCTION, END, END))
    assert isinstance(closed, Closed) and closed.winner_id == "alice"
    assert state.closed_at == END and state.winner_id == "alice"
    assert decide_close(state, CloseAuction(AUCTION, END, END + timedelta(seconds=5))) == []
    late = one(decide_bid(state, bid(1000, "bob", at=END - timedelta(seconds=1))))
    assert late.reason is RejectReason.AUCTION_ENDED  # closed: nothing more is accepted


def test_close_without_bids_has_no_winner_and_a_moved_end_is_a_no_op() -> None:
    [(_state, closed)] = decide_close(STATE, CloseAuction(AUCTION, END, END))
    assert isinstance(closed, Closed) and closed.winner_id == ""
    assert decide_close(STATE, CloseAuction(AUCTION, END - timedelta(minutes=5), END)) == []


@given(bids)
def test_invariants_hold_for_any_sequence(commands: list[PlaceBid]) -> None:
    final, steps = decide_all(STATE, commands)
    outcomes = [o for _, o in steps if isinstance(o, BidOutcome)]
    assert len(outcomes) == len(steps)
    accepted = [o for o in outcomes if o.accepted]
    prices = [o.highest_bid for o in accepted]
    assert prices == sorted(prices)  # the price never falls
    assert final.highest_bid == (prices[-1] if prices else 0)
    assert all(p >= STATE.starting_price for p in prices)
    assert all(START <= o.placed_at < END for o in accepted)
    # The leader holds the greatest maximum of all the bids that stood or were outbid.
    standing = [o.max_amount for o in outcomes if o.accepted or o.reason is RejectReason.OUTBID]
    assert final.leader_max == max(standing, default=0)
    assert [o.version for o in outcomes] == list(range(1, len(outcomes) + 1))
    assert final.version == len(outcomes)
    assert final.bid_count == len(commands)  # the bids placed; proxies are recorded, not counted
    # The chain of leading bids: each accepted bid replaced the one accepted before it.
    assert [o.prev_bid_id for o in accepted] == ([None] + [o.bid_id for o in accepted])[: len(accepted)]


@given(bids, st.lists(st.integers(1, 10), max_size=20))
def test_group_commit_equals_one_at_a_time(commands: list[PlaceBid], group_sizes: list[int]) -> None:
    """Deciding the log in groups of any sizes gives exactly the one-at-a-time outcomes."""
    _, singly = decide_all(STATE, commands)
    one_by_one = [outcome for _, outcome in singly]
    state, grouped, i = STATE, [], 0
    sizes = iter(group_sizes)
    while i < len(commands):
        size = next(sizes, len(commands))
        state, steps = decide_all(state, commands[i : i + size])
        grouped += [outcome for _, outcome in steps]
        i += size
    assert grouped == one_by_one
