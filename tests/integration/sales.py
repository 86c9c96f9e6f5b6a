"""Helpers for tests of what follows the gavel: sale calls, a watch of the sale's changes."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import grpc
from cassandra.cluster import Session

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.clock import from_cassandra
from gavel.messages import duration
from gavel.settings import Settings
from tests.integration.bidding import EventWatch, bearer, bid_stub, create_auction, place


async def auction_call(settings: Settings, method: str, request: object, token: str) -> object:
    async with grpc.aio.insecure_channel(settings.target("auction")) as channel:
        return await getattr(pb_grpc.AuctionServiceStub(channel), method)(request, metadata=bearer(token))


async def get_sale(settings: Settings, auction_id: str, token: str) -> pb.Sale:
    sale = await auction_call(settings, "GetSale", pb.GetSaleRequest(auction_id=auction_id), token)
    assert isinstance(sale, pb.Sale)
    return sale


async def pay(settings: Settings, auction_id: str, token: str, request_id: str = "") -> pb.Sale:
    request = pb.PaySaleRequest(auction_id=auction_id, request_id=request_id or uuid.uuid4().hex)
    sale = await auction_call(settings, "PaySale", request, token)
    assert isinstance(sale, pb.Sale)
    return sale


async def lot_with_window(settings: Settings, token: str, *, window_s: float, ends_in_s: float) -> pb.Auction:
    return await create_auction(
        settings, token, ends_in=timedelta(seconds=ends_in_s), payment_window=duration(timedelta(seconds=window_s))
    )


async def bid_maxima(settings: Settings, tokens: dict[str, str], lot: str, maxima: dict[str, int]) -> None:
    """Each bidder of ``maxima`` bids their maximum, in that order: each accepted or outbid."""
    async with bid_stub(settings) as stub:
        for bidder, amount in maxima.items():
            bid = await place(stub, tokens[bidder], lot, amount)
            assert bid.status == pb.BID_STATUS_ACCEPTED or bid.reject_reason == pb.BID_REJECT_REASON_OUTBID, bid


async def until_walked_past(session: Session, name: str, moment: datetime, timeout: float = 60) -> None:
    """Until the closer's recorded progress (``name``) passes ``moment``: everything due by
    then is in the log. The closer announces no progress, so it is read until it does."""
    give_up = time.monotonic() + timeout
    while True:
        row = session.execute("SELECT done_until FROM closer_progress WHERE name = %s", (name,)).one()
        if row is not None and from_cassandra(row.done_until) >= moment:
            return
        assert time.monotonic() < give_up, f"the closer's {name} did not pass {moment} in {timeout} s"
        await asyncio.sleep(0.2)  # a poll of stored progress: there is no event to await


def sale_moves(watch: EventWatch) -> list[tuple[int, int, int]]:
    """Each change of the sale the auction's events carried, in order: (status, offer, price),
    one entry per change (a repeated event of the same version is one)."""
    seen: list[tuple[int, int, int]] = []
    versions: set[int] = set()
    for e in watch.events:
        a = e.auction
        if a.HasField("sale") and a.version not in versions:
            versions.add(a.version)
            move = (a.sale.status, a.sale.offer, a.sale.price)
            if not seen or seen[-1] != move:
                seen.append(move)
    return seen


async def until_past(moment: datetime) -> None:
    """Waits for the clock itself (a time rule's condition), not for a side effect."""
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))
