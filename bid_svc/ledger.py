"""The Cassandra side of deciding bids: read an auction's state, write decisions by CAS.

A group of decisions is one conditional batch on the auction's partition: the static
columns are updated ``IF version = <the version they were decided from>`` and every bid row
is inserted ``IF NOT EXISTS``. So the batch applies only if nobody changed the auction since
it was read and none of the bids was decided before; a stale or duplicate worker loses the
race and re-reads, it never corrupts. LWTs go through the ``lwt`` profile (no blind driver
retries); an unknown outcome is reported as ``None`` for the caller to resolve by reading.

The rows' columns and their mapping to outcomes are ``bid_rows``'s; this module keeps the
statements and batches that write them, and ``recorded``, the read the decider makes after a
lost compare-and-set.
"""

from __future__ import annotations

import uuid

from cassandra import OperationTimedOut, WriteTimeout
from cassandra.cluster import Session
from cassandra.connection import ConnectionException
from cassandra.query import UNSET_VALUE, BatchStatement, BatchType

from bid_svc.bid_rows import (
    BID_COLUMNS,
    BIDDER_COLUMNS,
    bid_values,
    bidder_values,
    outcome_from_row,
    placeholders,
)
from gavel import cql
from gavel.auction_store import SALE_COLUMNS, AuctionStore, new_bidders, sale_values
from gavel.cql import unset_if_none
from gavel.domain.auction import Auction
from gavel.domain.bidding import BidOutcome, Outcome, proxy_bid_id
from gavel.domain.takeback import Retracted
from gavel.watchlist import WatchlistStore


