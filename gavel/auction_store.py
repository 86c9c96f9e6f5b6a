"""The auctions as Cassandra holds them: the auction partition and the tables that index it.

Every service that reads an auction reads it here. The partition is the source of truth;
the index tables (by end hour, by seller) are written so that a crash between writes leaves
at worst a stale hint, which readers check against the partition and skip.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cassandra import ConsistencyLevel, OperationTimedOut, WriteTimeout
from cassandra.cluster import Session
from cassandra.query import UNSET_VALUE, BatchStatement, BatchType, BoundStatement

from gavel import cql
from gavel.clock import from_cassandra
from gavel.domain.auction import (
    DEFAULT_MAX_OFFERS,
    DEFAULT_PAYMENT_WINDOW,
    Auction,
    IncrementStep,
    Item,
    Sale,
    SaleStatus,
    SoftClose,
)

END_HOURS_SCOPE = "auctions"
#: The hour buckets of sale deadlines, in the same table as the end hours.
DEADLINE_HOURS_SCOPE = "sales"

AUCTION_COLUMNS = (
    "auction_id, seller_id, item_name, item_description, item_image_url, start_date, end_date,"
    " starting_price, currency, created_at, version, highest_bid, highest_bidder_id, highest_bid_id, bid_count,"
    " closed_at, cancelled_at, winner_id, reserve_price, buy_now_price, increments, soft_window_ms,"
    " soft_extension_ms, soft_hard_end, original_end_date, leader_max, payment_window_ms, max_offers,"
    " cancel_reason, sale_buyer_id, sale_price, sale_status, sale_pay_by, sale_offer, sale_paid_at,"
    " sale_paid_request_id, sale_passed, bidders"
)


#: Bounds of the index tables' clustering keys, for "from the start" / "from the end" reads.
MIN_ID = uuid.UUID(int=0)
MAX_ID = uuid.UUID(int=(1 << 128) - 1)
FAR_PAST = datetime(1970, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def end_hour(moment: datetime) -> int:
    """The bucket an end time falls in: whole hours since the epoch."""
    return int(moment.timestamp()) // 3600


def _soft_close(r: Any) -> SoftClose | None:
    if r.soft_hard_end is None:
        return None
    return SoftClose(
        window=timedelta(milliseconds=r.soft_window_ms),
        extension=timedelta(milliseconds=r.soft_extension_ms),
        hard_end=from_cassandra(r.soft_hard_end),
    )


def _sale(r: Any) -> Sale | None:
    if r.sale_status is None:
        return None
    return Sale(
        buyer_id=r.sale_buyer_id or "",
        price=r.sale_price or 0,
        status=SaleStatus(r.sale_status),
        pay_by=from_cassandra(r.sale_pay_by),
        offer=r.sale_offer or 0,
        paid_at=from_cassandra(r.sale_paid_at),
        paid_request_id=r.sale_paid_request_id or "",
        passed=tuple(r.sale_passed or ()),
    )


def sale_values(sale: Sale | None) -> tuple[Any, ...]:
    """The sale's columns (``SALE_COLUMNS``), as the worker's compare-and-set writes them."""
    if sale is None:
        return (UNSET_VALUE,) * len(SALE_COLUMNS)
    return (
        sale.buyer_id,
        sale.price,
        sale.status.value,
        sale.pay_by,  # null once unsold: the stored sale is the decided one, whole
        sale.offer,
        sale.paid_at,
        sale.paid_request_id,
        list(sale.passed),
    )


#: The sale's columns of the auction's partition, in ``sale_values``'s order.
SALE_COLUMNS = (
    "sale_buyer_id", "sale_price", "sale_status", "sale_pay_by", "sale_offer", "sale_paid_at",
    "sale_paid_request_id", "sale_passed",
)  # fmt: skip


def new_bidders(before: Auction, after: Auction) -> dict[str, int] | Any:
    """The ``bidders`` entries a decision adds (the compare-and-set appends them), or unset."""
    added = after.bidders[len(before.bidders) :]
    return {b: len(before.bidders) + i + 1 for i, b in enumerate(added)} if added else UNSET_VALUE


def _ms(value: timedelta) -> int:
    return int(value / timedelta(milliseconds=1))


def auction_from_row(r: Any) -> Auction:
    """From a named tuple of the driver's. Columns an older auction lacks read as 'none'."""
    return Auction(
        auction_id=r.auction_id,
        seller_id=r.seller_id,
        item=Item(name=r.item_name, description=r.item_description or "", image_url=r.item_image_url or ""),
        start_date=from_cassandra(r.start_date),
        end_date=from_cassandra(r.end_date),
        starting_price=r.starting_price,
        currency=r.currency,
        created_at=from_cassandra(r.created_at),
        version=r.version or 0,
        highest_bid=r.highest_bid or 0,
        highest_bidder_id=r.highest_bidder_id or "",
        highest_bid_id=r.highest_bid_id,
        bid_count=r.bid_count or 0,
        closed_at=from_cassandra(r.closed_at),
        cancelled_at=from_cassandra(r.cancelled_at),
        winner_id=r.winner_id or "",
        reserve_price=r.reserve_price or 0,
        buy_now_price=r.buy_now_price or 0,
        increments=tuple(IncrementStep(f, i) for f, i in r.increments or ()),
        soft_close=_soft_close(r),
        original_end_date=from_cassandra(r.original_end_date),
        # An auction from before the rules: its leader's maximum is the price they bid.
        leader_max=(r.highest_bid or 0) if r.leader_max is None else r.leader_max,
        cancel_reason=r.cancel_reason or "",
        # From before the sale: its terms are the defaults.
        payment_window=DEFAULT_PAYMENT_WINDOW
        if r.payment_window_ms is None
        else timedelta(milliseconds=r.payment_window_ms),
        max_offers=DEFAULT_MAX_OFFERS if r.max_offers is None else r.max_offers,
        sale=_sale(r),
        bidders=tuple(sorted(r.bidders or {}, key=(r.bidders or {}).__getitem__)),
    )


