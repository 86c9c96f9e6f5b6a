"""The bid decision: a pure function of the auction and a command, applied in log order.

Everything the bid path decides is decided here, so the whole rule set is tested without
Cassandra or NATS, and group commit (folding many commands through ``decide`` before one
write) is provably the same as deciding them one at a time.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from gavel.domain.auction import Auction


class RejectReason(enum.Enum):
    BELOW_STARTING_PRICE = "below_starting_price"
    NOT_ABOVE_HIGHEST = "not_above_highest"
    AUCTION_NOT_STARTED = "auction_not_started"
    AUCTION_ENDED = "auction_ended"
    AUCTION_CANCELLED = "auction_cancelled"


@dataclass(frozen=True, slots=True)
class PlaceBid:
    bid_id: uuid.UUID
    auction_id: uuid.UUID
    bidder_id: str
    amount: int
    #: When the bid service received it: judged against the auction's window.
    placed_at: datetime


@dataclass(frozen=True, slots=True)
class CloseAuction:
    auction_id: uuid.UUID
    #: The end time the closer saw; a later end (soft close) makes this command a no-op.
    end_date: datetime
    #: When the close was decided (recorded as closed_at).
    at: datetime


Command = PlaceBid | CloseAuction


@dataclass(frozen=True, slots=True)
class BidOutcome:
    bid: PlaceBid
    accepted: bool
    reason: RejectReason | None
    #: The auction's version and highest bid right after this decision.
    version: int
    highest_bid: int
    #: The leader this bid displaced (accepted bids only), so the chain of leaders can be checked.
    prev_bid_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class Closed:
    command: CloseAuction
    version: int
    winner_id: str


Outcome = BidOutcome | Closed


def _rejection(state: Auction, bid: PlaceBid) -> RejectReason | None:
    if state.cancelled_at is not None:
        return RejectReason.AUCTION_CANCELLED
    if state.closed_at is not None or bid.placed_at >= state.end_date:
        return RejectReason.AUCTION_ENDED
    if bid.placed_at < state.start_date:
        return RejectReason.AUCTION_NOT_STARTED
    if state.highest_bidder_id == "":
        return RejectReason.BELOW_STARTING_PRICE if bid.amount < state.starting_price else None
    # Equal to the highest loses: the earlier bid (decided first, in log order) keeps the lead.
    return RejectReason.NOT_ABOVE_HIGHEST if bid.amount <= state.highest_bid else None


def decide_bid(state: Auction, bid: PlaceBid) -> tuple[Auction, BidOutcome]:
    """Every decision, accepted or not, is a change of state: the count and version grow, so
    watchers see each bid, and the version orders the bid history."""
    reason = _rejection(state, bid)
    version = state.version + 1
    if reason is not None:
        after = replace(state, version=version, bid_count=state.bid_count + 1)
        return after, BidOutcome(bid, False, reason, version, state.highest_bid, None)
    after = replace(
        state,
        version=version,
        bid_count=state.bid_count + 1,
        highest_bid=bid.amount,
        highest_bidder_id=bid.bidder_id,
        highest_bid_id=bid.bid_id,
    )
    return after, BidOutcome(bid, True, None, version, bid.amount, state.highest_bid_id)


def decide_close(state: Auction, close: CloseAuction) -> tuple[Auction, Closed | None]:
    """Closes once: an auction already closed, cancelled, or whose end moved, is left alone."""
    if state.closed_at is not None or state.cancelled_at is not None or close.end_date != state.end_date:
        return state, None
    version = state.version + 1
    after = replace(state, version=version, closed_at=close.at, winner_id=state.highest_bidder_id)
    return after, Closed(close, version, after.winner_id)


def decide(state: Auction, command: Command) -> tuple[Auction, Outcome | None]:
    if isinstance(command, PlaceBid):
        return decide_bid(state, command)
    return decide_close(state, command)


def decide_all(state: Auction, commands: Iterable[Command]) -> tuple[Auction, list[tuple[Auction, Outcome]]]:
    """Group commit's fold: the commands in log order, each with the state right after it.

    Commands that change nothing (a repeated close) yield no entry.
    """
    steps: list[tuple[Auction, Outcome]] = []
    for command in commands:
        state, outcome = decide(state, command)
        if outcome is not None:
            steps.append((state, outcome))
    return state, steps
