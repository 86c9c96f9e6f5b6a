"""The bid decision, exhaustively: rules, invariants, and the group-commit equivalence."""

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
    decide_all,
    decide_bid,
    decide_close,
)

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
    _, low = decide_bid(STATE, bid(99))
    _, exact = decide_bid(STATE, bid(100))
    assert (low.accepted, low.reason) == (False, RejectReason.BELOW_STARTING_PRICE)
    assert exact.accepted and exact.highest_bid == 100


def test_later_bids_must_beat_the_highest_and_ties_go_to_the_earlier() -> None:
    state, first = decide_bid(STATE, bid(150, "alice"))
    state, tie = decide_bid(state, bid(150, "bob"))
    state, higher = decide_bid(state, bid(151, "bob"))
    assert first.accepted and not tie.accepted and higher.accepted
    assert tie.reason is RejectReason.NOT_ABOVE_HIGHEST
    assert (state.highest_bid, state.highest_bidder_id, state.version, state.bid_count) == (151, "bob", 3, 3)
    assert higher.prev_bid_id == first.bid.bid_id


def test_the_window_is_judged_by_receive_time() -> None:
    _, early = decide_bid(STATE, bid(500, at=START - timedelta(milliseconds=1)))
    _, at_end = decide_bid(STATE, bid(500, at=END))
    _, last_moment = decide_bid(STATE, bid(500, at=END - timedelta(milliseconds=1)))
    assert early.reason is RejectReason.AUCTION_NOT_STARTED
    assert at_end.reason is RejectReason.AUCTION_ENDED
    assert last_moment.accepted


def test_close_decides_the_winner_once() -> None:
    state, _ = decide_bid(STATE, bid(300, "alice"))
    state, closed = decide_close(state, CloseAuction(AUCTION, END, END))
    assert isinstance(closed, Closed) and closed.winner_id == "alice"
    assert state.closed_at == END and state.winner_id == "alice"
    again, nothing = decide_close(state, CloseAuction(AUCTION, END, END + timedelta(seconds=5)))
    assert nothing is None and again == state
    _, late = decide_bid(state, bid(1000, "bob", at=END - timedelta(seconds=1)))
    assert late.reason is RejectReason.AUCTION_ENDED  # closed: nothing more is accepted


def test_close_without_bids_has_no_winner_and_a_moved_end_is_a_no_op() -> None:
    _state, closed = decide_close(STATE, CloseAuction(AUCTION, END, END))
    assert closed is not None and closed.winner_id == ""
    moved, nothing = decide_close(STATE, CloseAuction(AUCTION, END - timedelta(minutes=5), END))
    assert nothing is None and moved == STATE


@given(bids)
def test_invariants_hold_for_any_sequence(commands: list[PlaceBid]) -> None:
    final, steps = decide_all(STATE, commands)
    outcomes = [o for _, o in steps]
    assert all(isinstance(o, BidOutcome) for o in outcomes)
    accepted = [o for o in outcomes if isinstance(o, BidOutcome) and o.accepted]
    amounts = [o.bid.amount for o in accepted]
    assert amounts == sorted(set(amounts))  # strictly increasing in decision order
    assert final.highest_bid == (max(amounts) if amounts else 0)
    assert all(a >= STATE.starting_price for a in amounts)
    assert all(START <= o.bid.placed_at < END for o in accepted)
    assert [o.version for o in outcomes] == list(range(1, len(commands) + 1))
    assert final.version == final.bid_count == len(commands)
    # The chain of leaders: each accepted bid displaced the one accepted before it.
    assert [o.prev_bid_id for o in accepted] == ([None] + [o.bid.bid_id for o in accepted])[: len(accepted)]


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
