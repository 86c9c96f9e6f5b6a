"""Watchlists: which auctions each user watches, and who watches each auction.

Two tables written together (a logged batch, ``0007_watchlist.cql``): ``watchlist`` by user,
for ListWatchlist, and ``watchers`` by auction, which the worker reads when it has something
to tell an auction's watchers (it ends soon, it ended, it was cancelled). A watchlist is
bounded (``watchlist_max``), so listing reads the user's partition whole and orders it by end.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType

from gavel import cql
from gavel.clock import from_cassandra
from gavel.paging import PageTokens, cursor_time, cursor_uuid, time_value


@dataclass(frozen=True, slots=True, order=True)
class Watched:
    end_date: datetime
    auction_id: uuid.UUID


class WatchlistStore:
    def __init__(self, session: Session) -> None:
        self._session = session
        p = session.prepare
        self._entries = p("SELECT auction_id, end_date FROM watchlist WHERE user_id = ?")
        self._watchers = p("SELECT user_id FROM watchers WHERE auction_id = ?")
        self._add_entry = p("INSERT INTO watchlist (user_id, auction_id, end_date, added_at) VALUES (?, ?, ?, ?)")
        self._add_watcher = p("INSERT INTO watchers (auction_id, user_id) VALUES (?, ?)")
        self._remove_entry = p("DELETE FROM watchlist WHERE user_id = ? AND auction_id = ?")
        self._remove_watcher = p("DELETE FROM watchers WHERE auction_id = ? AND user_id = ?")

    async def entries(self, user_id: str) -> list[Watched]:
        """The user's whole watchlist, ending soonest first."""
        rows = await cql.execute_all(self._session, self._entries, (user_id,))
        return sorted(Watched(from_cassandra(r.end_date), r.auction_id) for r in rows)

    async def add(self, user_id: str, auction_id: uuid.UUID, end_date: datetime, at: datetime) -> None:
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        batch.add(self._add_entry, (user_id, auction_id, end_date, at))
        batch.add(self._add_watcher, (auction_id, user_id))
        await cql.execute(self._session, batch)

    async def remove(self, user_id: str, auction_id: uuid.UUID) -> None:
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        batch.add(self._remove_entry, (user_id, auction_id))
        batch.add(self._remove_watcher, (auction_id, user_id))
        await cql.execute(self._session, batch)

    async def watchers(self, auction_id: uuid.UUID) -> list[str]:
        """Everyone watching the auction."""
        return [r.user_id for r in await cql.execute_all(self._session, self._watchers, (auction_id,))]


def page_of(entries: list[Watched], size: int, token: str, tokens: PageTokens) -> tuple[list[Watched], str]:
    """One page of a sorted watchlist after the token's position, and the next page's token."""
    if token:
        cursor = tokens.decode(token)
        start = Watched(cursor_time(cursor, "end"), cursor_uuid(cursor, "id"))
        entries = [e for e in entries if e > start]
    found = entries[:size]
    if len(entries) <= size:
        return found, ""
    last = found[-1]
    return found, tokens.encode({"end": time_value(last.end_date), "id": str(last.auction_id)})
