"""A client that cancels WatchAuction is normal: the stream ends without an ERROR line.

The case that used to log one: watchers that stop reading (so the server's sends back up)
and then cancel while the stream is suspended between two events.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.messages import timestamp
from gavel.settings import Settings
from tests.integration.bidding import bearer, bid_stub, new_bidders
from tests.service_logs import ServiceLogs

WATCHERS = 5
BIDS = 40
#: A small fixed receive window (no BDP probing, which would grow it to megabytes): unread
#: events back up within a few bids, and the server's sends wait on the client.
SMALL_WINDOW = [("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 8192)]


async def open_watchers(settings: Settings) -> float:
    """The stream service's open-watcher gauge."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{settings.stream_metrics_port}/metrics")).text
    return float(re.search(r"^gavel_stream_watchers (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]


async def until_watchers(settings: Settings, count: float, timeout: float = 30) -> None:
    async def reached() -> None:
        while await open_watchers(settings) != count:  # noqa: ASYNC110  (a metric: no event to await)
            await asyncio.sleep(0.05)  # polling a condition, with a deadline

    await asyncio.wait_for(reached(), timeout)


async def big_auction(settings: Settings, token: str) -> pb.Auction:
    """An auction whose events are big (about 5 kB): a few unread ones fill the window."""
    end = datetime.now(UTC) + timedelta(hours=1)
    request = pb.CreateAuctionRequest(
        item=pb.Item(name="Big lot", description="x" * 5000), end_date=timestamp(end), starting_price=10
    )
    async with grpc.aio.insecure_channel(settings.target("auction")) as channel:
        return await pb_grpc.AuctionServiceStub(channel).CreateAuction(request, metadata=bearer(token))


async def test_cancelled_streams_leave_no_error_line(stack: object, settings: Settings, token_for) -> None:
    logs = ServiceLogs(settings)
    baseline = await open_watchers(settings)
    lot = await big_auction(settings, token_for("seller-cancel"))
    alice, bob = (token_for(b) for b in new_bidders(2))
    async with grpc.aio.insecure_channel(settings.target("stream"), options=SMALL_WINDOW) as channel:
        stub = pb_grpc.StreamServiceStub(channel)
        calls = [stub.WatchAuction(pb.WatchAuctionRequest(auction_id=lot.auction_id)) for _ in range(WATCHERS)]
        for call in calls:
            await call.read()  # the snapshot: every stream is open; none is read again
        await until_watchers(settings, baseline + WATCHERS)
        async with bid_stub(settings) as bids:
            for n in range(BIDS):
                await bids.PlaceBid(
                    pb.PlaceBidRequest(auction_id=lot.auction_id, amount=100 + n, request_id=uuid.uuid4().hex),
                    metadata=bearer(alice if n % 2 else bob),
                )
        for call in calls:
            call.cancel()
        await until_watchers(settings, baseline)
        # One more round trip to the stream service: anything the cancels logged is written.
        await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    for call in calls:
        assert call.cancelled()
    assert logs.errors() == []
