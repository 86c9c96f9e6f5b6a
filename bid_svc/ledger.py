"""The Cassandra side of deciding bids: read an auction's state, write decisions by CAS.

A group of decisions is one conditional batch on the auction's partition: the static
columns are updated ``IF version = <the version they were decided from>`` and every bid row
is inserted ``IF NOT EXISTS``. So the batch applies only if nobody changed the auction since
it was read and none of the bids was decided before; a stale or duplicate worker loses the
race and re-reads, it never corrupts. LWTs go through the ``lwt`` profile (no blind driver
retries); an unknown outcome is reported as ``None`` for the caller to resolve by reading.
"""

from __future__ import annotations

import uuid

from cassandra import OperationTimedOut, WriteTimeout
from cassandra.cluster import Session
from cassandra.query import UNSET_VALUE, BatchStatement, BatchType

from gavel import cql
from gavel.clock import from_cassandra
from gavel.auction_store import AuctionStore
from gavel.domain.auction import Auction
from gavel.domain.bidding import BidOutcome, Outcome, PlaceBid, RejectReason

_BID_COLUMNS = "bid_id, bidder_id, amount, placed_at, accepted, reject_reason, seq, highest_after, prev_bid_id"


def _unset_if_none(value: object) -> object:
    return UNSET_VALUE if value is None else value


def outcome_from_row(auction_id: uuid.UUID, row: object) -> BidOutcome:
    r = row
    return BidOutcome(
        bid=PlaceBid(r.bid_id, auction_id, r.bidder_id, r.amount, from_cassandra(r.placed_at)),
        accepted=r.accepted,
        reason=RejectReason(r.reject_reason) if r.reject_reason else None,
        version=r.seq,
        highest_bid=r.highest_after,
        prev_bid_id=r.prev_bid_id,
    )


class Ledger:
    def __init__(self, session: Session, auctions: AuctionStore) -> None:
        self._session = session
        self._auctions = auctions
        p = session.prepare
        self._recorded = p(f"SELECT {_BID_COLUMNS} FROM auctions WHERE auction_id = ? AND bid_id IN ?")
        self._cas_state = p(
            "UPDATE auctions SET version = ?, highest_bid = ?, highest_bidder_id = ?, highest_bid_id = ?,"
            " bid_count = ?, closed_at = ?, winner_id = ? WHERE auction_id = ? IF version = ?"
        )
        self._insert_bid = p(
            f"INSERT INTO auctions (auction_id, {_BID_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
        )
        self._by_auction = p(
            "INSERT INTO bids_by_auction (auction_id, seq, bid_id, bidder_id, amount, placed_at, accepted,"
            " reject_reason, highest_after, prev_bid_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self._by_bidder = p(
            "INSERT INTO bids_by_bidder (bidder_id, placed_at, bid_id, auction_id, amount, accepted,"
            " reject_reason, seq, highest_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )

    async def load(self, auction_id: uuid.UUID, *, serial: bool = False) -> Auction | None:
        """``serial``: a Paxos read, which also finishes any compare-and-set left half-done by
        a dead worker. Without it, a QUORUM read: cheaper, and if stale the CAS says so."""
        return await self._auctions.get(auction_id, serial=serial)

    async def recorded(self, auction_id: uuid.UUID, bid_ids: list[uuid.UUID]) -> dict[uuid.UUID, BidOutcome]:
        if not bid_ids:
            return {}
        rows = (await cql.execute(self._session, self._recorded, (auction_id, bid_ids))).current_rows
        return {r.bid_id: outcome_from_row(auction_id, r) for r in rows if r.bid_id is not None and r.seq is not None}

    async def commit(self, before: Auction, after: Auction, outcomes: list[Outcome]) -> bool | None:
        """True: applied. False: lost the race (re-read). None: unknown (resolve by reading)."""
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        batch.add(
            self._cas_state,
            (
                after.version, after.highest_bid, after.highest_bidder_id, _unset_if_none(after.highest_bid_id),
                after.bid_count, _unset_if_none(after.closed_at), after.winner_id or UNSET_VALUE,
                after.auction_id, before.version,
            ),
        )
        for outcome in outcomes:
            if isinstance(outcome, BidOutcome):
                b = outcome.bid
                batch.add(
                    self._insert_bid,
                    (
                        b.auction_id, b.bid_id, b.bidder_id, b.amount, b.placed_at, outcome.accepted,
                        outcome.reason.value if outcome.reason else None, outcome.version, outcome.highest_bid,
                        _unset_if_none(outcome.prev_bid_id),
                    ),
                )
        try:
            result = await cql.execute(self._session, batch, profile=cql.LWT_PROFILE)
        except (WriteTimeout, OperationTimedOut):
            return None
        return cql.applied(result)

    async def write_read_models(self, outcomes: list[BidOutcome]) -> None:
        """The history tables; idempotent, so a redelivered command simply writes them again.
        One unlogged batch per group, not one request per row or per table: each request
        costs the worker more CPU in the driver than the write costs Cassandra. It spans the
        auction's history partition and the group's bidders (a few dozen at most)."""
        if not outcomes:
            return
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        for o in outcomes:
            b = o.bid
            reason = o.reason.value if o.reason else None
            batch.add(self._by_auction, (
                b.auction_id, o.version, b.bid_id, b.bidder_id, b.amount, b.placed_at, o.accepted, reason,
                o.highest_bid, _unset_if_none(o.prev_bid_id),
            ))
            batch.add(self._by_bidder, (
                b.bidder_id, b.placed_at, b.bid_id, b.auction_id, b.amount, o.accepted, reason, o.version,
                o.highest_bid,
            ))
        await cql.execute(self._session, batch)
