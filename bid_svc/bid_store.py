"""Reading decided bids: one bid from its auction's partition (the truth), histories from the
read models (an auction's by decision order, a bidder's by time). The columns and the mapping
of a row to an outcome are ``bid_rows``'s, shared with ``Ledger.recorded``."""

from __future__ import annotations

import uuid

from cassandra.cluster import Session

from bid_svc.bid_rows import BID_COLUMNS, BIDDER_COLUMNS, outcome_from_bidder_row, outcome_from_row
from gavel import cql
from gavel.auction_store import FAR_FUTURE, MAX_ID
from gavel.domain.bidding import BidOutcome
from gavel.paging import INT64_MAX, PageTokens, bad_token, cursor_int, cursor_time, cursor_uuid, time_value


class BidStore:
    def __init__(self, session: Session, page_token_secret: str) -> None:
        self._session = session
        # One purpose per listing: a ListBids token is refused by ListMyBids and vice versa.
        self._history_tokens = PageTokens(page_token_secret, "auction.v1.BidService/ListBids")
        self._mine_tokens = PageTokens(page_token_secret, "auction.v1.BidService/ListMyBids")
        p = session.prepare
        self._one = p(f"SELECT {BID_COLUMNS} FROM auctions WHERE auction_id = ? AND bid_id = ?")
        self._history = p(f"SELECT {BID_COLUMNS} FROM bids_by_auction WHERE auction_id = ? AND seq < ? LIMIT ?")
        self._mine = p(
            f"SELECT {BIDDER_COLUMNS} FROM bids_by_bidder WHERE bidder_id = ? AND (placed_at, bid_id) < (?, ?) LIMIT ?"
        )

    async def get(self, auction_id: uuid.UUID, bid_id: uuid.UUID) -> BidOutcome | None:
        rows = (await cql.execute(self._session, self._one, (auction_id, bid_id))).current_rows
        if not rows or rows[0].seq is None:
            return None
        return outcome_from_row(auction_id, rows[0])

    async def history(self, auction_id: uuid.UUID, token: str, limit: int) -> tuple[list[BidOutcome], str]:
        before = INT64_MAX
        if token:
            data = self._history_tokens.decode(token)
            if data.get("a") != str(auction_id):
                raise bad_token("was issued for another auction")
            before = cursor_int(data, "s", 0, INT64_MAX)
        rows = (await cql.execute(self._session, self._history, (auction_id, before, limit))).current_rows
        found = [outcome_from_row(auction_id, r) for r in rows]
        more = len(rows) == limit
        return found, self._history_tokens.encode({"a": str(auction_id), "s": found[-1].version}) if more else ""

    async def of_bidder(self, bidder_id: str, token: str, limit: int) -> tuple[list[BidOutcome], str]:
        at, last = FAR_FUTURE, MAX_ID
        if token:
            data = self._mine_tokens.decode(token)
            if data.get("b") != bidder_id:
                raise bad_token("was issued to another caller")
            at, last = cursor_time(data, "t"), cursor_uuid(data, "i")
        rows = (await cql.execute(self._session, self._mine, (bidder_id, at, last, limit))).current_rows
        found = [outcome_from_bidder_row(bidder_id, r) for r in rows]
        if len(rows) < limit:
            return found, ""
        tail = found[-1]
        return found, self._mine_tokens.encode({"b": bidder_id, "t": time_value(tail.placed_at), "i": str(tail.bid_id)})