class Ledger:
    def __init__(self, session: Session, auctions: AuctionStore) -> None:
        self._session = session
        self._auctions = auctions
        self._watchlists = WatchlistStore(session)
        p = session.prepare
        self._recorded = p(f"SELECT {BID_COLUMNS} FROM auctions WHERE auction_id = ? AND bid_id IN ?")
        self._cas_state = p(
            "UPDATE auctions SET version = ?, highest_bid = ?, highest_bidder_id = ?, highest_bid_id = ?,"
            " bid_count = ?, closed_at = ?, winner_id = ?, leader_max = ?, end_date = ?, cancelled_at = ?,"
            f" cancel_reason = ?, {', '.join(f'{c} = ?' for c in SALE_COLUMNS)}, bidders = bidders + ?, notices = ?"
            " WHERE auction_id = ? IF version = ?"
        )
        self._outbox = p("SELECT notices FROM auctions WHERE auction_id = ? LIMIT 1")
        self._retract = p("UPDATE auctions SET retracted = true WHERE auction_id = ? AND bid_id = ?")
        self._bids = p(f"SELECT {BID_COLUMNS} FROM auctions WHERE auction_id = ?")
        self._retraction = p(
            "INSERT INTO retractions (auction_id, version, bidder_id, bid_ids, reason, retracted_at)"
            " VALUES (?, ?, ?, ?, ?, ?)"
        )
        self._unpaid = p("INSERT INTO unpaid_items (buyer_id, auction_id, won_at) VALUES (?, ?, ?)")
        self._insert_bid = p(
            f"INSERT INTO auctions (auction_id, {BID_COLUMNS}) VALUES ({placeholders(BID_COLUMNS)}) IF NOT EXISTS"
        )
        self._by_auction = p(
            f"INSERT INTO bids_by_auction (auction_id, {BID_COLUMNS}) VALUES ({placeholders(BID_COLUMNS)})"
        )
        self._by_bidder = p(
            f"INSERT INTO bids_by_bidder (bidder_id, {BIDDER_COLUMNS}) VALUES ({placeholders(BIDDER_COLUMNS)})"
        )

    async def load(self, auction_id: uuid.UUID, *, serial: bool = False) -> Auction | None:
        """``serial``: a Paxos read, which also finishes any compare-and-set left half-done by
        a dead worker. Without it, a QUORUM read: cheaper, and if stale the CAS says so."""
        return await self._auctions.get(auction_id, serial=serial)

    async def recorded(self, auction_id: uuid.UUID, bid_ids: list[uuid.UUID]) -> dict[uuid.UUID, BidOutcome]:
        """The rows already decided for these bids, and the proxy bids that answered them
        (written in the same compare-and-set, so their history rows are rewritten too)."""
        if not bid_ids:
            return {}
        ids = bid_ids + [proxy_bid_id(b) for b in bid_ids]
        rows = (await cql.execute(self._session, self._recorded, (auction_id, ids))).current_rows
        return {r.bid_id: outcome_from_row(auction_id, r) for r in rows if r.bid_id is not None and r.seq is not None}

    async def history(self, auction_id: uuid.UUID) -> list[BidOutcome]:
        """Every decided bid of the auction, from its partition (what a retraction or the next
        bidder is decided from); the static row of an auction without bids is no bid."""
        rows = await cql.execute_all(self._session, self._bids, (auction_id,))
        return [outcome_from_row(auction_id, r) for r in rows if r.bid_id is not None]

    async def commit(
        self, before: Auction, after: Auction, outcomes: list[Outcome], outbox: bytes = b""
    ) -> bool | None:
        """True: applied. False: lost the race (re-read). None: unknown (resolve by reading).
        ``outbox``: the notifications the decision caused, kept with it (``outbox``).

        An end moved by soft close, and a sale's new deadline, are indexed first (a
        conditional batch cannot span partitions): the closer finds the auction at its new end
        or deadline, never by a scan, and the hint of one the compare-and-set then refused is
        skipped by its readers (a deadline of an offer that is not the sale's is a no-op)."""
        moved = after.end_date != before.end_date
        if moved:
            await self._auctions.index_end(after.auction_id, after.end_date)
        sale = after.sale
        if sale is not None and sale.pay_by is not None and (before.sale is None or before.sale.pay_by != sale.pay_by):
            await self._auctions.index_deadline(after.auction_id, sale.offer, sale.pay_by)
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        batch.add(
            self._cas_state,
            (
                after.version,
                after.highest_bid,
                after.highest_bidder_id,
                unset_if_none(after.highest_bid_id),
                after.bid_count,
                unset_if_none(after.closed_at),
                after.winner_id or UNSET_VALUE,
                after.leader_max,
                after.end_date if moved else UNSET_VALUE,
                unset_if_none(after.cancelled_at),
                after.cancel_reason or UNSET_VALUE,
                *sale_values(after.sale if after.sale != before.sale else None),
                new_bidders(before, after),
                outbox,
                after.auction_id,
                before.version,
            ),
        )
        for outcome in outcomes:
            if isinstance(outcome, BidOutcome):
                batch.add(self._insert_bid, bid_values(outcome))
            elif isinstance(outcome, Retracted):
                for bid_id in outcome.bid_ids:
                    batch.add(self._retract, (after.auction_id, bid_id))
        try:
            result = await cql.execute(self._session, batch, profile=cql.LWT_PROFILE)
        except (WriteTimeout, OperationTimedOut, ConnectionException):
            # The connection died with the batch in flight (a node killed): it may have applied.
            return None
        return cql.applied(result)

    async def outbox(self, auction_id: uuid.UUID) -> bytes:
        """The notifications of the auction's last decision (read after a lost compare-and-set,
        whose SERIAL read settled any half-done one first)."""
        rows = (await cql.execute(self._session, self._outbox, (auction_id,))).current_rows
        return (rows[0].notices or b"") if rows else b""

    async def watchers(self, auction_id: uuid.UUID) -> list[str]:
        """Who watches the auction: read only when a decision tells them something."""
        return await self._watchlists.watchers(auction_id)

    async def record(self, auction_id: uuid.UUID, outcomes: list[Outcome]) -> None:
        """What the history tables do not hold: each retraction as decided. Idempotent (keyed
        by version), like the history rows."""
        for o in outcomes:
            if isinstance(o, Retracted) and o.bid_ids:
                c = o.command
                values = (auction_id, o.version, c.bidder_id, list(o.bid_ids), c.reason, c.at)
                await cql.execute(self._session, self._retraction, values)

    async def record_unpaid(self, auction: Auction) -> None:
        """The winner who let their window pass, counted against them: derived from the sale
        (its first passed buyer, once it has moved on from the winner), so a deadline
        redelivered after a crash writes the same row again rather than missing it."""
        sale = auction.sale
        if sale is not None and sale.passed:  # the winner is passed over only unpaid
            await cql.execute(self._session, self._unpaid, (sale.passed[0], auction.auction_id, auction.closed_at))

    async def write_read_models(self, outcomes: list[BidOutcome]) -> None:
        """The history tables; idempotent, so a redelivered command simply writes them again.
        One unlogged batch per group, not one request per row or per table: each request
        costs the worker more CPU in the driver than the write costs Cassandra. It spans the
        auction's history partition and the group's bidders (a few dozen at most)."""
        if not outcomes:
            return
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        for o in outcomes:
            batch.add(self._by_auction, bid_values(o))
            batch.add(self._by_bidder, bidder_values(o))
        await cql.execute(self._session, batch)
