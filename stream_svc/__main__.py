"""``python -m stream_svc``: serves StreamService (port GAVEL_STREAM_PORT) with health and reflection.

The servicer is not registered yet, so every StreamService method answers UNIMPLEMENTED.
"""

import contextlib

import grpc

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.server import ServiceSpec, run
from gavel.settings import Settings

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["StreamService"].full_name


async def setup(server: grpc.aio.Server, resources: contextlib.AsyncExitStack, settings: Settings) -> None:
    """Nothing to open yet."""


SPEC = ServiceSpec(
    name="stream_svc",
    port=lambda s: s.stream_port,
    metrics_port=lambda s: s.stream_metrics_port,
    service_names=[SERVICE_NAME],
    authenticated_methods=frozenset(),
    setup=setup,
)

if __name__ == "__main__":
    run(SPEC)
