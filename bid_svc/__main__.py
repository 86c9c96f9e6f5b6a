"""``python -m bid_svc``: serves BidService (port GAVEL_BID_PORT) with health and reflection.

The servicer is not registered yet, so every BidService method answers UNIMPLEMENTED.
"""

import contextlib

import grpc

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.server import ServiceSpec, run
from gavel.settings import Settings

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["BidService"].full_name


async def setup(server: grpc.aio.Server, resources: contextlib.AsyncExitStack, settings: Settings) -> None:
    """Nothing to open yet."""


SPEC = ServiceSpec(
    name="bid_svc",
    port=lambda s: s.bid_port,
    metrics_port=lambda s: s.bid_metrics_port,
    service_names=[SERVICE_NAME],
    write_methods=frozenset(),
    setup=setup,
)

if __name__ == "__main__":
    run(SPEC)
