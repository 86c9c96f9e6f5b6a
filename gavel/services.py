"""The three Gavel services, named once: what each is called, which module runs it, which
settings give its address and ports, and which proto services it serves.

Settings (``Settings.target``), the local stack (which processes to start and check) and the
gateway (one Envoy cluster per service, a route per proto service) all read this list, so a
fourth service is one line here, not a hunt for every place that spelt the three out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gavel.settings import Settings


@dataclass(frozen=True)
class Service:
    #: The short name: the prefix of its settings (``auction_host``, ``auction_port``, ...).
    name: str
    #: Fully qualified proto services it serves (health and reflection name them; the gateway
    #: routes each to this service).
    proto_services: tuple[str, ...]

    @property
    def module(self) -> str:
        """``python -m <module>`` runs it; also its process, log file and gateway cluster name."""
        return f"{self.name}_svc"

    @property
    def host_setting(self) -> str:
        return f"{self.name}_host"

    @property
    def port_setting(self) -> str:
        return f"{self.name}_port"

    @property
    def metrics_port_setting(self) -> str:
        return f"{self.name}_metrics_port"

    def host(self, settings: Settings) -> str:
        return str(getattr(settings, self.host_setting))

    def port(self, settings: Settings) -> int:
        return int(getattr(settings, self.port_setting))

    def metrics_port(self, settings: Settings) -> int:
        return int(getattr(settings, self.metrics_port_setting))

    def target(self, settings: Settings) -> str:
        """``host:port`` where the others reach it."""
        return f"{self.host(settings)}:{self.port(settings)}"


AUCTION = Service("auction", ("auction.v1.AuctionService", "auction.v1.DevAuthService"))
BID = Service("bid", ("auction.v1.BidService",))
STREAM = Service("stream", ("auction.v1.StreamService",))

#: In start-up order (the local stack starts them one after the other).
SERVICES = (AUCTION, BID, STREAM)

#: Proto services served only in dev mode (in production their methods are UNIMPLEMENTED).
DEV_ONLY = frozenset({"auction.v1.DevAuthService"})


def public_contract(dev_mode: bool) -> tuple[str, ...]:
    """Every proto service callers can reach through the gateway: what each service's
    reflection describes, so the one endpoint (where the gateway sends reflection to one
    service) lists them all, and a client sees the same contract on any port."""
    return tuple(name for service in SERVICES for name in service.proto_services if dev_mode or name not in DEV_ONLY)


def named(name: str) -> Service:
    """A service by short name (``auction``) or module (``auction_svc``)."""
    for service in SERVICES:
        if name in (service.name, service.module):
            return service
    raise KeyError(f"no Gavel service {name!r}; there are {[s.name for s in SERVICES]}")
