"""``python -m stream_svc``: serves StreamService (port GAVEL_STREAM_PORT)."""

from gavel.server import ServiceSpec, run
from stream_svc import service

SPEC = ServiceSpec(
    name="stream_svc",
    port=lambda s: s.stream_port,
    metrics_port=lambda s: s.stream_metrics_port,
    service_names=[service.SERVICE_NAME],
    authenticated_methods=frozenset(),
    setup=service.setup,
)

if __name__ == "__main__":
    run(SPEC)
