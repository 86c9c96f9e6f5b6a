"""A decided bid's rows, in one place: their columns and the mapping both ways.

A bid lives in three tables: the auction's partition (``auctions``, the truth the
compare-and-set writes), the auction's history (``bids_by_auction``, by decision order) and
the bidder's (``bids_by_bidder``, by time). The first two hold the same columns; the
bidder's is keyed by bidder and has no ``prev_bid_id``. The column lists below are the only
ones: every SELECT and INSERT of a bid row names them, and the value tuples are built here in
the same order, so a column added to a table is added once. The writes stay with ``Ledger``
(the compare-and-set and the history batch); the reads with ``BidStore`` and
``Ledger.recorded``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

from cassandra.query import UNSET_VALUE

from gavel.clock import from_cassandra
from gavel.cql import unset_if_none
from gavel.domain.bidding import BidKind, BidOutcome, RejectReason

#: A bid's columns in ``auctions`` and ``bids_by_auction`` (after the ``auction_id`` key).
BID_COLUMNS = (
    "bid_id, bidder_id, amount, placed_at, accepted, reject_reason, seq, highest_after, prev_bid_id, kind, max_amount,"
    " retracted, bidder_alias"
)
#: A bid's columns in ``bids_by_bidder`` (after the ``bidder_id`` key).
BIDDER_COLUMNS = (
    "placed_at, bid_id, auction_id, amount, accepted, reject_reason, seq, highest_after, kind, max_amount, retracted,"
    " bidder_alias"
)


def placeholders(columns: str) -> str:
    """``?, ?, ...``: one per column, plus one for the key that precedes them."""
    return ", ".join("?" * (columns.count(",") + 2))


class _Decided(Protocol):
    """The columns every bid row has: the decision and the auction right after it."""

    @property
    def bid_id(self) -> uuid.UUID: ...
    @property
    def amount(self) -> int: ...
    @property
    def placed_at(self) -> datetime: ...
    @property
    def accepted(self) -> bool: ...
    @property
    def reject_reason(self) -> str | None: ...
    @property
    def seq(self) -> int: ...
    @property
    def highest_after(self) -> int: ...
    @property
    def kind(self) -> str | None: ...
    @property
    def max_amount(self) -> int | None: ...
    @property
    def retracted(self) -> bool | None: ...
    @property
    def bidder_alias(self) -> int | None: ...


class BidRow(_Decided, Protocol):
    """A row of ``BID_COLUMNS`` as the driver returns it (a named tuple)."""

    @property
    def bidder_id(self) -> str: ...
    @property
    def prev_bid_id(self) -> uuid.UUID | None: ...


class BidderRow(_Decided, Protocol):
    """A row of ``BIDDER_COLUMNS``."""

    @property
    def auction_id(self) -> uuid.UUID: ...


def _reason(outcome: BidOutcome) -> str | None:
    return outcome.reason.value if outcome.reason else None


def _outcome(row: _Decided, auction_id: uuid.UUID, bidder_id: str, prev_bid_id: uuid.UUID | None) -> BidOutcome:
    return BidOutcome(
        bid_id=row.bid_id,
        auction_id=auction_id,
        bidder_id=bidder_id,
        # Rows from before the auction rules have neither: a manual bid of that amount.
        kind=BidKind(row.kind) if row.kind else BidKind.MANUAL,
        amount=row.amount,
        max_amount=row.amount if row.max_amount is None else row.max_amount,
        placed_at=from_cassandra(row.placed_at),
        accepted=row.accepted,
        reason=RejectReason(row.reject_reason) if row.reject_reason else None,
        version=row.seq,
        highest_bid=row.highest_after,
        prev_bid_id=prev_bid_id,
        retracted=bool(row.retracted),
        alias=row.bidder_alias or 0,
    )


def outcome_from_row(auction_id: uuid.UUID, row: BidRow) -> BidOutcome:
    return _outcome(row, auction_id, row.bidder_id, row.prev_bid_id)


def outcome_from_bidder_row(bidder_id: str, row: BidderRow) -> BidOutcome:
    """The bidder's history does not keep the displaced leader: ``prev_bid_id`` is None."""
    return _outcome(row, row.auction_id, bidder_id, None)


def _retracted(outcome: BidOutcome) -> Any:
    """Only a retracted row carries the column: a bid's rows cost what they did before."""
    return True if outcome.retracted else UNSET_VALUE


def bid_values(outcome: BidOutcome) -> tuple[Any, ...]:
    """``(auction_id, *BID_COLUMNS)`` of a decided bid."""
    o = outcome
    return (
        o.auction_id,
        o.bid_id,
        o.bidder_id,
        o.amount,
        o.placed_at,
        o.accepted,
        _reason(o),
        o.version,
        o.highest_bid,
        unset_if_none(o.prev_bid_id),
        o.kind.value,
        o.max_amount,
        _retracted(o),
        o.alias,
    )


def bidder_values(outcome: BidOutcome) -> tuple[Any, ...]:
    """``(bidder_id, *BIDDER_COLUMNS)`` of a decided bid."""
    o = outcome
    return (
        o.bidder_id,
        o.placed_at,
        o.bid_id,
        o.auction_id,
        o.amount,
        o.accepted,
        _reason(o),
        o.version,
        o.highest_bid,
        o.kind.value,
        o.max_amount,
        _retracted(o),
        o.alias,
    )