def _row(a: Auction) -> tuple[Any, ...]:
    """A new auction's values for the insert, as ``create`` and ``import_many`` write them."""
    soft = a.soft_close
    return (
        a.auction_id,
        a.seller_id,
        a.item.name,
        a.item.description,
        a.item.image_url,
        a.start_date,
        a.end_date,
        a.starting_price,
        a.currency,
        a.created_at,
        a.reserve_price,
        a.buy_now_price,
        cql.unset_if_none([(step.from_price, step.increment) for step in a.increments] or None),
        cql.unset_if_none(_ms(soft.window) if soft else None),
        cql.unset_if_none(_ms(soft.extension) if soft else None),
        cql.unset_if_none(soft.hard_end if soft else None),
        a.end_date,
        _ms(a.payment_window),
        a.max_offers,
    )


@dataclass(frozen=True, slots=True)
class EndEntry:
    end_date: datetime
    auction_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class DeadlineEntry:
    """An offer's ``pay_by``: when its deadline command is due."""

    pay_by: datetime
    auction_id: uuid.UUID
    offer: int


@dataclass(frozen=True, slots=True)
class SellerEntry:
    created_at: datetime
    auction_id: uuid.UUID


class AuctionStore:
    def __init__(self, session: Session) -> None:
        self._session = session
        p = session.prepare
        insert = (
            "INSERT INTO auctions (auction_id, seller_id, item_name, item_description, item_image_url,"
            " start_date, end_date, starting_price, currency, created_at, reserve_price, buy_now_price,"
            " increments, soft_window_ms, soft_extension_ms, soft_hard_end, original_end_date,"
            " payment_window_ms, max_offers, version, highest_bid, highest_bidder_id, bid_count, leader_max)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, '', 0, 0)"
        )
        self._insert = p(insert + " IF NOT EXISTS")
        self._import = p(insert)
        self._select = p(f"SELECT {AUCTION_COLUMNS} FROM auctions WHERE auction_id = ? LIMIT 1")
        self._insert_end_hour = p("INSERT INTO end_hours (scope, end_hour) VALUES (?, ?)")
        self._insert_by_end = p("INSERT INTO auctions_by_end_hour (end_hour, end_date, auction_id) VALUES (?, ?, ?)")
        self._insert_by_seller = p(
            "INSERT INTO auctions_by_seller (seller_id, created_at, auction_id) VALUES (?, ?, ?)"
        )
        self._hours_up = p("SELECT end_hour FROM end_hours WHERE scope = ? AND end_hour >= ? LIMIT ?")
        self._hours_down = p(
            "SELECT end_hour FROM end_hours WHERE scope = ? AND end_hour <= ? ORDER BY end_hour DESC LIMIT ?"
        )
        self._by_end_up = p(
            "SELECT end_date, auction_id FROM auctions_by_end_hour WHERE end_hour = ?"
            " AND (end_date, auction_id) > (?, ?) LIMIT ?"
        )
        self._by_end_down = p(
            "SELECT end_date, auction_id FROM auctions_by_end_hour WHERE end_hour = ?"
            " AND (end_date, auction_id) < (?, ?) ORDER BY end_date DESC, auction_id DESC LIMIT ?"
        )
        self._insert_deadline = p(
            "INSERT INTO sale_deadlines_by_hour (end_hour, pay_by, auction_id, offer) VALUES (?, ?, ?, ?)"
        )
        self._deadlines = p(
            "SELECT pay_by, auction_id, offer FROM sale_deadlines_by_hour WHERE end_hour = ?"
            " AND (pay_by, auction_id, offer) > (?, ?, ?) LIMIT ?"
        )
        self._unpaid = p("SELECT COUNT(*) AS n FROM unpaid_items WHERE buyer_id = ?")
        self._by_seller = p(
            "SELECT created_at, auction_id FROM auctions_by_seller WHERE seller_id = ?"
            " AND (created_at, auction_id) < (?, ?) LIMIT ?"
        )

    async def index_end(self, auction_id: uuid.UUID, end_date: datetime) -> None:
        """The end-hour hint of an end: written before the end is, so an auction is always
        findable by the closer at its end (a hint of an end that never was is skipped)."""
        hour = end_hour(end_date)
        await cql.execute(self._session, self._insert_end_hour, (END_HOURS_SCOPE, hour))
        await cql.execute(self._session, self._insert_by_end, (hour, end_date, auction_id))

    async def index_deadline(self, auction_id: uuid.UUID, offer: int, pay_by: datetime) -> None:
        """A sale offer's deadline hint, written before the offer is (as ``index_end``)."""
        hour = end_hour(pay_by)
        await cql.execute(self._session, self._insert_end_hour, (DEADLINE_HOURS_SCOPE, hour))
        await cql.execute(self._session, self._insert_deadline, (hour, pay_by, auction_id, offer))

    async def deadlines_in(self, hour: int, after: DeadlineEntry, limit: int) -> list[DeadlineEntry]:
        """Deadlines of one hour strictly after ``after``, soonest first."""
        rows = await cql.execute(
            self._session, self._deadlines, (hour, after.pay_by, after.auction_id, after.offer, limit)
        )
        return [DeadlineEntry(from_cassandra(r.pay_by), r.auction_id, r.offer) for r in rows.current_rows]

    async def unpaid_items(self, buyer_id: str) -> int:
        """Won items the buyer left unpaid, across auctions (written by the worker's deadlines)."""
        rows = (await cql.execute(self._session, self._unpaid, (buyer_id,))).current_rows
        return int(rows[0].n) if rows else 0

    async def create(self, auction: Auction) -> tuple[Auction, bool]:
        """Stores a new auction unless one with its id exists; returns the stored one and
        whether this call created it (False: an idempotent retry)."""
        a = auction
        await self.index_end(a.auction_id, a.end_date)
        try:
            result = await cql.execute(self._session, self._insert, _row(a), profile=cql.LWT_PROFILE)
            created = cql.applied(result)
        except (WriteTimeout, OperationTimedOut):
            created = None  # unknown: the compare-and-set may have been applied
        stored = await self.get(a.auction_id, serial=created is None)
        if stored is None:
            raise OperationTimedOut("auction create outcome unknown and not visible; retry with the same request_id")
        if created is None:
            created = stored.created_at == a.created_at and stored.seller_id == a.seller_id
        # Written from the stored values so a retry rewrites the same entry, never a second one.
        await cql.execute(
            self._session, self._insert_by_seller, (stored.seller_id, stored.created_at, stored.auction_id)
        )
        return stored, created

    async def import_many(self, auctions: list[Auction], *, in_flight: int = 16) -> None:
        """Bulk import of auctions known to be new (a migration from another platform, the
        scale bench's load): the very rows ``create`` writes (the auction's partition, its
        end-hour and seller index entries), but as plain writes in unlogged batches grouped
        by partition, without ``create``'s compare-and-set and read-back. Nothing guards
        against an id that already exists: its partition would be overwritten."""
        statements: list[list[tuple[Any, tuple[Any, ...]]]] = []
        for chunk in range(0, len(auctions), 25):  # several partitions: fine for a bulk load only
            statements.append([(self._import, _row(a)) for a in auctions[chunk : chunk + 25]])
        by_hour: dict[int, list[Auction]] = {}
        by_seller: dict[str, list[Auction]] = {}
        for a in auctions:
            by_hour.setdefault(end_hour(a.end_date), []).append(a)
            by_seller.setdefault(a.seller_id, []).append(a)
        statements.append([(self._insert_end_hour, (END_HOURS_SCOPE, hour)) for hour in by_hour])
        for hour, ending in by_hour.items():
            for chunk in range(0, len(ending), 100):
                statements.append(
                    [(self._insert_by_end, (hour, a.end_date, a.auction_id)) for a in ending[chunk : chunk + 100]]
                )
        for seller, theirs in by_seller.items():
            for chunk in range(0, len(theirs), 100):
                statements.append(
                    [
                        (self._insert_by_seller, (seller, a.created_at, a.auction_id))
                        for a in theirs[chunk : chunk + 100]
                    ]
                )
        limit = asyncio.Semaphore(in_flight)

        async def write(group: list[tuple[Any, tuple[Any, ...]]]) -> None:
            batch = BatchStatement(batch_type=BatchType.UNLOGGED)
            for statement, values in group:
                batch.add(statement, values)
            async with limit:
                await cql.execute(self._session, batch)

        await asyncio.gather(*(write(group) for group in statements))

    async def get(self, auction_id: uuid.UUID, *, serial: bool = False) -> Auction | None:
        statement: BoundStatement = self._select.bind((auction_id,))
        if serial:
            statement.consistency_level = ConsistencyLevel.LOCAL_SERIAL
        rows = (await cql.execute(self._session, statement)).current_rows
        if not rows or rows[0].seller_id is None:
            return None
        return auction_from_row(rows[0])

    async def get_many(self, auction_ids: list[uuid.UUID]) -> dict[uuid.UUID, Auction]:
        found = await asyncio.gather(*(self.get(i) for i in auction_ids))
        return {a.auction_id: a for a in found if a is not None}

    async def end_hours(self, start: int, *, ascending: bool, limit: int, scope: str = END_HOURS_SCOPE) -> list[int]:
        """Hours with entries from ``start`` on (or back): of ends, or of sale deadlines."""
        query = self._hours_up if ascending else self._hours_down
        rows = await cql.execute(self._session, query, (scope, start, limit))
        return [r.end_hour for r in rows.current_rows]

    async def ending_in(self, hour: int, after: EndEntry, *, ascending: bool, limit: int) -> list[EndEntry]:
        """Entries of one end hour strictly after (or, descending, before) ``after``."""
        query = self._by_end_up if ascending else self._by_end_down
        rows = await cql.execute(self._session, query, (hour, after.end_date, after.auction_id, limit))
        return [EndEntry(from_cassandra(r.end_date), r.auction_id) for r in rows.current_rows]

    async def by_seller(self, seller_id: str, before: SellerEntry, limit: int) -> list[SellerEntry]:
        rows = await cql.execute(
            self._session, self._by_seller, (seller_id, before.created_at, before.auction_id, limit)
        )
        return [SellerEntry(from_cassandra(r.created_at), r.auction_id) for r in rows.current_rows]
