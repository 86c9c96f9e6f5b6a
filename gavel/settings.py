"""Every setting of every Gavel process, read from ``GAVEL_*`` environment variables.

One model for all services and the local stack, so a port or a secret is named once and
the launcher, the services, the gateway template and the tests cannot disagree.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PositiveInt, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gavel import durations, services
from gavel.domain.auction import DEFAULT_MAX_OFFERS, DEFAULT_PAYMENT_WINDOW, DEFAULT_PAYMENT_WINDOW_MIN

#: Documented development default; production must set GAVEL_JWT_SECRET (or use JWKS).
DEV_JWT_SECRET = "gavel-dev-secret-not-for-production"
#: Documented development default; production must set GAVEL_PAGE_TOKEN_SECRET (the same
#: value in every replica of a service, or a page token fails on the next replica).
DEV_PAGE_TOKEN_SECRET = "gavel-dev-page-token-secret-not-for-production"


def _duration(value: Any) -> Any:
    """``48h``, ``5s``, ``1h30m`` (``durations``); anything else is left to pydantic (ISO 8601
    ``PT48H``, as ``as_env`` passes it on, or seconds)."""
    parsed = durations.parse(value) if isinstance(value, str) else None
    return value if parsed is None else parsed


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GAVEL_", frozen=True)

    # Where this process binds its servers; 127.0.0.1 locally, 0.0.0.0 in a pod.
    bind_host: str = "127.0.0.1"
    # Where the others are reached; locally everything is on loopback, in k8s each
    # service has its own DNS name. One host, port and metrics port per service of
    # gavel.services.SERVICES (tests/unit/test_services.py holds the two lists together).
    auction_host: str = "127.0.0.1"
    bid_host: str = "127.0.0.1"
    stream_host: str = "127.0.0.1"

    auction_port: int = 50051
    bid_port: int = 50052
    stream_port: int = 50053
    auction_metrics_port: int = 9101
    bid_metrics_port: int = 9102
    stream_metrics_port: int = 9103

    envoy_port: int = 8080
    envoy_admin_port: int = 9901
    # The local stack's Prometheus (make up), scraping the services' metrics ports.
    prometheus_port: int = 9090

    cassandra_hosts: str = "127.0.0.1"
    cassandra_port: int = 9042
    cassandra_storage_port: int = 7000
    cassandra_keyspace: str = "gavel"
    # Local single node: 1. Production: NetworkTopologyStrategy with 3 per DC.
    cassandra_replication: str = "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    cassandra_heap: str = "1G"
    # Local JMX (nodetool) of a locally started Cassandra; 0: off. The scale bench flushes
    # memtables through it before it measures disk per auction.
    cassandra_jmx_port: int = 0

    # One server's URL, or a cluster's as a comma-separated list (a client starts on any of
    # them and reconnects to the others; it also learns them from the server it reached).
    nats_url: str = "nats://127.0.0.1:4222"
    nats_port: int = 4222
    nats_monitor_port: int = 8222
    # The route port of the first server of a locally run NATS cluster (devstack/cluster.py;
    # server i listens on this + i); unused by a single server.
    nats_cluster_port: int = 6222

    # The bid log: P partitions (subjects bids.0 … bids.P-1), fixed while commands are in the
    # log, because an auction's partition must never move under an undecided command (every
    # process refuses another count until the log is drained: ``bus.ensure_streams``). Sized
    # to the workers: at most one worker per partition, so production sets it for as many
    # as it scales to (k8s: 64). 8 here, for the one worker of a local stack: each
    # partition's consumer also costs NATS a state file written and fsynced up to ten times
    # a second, so partitions beyond the workers' need cost CPU per bid (``make profile``:
    # two thirds of NATS's CPU at 64 partitions under the bench load; NATS per bid 1.05 ->
    # 0.62 ms at 8, same run otherwise).
    bid_partitions: int = 8
    # JetStream stream replicas: 1 locally, 3 in production.
    nats_replicas: int = 1
    # How long PlaceBid waits for the decision before answering PENDING.
    bid_decision_timeout: float = 5.0
    # Which halves of bid_svc this process runs: api, worker, or all.
    bid_role: str = "all"
    # Names this process in leases (operators and tests can tell owners apart). Empty: its host
    # and bid port, which two live workers cannot share; a restarted worker with the same id
    # takes its leases back at once instead of waiting out lease_ttl. Never give two live
    # workers the same id.
    worker_id: str = ""
    # A worker that stops renewing its partition leases loses them after this many seconds
    # (renewed every quarter of it). This is how long a dead worker's partitions wait for a
    # new owner. 4 s proved too short: in the failover test under CPU load, a live worker's
    # renewals (JetStream writes, each fsynced) landed after 4 s and it lost every partition.
    # Replicated buckets need more: the TTL must outlive an election of the bucket's leader
    # (k8s/base/config.yaml: 16 s on a cluster).
    lease_ttl: float = 10.0

    # The sale after the close. The payment window an auction gets when its seller names
    # none, and the least a seller may name (production: 48 h; tests set seconds).
    payment_window_default: Duration = DEFAULT_PAYMENT_WINDOW
    payment_window_min: Duration = DEFAULT_PAYMENT_WINDOW_MIN
    # Next bidders offered the item, one after another, after an unpaid winner.
    sale_max_offers: int = Field(default=DEFAULT_MAX_OFFERS, ge=0)
    # Taking back (eBay's rules): with a bid leading, a seller may cancel only while more
    # than this is left; a bidder may then retract only a bid placed within retract_recent
    # (which takes all their bids), and any one bid before it.
    cancel_min_remaining: Duration = timedelta(hours=12)
    retract_recent: Duration = timedelta(hours=1)

    # Notifications (gavel/notifications.py): how many each user's history keeps (the oldest
    # go as new ones come), and how long before its end an auction tells its bidders and
    # watchers that it ends soon.
    notification_history: int = Field(default=100, gt=0)
    notification_ending_soon: Duration = timedelta(minutes=15)
    # Auctions one user may watch at once (AddToWatchlist refuses more: FAILED_PRECONDITION).
    watchlist_max: int = Field(default=500, gt=0)

    # A watch stream quiet for this long gets a heartbeat event, well under the idle timeouts
    # of proxies on the way (Envoy's stream_idle_timeout is 5 minutes, many LBs 60 s).
    stream_heartbeat_interval: float = 15.0
    # A watched auction with no event for this long is re-read from Cassandra and the state
    # offered to its watchers: heals an event lost in transit (only a newer version is sent).
    stream_refresh_interval: float = 30.0
    # Open WatchAuction streams one client may hold in one stream_svc process: a signed-in
    # user, and an anonymous address (higher: a household or an office shares one). Past it,
    # RESOURCE_EXHAUSTED; the gateway limits how fast streams are opened, this how many stay.
    stream_max_watches_per_user: int = Field(default=100, gt=0)
    stream_max_watches_per_address: int = Field(default=1000, gt=0)

    # Browser origins (a regex) allowed to call the API cross-origin; the page itself is
    # served same-origin by the gateway. Production sets its own sites.
    cors_origin_regex: str = r"^https?://(localhost|127\.0\.0\.1)(:[0-9]+)?$"

    # --- Limits at the gateway (Envoy), each a number of requests per second per verified user
    # (the JWT's ``sub``, checked by Envoy, so a forged token cannot spend someone else's
    # budget) and per client address, for each kind of call: writes (PlaceBid, CreateAuction,
    # IssueDevToken), reads (every other unary call) and watches (opening a WatchAuction
    # stream). Over a limit the caller gets 429 / RESOURCE_EXHAUSTED with ``retry-after: 1``.
    gateway_writes_per_user: int = Field(default=10, gt=0)
    gateway_writes_per_address: int = Field(default=50, gt=0)
    gateway_reads_per_user: int = Field(default=100, gt=0)
    gateway_reads_per_address: int = Field(default=300, gt=0)
    gateway_watches_per_user: int = Field(default=10, gt=0)
    gateway_watches_per_address: int = Field(default=30, gt=0)
    # Exceptions for one user id or one client address, in requests per second for every kind
    # of call, e.g. GAVEL_GATEWAY_RATE_OVERRIDES='{"user:partner-feed": 1000, "address:203.0.113.7": 1}'.
    gateway_rate_overrides: dict[str, int] = Field(default_factory=dict)
    # The largest request body the gateway accepts (413 / RESOURCE_EXHAUSTED above it), REST
    # JSON and gRPC alike; the services refuse gRPC messages above it too (defence in depth for
    # callers that reach them directly). The largest legitimate request is a CreateAuction with
    # a long description: a few KiB.
    max_request_bytes: int = Field(default=64 * 1024, gt=0)
    # Open downstream connections Envoy accepts in total (watchers hold one each, or share
    # one per browser); beyond it new connections are refused until some close.
    gateway_max_connections: int = Field(default=50_000, gt=0)

    jwt_secret: str = DEV_JWT_SECRET
    jwt_audience: str = "gavel"
    # Signs page tokens (HMAC-SHA256), so an altered token is refused before it is parsed.
    page_token_secret: str = DEV_PAGE_TOKEN_SECRET
    # Offering dev tokens (the launcher's banner, the CLI, the web sign-in) is local only.
    dev_mode: bool = True

    def secret(self, name: str) -> str:
        """A secret setting, refused outside dev mode while it is still the documented default:
        with the JWT secret anyone could sign in as anyone. Asked for where the secret is used
        (a worker has no page tokens), so a process never needs a secret it does not use."""
        value = str(getattr(self, name))
        if not self.dev_mode and value in (DEV_JWT_SECRET, DEV_PAGE_TOKEN_SECRET):
            raise SystemExit(f"GAVEL_{name.upper()} is the development default and GAVEL_DEV_MODE is false: set it")
        return value

    log_level: str = "INFO"
    # Python's garbage collector: a young collection every gc_thresholds[0] allocations (the
    # default 700 promotes every in-flight call's objects; see gavel.gc_policy).
    gc_thresholds: tuple[PositiveInt, PositiveInt, PositiveInt] = (10_000, 10, 10)
    # Seconds in-flight RPCs get to finish after SIGTERM.
    shutdown_grace: float = 10.0

    # Where the local stack keeps server state (Cassandra data, JetStream store, logs).
    data_dir: Path = Path(".devdata")
    # Where installed components are cached across clones.
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "gavel")

    @field_validator("gateway_rate_overrides")
    @classmethod
    def _overrides_name_a_user_or_an_address(cls, overrides: dict[str, int]) -> dict[str, int]:
        for key, rate in overrides.items():
            kind, _, value = key.partition(":")
            if kind not in ("user", "address") or not value:
                raise ValueError(f"override {key!r}: keys are 'user:<id>' or 'address:<ip>'")
            if rate <= 0:
                raise ValueError(f"override {key!r}: the rate must be at least 1 per second")
        return overrides

    @cached_property
    def cassandra_contact_points(self) -> list[str]:
        return [h.strip() for h in self.cassandra_hosts.split(",") if h.strip()]

    @cached_property
    def nats_servers(self) -> list[str]:
        """``nats_url`` as the list of servers nats-py takes (it does not split a string)."""
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]

    def as_env(self) -> dict[str, str]:
        """This configuration as the environment of a child process (which reads it back)."""
        import json
        import os

        env = dict(os.environ)
        for name, value in self.model_dump(mode="json").items():
            # Collections travel as JSON, the form pydantic-settings parses them from.
            env[f"GAVEL_{name.upper()}"] = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        return env

    def target(self, service: str) -> str:
        """``host:port`` of a service by short name (``auction``), one of gavel.services.SERVICES."""
        return services.named(service).target(self)
