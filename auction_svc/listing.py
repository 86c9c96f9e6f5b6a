"""ListAuctions: pages over the index tables, never over the whole auctions table.

Without a seller, auctions come from the end-hour buckets: open and scheduled ones walking
forward from now (ending soonest first), ended ones walking back. With a seller, from the
seller's own partition, newest first. Each page reads at most ``MAX_SCAN`` index entries, so a
selective filter returns a short page with a token rather than an unbounded read.

Page tokens (gavel.paging) are signed, and bound to the filter they came with.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from gavel.auction_store import FAR_FUTURE, FAR_PAST, MAX_ID, MIN_ID, AuctionStore, EndEntry, SellerEntry, end_hour
from gavel.domain.auction import Auction, Status
from gavel.paging import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    PageTokens,
    bad_token,
    cursor_int,
    cursor_time,
    cursor_uuid,
    time_value,
)

MAX_SCAN = 1000
HOURS_PER_READ = 48
#: The end-hour buckets a cursor may name: those of the times a cursor may hold.
MIN_HOUR, MAX_HOUR = MIN_TIME_MS // 3_600_000, MAX_TIME_MS // 3_600_000


@dataclass(frozen=True)
class Query:
    status: Status | None  # None: open (no seller) or any status (with a seller)
    seller_id: str
    page_size: int

    @property
    def fingerprint(self) -> str:
        return f"{self.status.value if self.status else ''}|{self.seller_id}"


@dataclass(frozen=True)
class Cursor:
    hour: int  # end hour of the entry; unused for seller listings
    at: datetime
    auction_id: uuid.UUID

    def encode(self, query: Query, tokens: PageTokens) -> str:
        return tokens.encode(
            {"f": query.fingerprint, "h": self.hour, "t": time_value(self.at), "i": str(self.auction_id)}
        )

    @classmethod
    def decode(cls, token: str, query: Query, tokens: PageTokens) -> Cursor:
        data = tokens.decode(token)
        if data.get("f") != query.fingerprint:
            raise bad_token("was issued for a different filter")
        return cls(
            hour=cursor_int(data, "h", MIN_HOUR, MAX_HOUR),
            at=cursor_time(data, "t"),
            auction_id=cursor_uuid(data, "i"),
        )


def _wanted(query: Query, auction: Auction, now: datetime) -> bool:
    status = auction.status_at(now)
    if query.status is None:
        return bool(query.seller_id) or status is Status.OPEN
    return status is query.status


async def list_auctions(
    store: AuctionStore, query: Query, token: str, now: datetime, tokens: PageTokens
) -> tuple[list[Auction], str]:
    cursor = Cursor.decode(token, query, tokens) if token else None
    if query.seller_id:
        found, last = await _by_seller(store, query, cursor, now)
    else:
        found, last = await _by_end(store, query, cursor, now)
    return found, (last.encode(query, tokens) if last else "")


async def _by_seller(
    store: AuctionStore, query: Query, cursor: Cursor | None, now: datetime
) -> tuple[list[Auction], Cursor | None]:
    position = SellerEntry(cursor.at, cursor.auction_id) if cursor else SellerEntry(FAR_FUTURE, MAX_ID)
    found: list[Auction] = []
    scanned = 0
    while scanned < MAX_SCAN:
        entries = await store.by_seller(query.seller_id, position, query.page_size)
        if not entries:
            return found, None
        auctions = await store.get_many([e.auction_id for e in entries])
        for entry in entries:
            scanned += 1
            position = entry
            auction = auctions.get(entry.auction_id)
            if auction and _wanted(query, auction, now):
                found.append(auction)
                if len(found) == query.page_size:
                    return found, Cursor(0, entry.created_at, entry.auction_id)
        if len(entries) < query.page_size:
            return found, None
    return found, Cursor(0, position.created_at, position.auction_id)


async def _by_end(
    store: AuctionStore, query: Query, cursor: Cursor | None, now: datetime
) -> tuple[list[Auction], Cursor | None]:
    ascending = query.status in (None, Status.OPEN, Status.SCHEDULED)
    if cursor:
        hour, position = cursor.hour, EndEntry(cursor.at, cursor.auction_id)
    else:
        hour, position = end_hour(now), EndEntry(now, MIN_ID if ascending else MAX_ID)
    found: list[Auction] = []
    scanned = 0
    while True:
        hours = await store.end_hours(hour, ascending=ascending, limit=HOURS_PER_READ)
        for h in hours:
            if h != hour:
                hour = h
                position = EndEntry(FAR_PAST, MIN_ID) if ascending else EndEntry(FAR_FUTURE, MAX_ID)
            while True:
                if scanned >= MAX_SCAN:
                    return found, Cursor(hour, position.end_date, position.auction_id)
                entries = await store.ending_in(hour, position, ascending=ascending, limit=query.page_size)
                auctions = await store.get_many([e.auction_id for e in entries])
                for entry in entries:
                    scanned += 1
                    position = entry
                    auction = auctions.get(entry.auction_id)
                    # A stale hint (a retried create that changed end_date) is skipped.
                    if auction and auction.end_date == entry.end_date and _wanted(query, auction, now):
                        found.append(auction)
                        if len(found) == query.page_size:
                            return found, Cursor(hour, entry.end_date, entry.auction_id)
                if len(entries) < query.page_size:
                    break
        if len(hours) < HOURS_PER_READ:
            return found, None
        # Next batch of hours, past the last one read.
        hour = hours[-1] + (1 if ascending else -1)
        position = EndEntry(FAR_PAST, MIN_ID) if ascending else EndEntry(FAR_FUTURE, MAX_ID)
