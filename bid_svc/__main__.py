"""``python -m bid_svc``: BidService's API, its log workers, or both (GAVEL_BID_ROLE=api|worker|all).

Both halves live in one package because they share the log's shape; they scale apart: the API
with request load, the workers up to the number of log partitions.
"""

from __future__ import annotations

import contextlib

import grpc

from bid_svc import service
from bid_svc.bid_store import BidStore
from bid_svc.ledger import Ledger
from bid_svc.ownership import Worker
from gavel import bus, cql, services
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.auction_store import AuctionStore
from gavel.replies import Replies
from gavel.server import ServiceSpec, run, run_in_background
from gavel.settings import Settings
from gavel.submission import Submitter

SERVICE = services.BID
ROLES = ("api", "worker", "all")


async def setup(server: grpc.aio.Server, resources: contextlib.AsyncExitStack, settings: Settings) -> None:
    if settings.bid_role not in ROLES:
        raise SystemExit(f"GAVEL_BID_ROLE must be one of {ROLES}, not {settings.bid_role!r}")
    session = cql.connect(settings, settings.cassandra_keyspace)
    resources.callback(session.cluster.shutdown)
    nc = await bus.connect(settings, f"{SERVICE.module}-{settings.bid_role}")
    resources.push_async_callback(nc.drain)
    js = nc.jetstream()
    await bus.ensure_streams(js, settings)

    auctions = AuctionStore(session)

    if settings.bid_role in ("api", "all"):
        replies = Replies(nc)
        await replies.start()
        resources.push_async_callback(replies.stop)
        servicer = service.BidService(
            settings,
            auctions,
            BidStore(session, settings.secret("page_token_secret")),
            Submitter(settings, js, replies),
        )
        pb_grpc.add_BidServiceServicer_to_server(servicer, server)

    if settings.bid_role in ("worker", "all"):
        run_in_background(resources, "bid-worker", Worker(settings, nc, js, Ledger(session, auctions)).run)


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
