"""``python -m auction_svc``: serves AuctionService (port GAVEL_AUCTION_PORT)."""

from auction_svc import dev_auth, service
from gavel.server import ServiceSpec, run

SPEC = ServiceSpec(
    name="auction_svc",
    port=lambda s: s.auction_port,
    metrics_port=lambda s: s.auction_metrics_port,
    service_names=[service.SERVICE_NAME, dev_auth.SERVICE_NAME],
    authenticated_methods=service.AUTHENTICATED_METHODS,
    setup=service.setup,
)

if __name__ == "__main__":
    run(SPEC)
