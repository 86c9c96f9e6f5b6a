"""``python -m auction_svc``: AuctionService (and, in dev mode, DevAuthService) with the closer
beside it, on GAVEL_AUCTION_PORT.

The closer runs in every replica; a lease lets one of them walk the end-time buckets at a time.
"""

from __future__ import annotations

import contextlib

import grpc

from auction_svc import dev_auth, service
from auction_svc.closer import Closer
from auction_svc.payments import StandInProvider
from gavel import bus, cql, services
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.auction_store import AuctionStore
from gavel.paging import PageTokens
from gavel.replies import Replies
from gavel.server import ServiceSpec, run, run_in_background
from gavel.settings import Settings
from gavel.submission import Submitter
from gavel.watchlist import WatchlistStore

SERVICE = services.AUCTION


async def setup(server: grpc.aio.Server, resources: contextlib.AsyncExitStack, settings: Settings) -> None:
    session = cql.connect(settings, settings.cassandra_keyspace)
    resources.callback(session.cluster.shutdown)
    nc = await bus.connect(settings, SERVICE.module)
    resources.push_async_callback(nc.drain)
    js = nc.jetstream()
    await bus.ensure_streams(js, settings)

    store = AuctionStore(session)
    tokens = PageTokens(settings.secret("page_token_secret"), f"{service.SERVICE_NAME}/ListAuctions")
    replies = Replies(nc)
    await replies.start()
    resources.push_async_callback(replies.stop)
    watchlist_tokens = PageTokens(settings.secret("page_token_secret"), f"{service.SERVICE_NAME}/ListWatchlist")
    servicer = service.AuctionService(
        settings,
        store,
        tokens,
        Submitter(settings, js, replies),
        StandInProvider(),
        WatchlistStore(session),
        watchlist_tokens,
    )
    pb_grpc.add_AuctionServiceServicer_to_server(servicer, server)
    dev_auth.register(server, settings)

    run_in_background(resources, "closer", Closer(settings, js, session, store).run)


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
