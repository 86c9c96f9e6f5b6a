"""``python -m stream_svc``: StreamService on GAVEL_STREAM_PORT, one fan-out hub per process.

Stateless apart from its subscriptions: any replica serves any watcher, and a reconnect to
NATS re-reads every watched auction so no watcher is left on a stale state.
"""

from __future__ import annotations

import contextlib

import grpc

from gavel import bus, cql, services
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.auction_store import AuctionStore
from gavel.paging import PageTokens
from gavel.server import ServiceSpec, run
from gavel.settings import Settings
from stream_svc import service
from stream_svc.fanout import Hub
from stream_svc.inbox import Inbox
from stream_svc.quota import WatchQuota

SERVICE = services.STREAM


async def setup(server: grpc.aio.Server, resources: contextlib.AsyncExitStack, settings: Settings) -> None:
    session = cql.connect(settings, settings.cassandra_keyspace)
    resources.callback(session.cluster.shutdown)
    snapshot = service.snapshots(AuctionStore(session))
    hubs: list[Hub] = []  # the hub needs the connection, whose reconnect callback needs the hub

    async def on_reconnect() -> None:
        for hub in hubs:
            await hub.refresh_all()

    nc = await bus.connect(settings, SERVICE.module, on_reconnect=on_reconnect)
    resources.push_async_callback(nc.drain)
    hubs.append(Hub(nc, snapshot, settings.stream_refresh_interval))
    js = nc.jetstream()
    await bus.ensure_streams(js, settings)
    tokens = PageTokens(settings.secret("page_token_secret"), f"{service.SERVICE_NAME}/ListMyNotifications")
    inbox = Inbox(js, tokens, settings.stream_heartbeat_interval)

    quota = WatchQuota(settings.stream_max_watches_per_user, settings.stream_max_watches_per_address)
    servicer = service.StreamService(hubs[0], snapshot, settings.stream_heartbeat_interval, quota, inbox)
    pb_grpc.add_StreamServiceServicer_to_server(servicer, server)


SPEC = ServiceSpec(
    name=SERVICE.module,
    port=SERVICE.port,
    metrics_port=SERVICE.metrics_port,
    service_names=SERVICE.proto_services,
    authenticated_methods=service.AUTHENTICATED_METHODS,
    setup=setup,
)

if __name__ == "__main__":
    run(SPEC)
