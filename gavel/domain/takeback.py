"""Taking things back: a seller's cancellation, a bidder's retraction, under eBay's time rules.

Both are commands in the auction's log, decided in order with its bids, so a cancellation
racing a bid, or a retraction racing the close, has one answer. The time limits are policy,
not terms of the auction: the API puts the ones in force into the command.

- Cancel: the seller, before the end; once a bid leads, only while more than
  ``min_remaining`` is left. The auction then ends with no winner and no sale.
- Retract: the bidder, on their own bid, before the end. With more than ``min_remaining``
  left, that bid; later, only a bid placed within ``recent``, and then all of the bidder's
  bids. The price and the leader become what the remaining bids make them (``standings``).

Repeating one that was done (cancel a cancelled auction, retract a retracted bid) answers
it again and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from gavel.domain.auction import Auction
from gavel.domain.bidding import BidKind, BidOutcome, Steps
from gavel.domain.refusals import Refusal, refuse
from gavel.domain.standings import replay


@dataclass(frozen=True, slots=True)
class CancelAuction:
    auction_id: uuid.UUID
    seller_id: str
    reason: str
    at: datetime
    #: With a bid leading, cancelling needs more than this left (eBay: 12 hours).
    min_remaining: timedelta


@dataclass(frozen=True, slots=True)
class RetractBid:
    auction_id: uuid.UUID
    bidder_id: str
    bid_id: uuid.UUID
    reason: str
    at: datetime
    #: With more than this left any bid may be retracted (eBay: 12 hours) ...
    min_remaining: timedelta
    #: ... later, only one placed within this (eBay: 1 hour), which takes all the bidder's.
    recent: timedelta


@dataclass(frozen=True, slots=True)
class Cancelled:
    command: CancelAuction
    version: int


@dataclass(frozen=True, slots=True)
class Retracted:
    """The bids this retraction took back (empty for a repeat), and the leader after it."""

    command: RetractBid
    version: int
    bid_ids: tuple[uuid.UUID, ...]


def _ended(state: Auction, at: datetime) -> Refusal | None:
    if state.cancelled_at is not None:
        return Refusal.AUCTION_CANCELLED
    if state.closed_at is not None or at >= state.end_date:
        return Refusal.AUCTION_ENDED
    return None


def decide_cancel(state: Auction, cancel: CancelAuction) -> Steps:
    if state.seller_id != cancel.seller_id:
        return refuse(state, cancel, Refusal.NOT_THE_SELLER)
    if state.cancelled_at is not None:
        return [(state, Cancelled(cancel, state.version))]
    reason = _ended(state, cancel.at)
    if reason is None and state.highest_bidder_id and state.end_date - cancel.at <= cancel.min_remaining:
        reason = Refusal.CANCEL_TOO_LATE
    if reason is not None:
        return refuse(state, cancel, reason)
    after = replace(state, version=state.version + 1, cancelled_at=cancel.at, cancel_reason=cancel.reason)
    return [(after, Cancelled(cancel, after.version))]


def retractable(history: Sequence[BidOutcome], bidder_id: str) -> list[BidOutcome]:
    """The bidder's own bids that still stand in the history (proxy answers are not theirs to
    take back: they go with the maximum they answered for)."""
    return [o for o in history if o.bidder_id == bidder_id and o.kind is BidKind.MANUAL and not o.retracted]


def decide_retract(state: Auction, retract: RetractBid, history: Sequence[BidOutcome]) -> Steps:
    target = next((o for o in history if o.bid_id == retract.bid_id and o.kind is BidKind.MANUAL), None)
    if target is None or target.bidder_id != retract.bidder_id:
        return refuse(state, retract, Refusal.NOT_YOUR_BID)
    if target.retracted:
        return [(state, Retracted(retract, state.version, ()))]
    reason = _ended(state, retract.at)
    if reason is not None:
        return refuse(state, retract, reason)
    if state.end_date - retract.at > retract.min_remaining:
        taken: tuple[uuid.UUID, ...] = (target.bid_id,)
    elif retract.at - target.placed_at < retract.recent:
        taken = tuple(o.bid_id for o in retractable(history, retract.bidder_id))
    else:
        return refuse(state, retract, Refusal.RETRACT_TOO_LATE)
    remaining = [replace(o, retracted=True) if o.bid_id in taken else o for o in history]
    replayed, standing = replay(state, remaining)
    leader = standing[0] if standing else None
    after = replace(
        state,
        version=state.version + 1,
        highest_bid=replayed.highest_bid,
        highest_bidder_id=replayed.highest_bidder_id,
        # The leader's own bid (the replay's proxy answers are not in the history).
        highest_bid_id=leader.bid_id if leader is not None and replayed.highest_bidder_id else None,
        leader_max=replayed.leader_max,
    )
    return [(after, Retracted(retract, after.version, taken))]
