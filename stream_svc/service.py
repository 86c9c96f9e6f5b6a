"""The StreamService servicer: WatchAuction over the process's shared fan-out hub."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import grpc

from gavel import bus, cql
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.auction_store import AuctionStore
from gavel.clock import Clock, utcnow
from gavel.errors import NotFound
from gavel.messages import auction_to_pb, parse_id
from gavel.settings import Settings
from stream_svc.fanout import Hub, Snapshot

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["StreamService"].full_name
HEARTBEAT = pb.AuctionEvent(heartbeat=True)


def is_final(auction: pb.Auction) -> bool:
    """Nothing about the auction can change any more: closed with its winner, or cancelled."""
    return auction.HasField("closed_at") or auction.status == pb.AUCTION_STATUS_CANCELLED


def snapshots(store: AuctionStore, clock: Clock = utcnow) -> Snapshot:
    """The current state of an auction as an event, read from Cassandra."""

    async def read(auction_id: uuid.UUID) -> pb.AuctionEvent | None:
        auction = await store.get(auction_id)
        return None if auction is None else pb.AuctionEvent(auction=auction_to_pb(auction, clock()))

    return read


class StreamService(pb_grpc.StreamServiceServicer):
    def __init__(self, hub: Hub, snapshot: Snapshot, heartbeat_interval: float) -> None:
        self._hub = hub
        self._snapshot = snapshot
        self._heartbeat_interval = heartbeat_interval

    async def WatchAuction(
        self, request: pb.WatchAuctionRequest, context: grpc.aio.ServicerContext[pb.WatchAuctionRequest, pb.AuctionEvent]
    ) -> AsyncIterator[pb.AuctionEvent]:
        auction_id = parse_id(request.auction_id, "auction_id")
        # Subscribed first, read second: a change between the two arrives as an event, and
        # the mailbox keeps whichever of the two is newer.
        async with self._hub.watch(auction_id) as mailbox:
            current = await self._snapshot(auction_id)
            if current is None:
                raise NotFound(f"auction {auction_id} not found")
            mailbox.offer(current)
            while True:
                event = await mailbox.take(self._heartbeat_interval)
                if event is None:
                    yield HEARTBEAT
                    continue
                yield event
                if is_final(event.auction):
                    return


async def setup(server: grpc.aio.Server, resources: contextlib.AsyncExitStack, settings: Settings) -> None:
    session = cql.connect(settings, settings.cassandra_keyspace)
    resources.callback(session.cluster.shutdown)
    snapshot = snapshots(AuctionStore(session))
    hubs: list[Hub] = []  # the hub needs the connection, whose reconnect callback needs the hub

    async def on_reconnect() -> None:
        for hub in hubs:
            await hub.refresh_all()

    nc = await bus.connect(settings, "stream_svc", on_reconnect=on_reconnect)
    resources.push_async_callback(nc.drain)
    hubs.append(Hub(nc, snapshot, settings.stream_refresh_interval))
    service = StreamService(hubs[0], snapshot, settings.stream_heartbeat_interval)
    pb_grpc.add_StreamServiceServicer_to_server(service, server)
