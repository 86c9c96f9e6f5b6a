"""Renders envoy.yaml from the settings: ``python -m gateway_envoy.render OUT DESCRIPTOR WEB_DIR``.

The template is plain YAML with ``${name}`` holes (string.Template), so what Envoy runs is
readable next to the template, and the local stack, the tests and k8s differ only in values.
"""

from __future__ import annotations

import base64
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from string import Template

from grpc_health.v1 import health

from gavel import reflection
from gavel.services import AUCTION, SERVICES
from gavel.settings import Settings

HERE = Path(__file__).parent

#: Per-cluster concurrent request cap. Envoy's default (1,024) would cap live watchers;
#: raised for every service so the gateway is never the silent limit.
MAX_STREAMS = 100_000

#: Users and addresses each route's limiter tracks a bucket for (least recently seen forgotten
#: first, which refills that one's budget). Envoy's default (20) would let a crowd of clients
#: cycle each other out of the cache and never be limited.
MAX_TRACKED_CLIENTS = 100_000


@dataclass(frozen=True)
class Route:
    """How the gateway sends one proto service's calls on to the Gavel service that serves it."""

    name: str  # the proto's full service name
    cluster: str
    #: How its methods without a route of their own are limited: "reads" or "watches".
    kind: str
    timeouts: str
    #: Whether the request is buffered whole (and its size capped) before it is passed on: every
    #: Gavel call sends one message and closes, but reflection is a bidirectional stream whose
    #: client waits for each answer before it asks the next, which a buffer would hold forever.
    buffered: bool = True


UNARY = ("reads", "timeout: 30s")

#: Proto services whose calls are long-lived server streams; every other one is UNARY.
#: Watch streams live as long as the watcher does; stream_svc sends heartbeats well inside
#: the idle timeout, so only a dead stream is cut.
STREAMING = {"auction.v1.StreamService": ("watches", "timeout: 0s, idle_timeout: 60s")}

#: Proto services every Gavel service answers: reflection, which describes the whole public
#: contract on every one (gavel.reflection), and health. The gateway sends them to one service,
#: so that its one endpoint answers them for all (health there is that service's own; each
#: service's is on its direct port, where the probes ask).
SHARED_BY = AUCTION
SHARED = (
    Route(reflection.V1, SHARED_BY.module, *UNARY, buffered=False),
    Route(reflection.V1ALPHA, SHARED_BY.module, *UNARY, buffered=False),
    Route(health.SERVICE_NAME, SHARED_BY.module, *UNARY),
)

#: One route per proto service of every Gavel service (gavel.services), to that service's
#: cluster, and the shared ones.
ROUTES = (
    *(
        Route(name, service.module, *STREAMING.get(name, UNARY))
        for service in SERVICES
        for name in service.proto_services
    ),
    *SHARED,
)

#: A route's override of the buffer filter, for a request that streams.
UNBUFFERED = """                  envoy.filters.http.buffer:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute
                    disabled: true
"""

#: The methods that change state, each on its own route with the write limits; a new write
#: joins this list. Every other method is limited as its service's kind.
WRITES = (
    "auction.v1.AuctionService/CreateAuction",
    "auction.v1.BidService/PlaceBid",
    "auction.v1.BidService/BuyNow",
    "auction.v1.DevAuthService/IssueDevToken",
)

#: Unary methods of a streaming service, limited as the reads they are (a page of one's
#: notifications), not as watches.
READS = ("auction.v1.StreamService/ListMyNotifications",)

#: The web page's files (built by ``make web``) and the API's document, each served at one
#: path by a direct response.
WEB_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app.css": ("app.css", "text/css; charset=utf-8"),
    # The REST API's OpenAPI document (make openapi).
    "/openapi.json": ("openapi.json", "application/json"),
}


#: Envoy's own refusals of REST calls, by HTTP status, and the gRPC code their JSON body
#: names: what the transcoder refuses (a body or query that does not parse), no route, a body
#: too large, a rate limit, no service up.
REST_LOCAL_REPLIES = {400: 3, 404: 5, 413: 8, 429: 8, 503: 14}


def rest_local_replies() -> str:
    """A mapper per status: a REST call gets its refusal as ``{"code", "message", "details"}``,
    the body the OpenAPI document promises for errors. REST is told apart by the path the
    transcoder kept (it has already given the request gRPC's content type by then), or, for a
    call it did not transcode, by a content type that is not gRPC's (or none)."""
    return "".join(
        f"""            - filter:
                and_filter:
                  filters:
                  - status_code_filter: {{ comparison: {{ op: EQ, value: {{ default_value: {status}, runtime_key: gavel_rest_{status} }} }} }}
                  - or_filter:
                      filters:
                      - header_filter: {{ header: {{ name: x-envoy-original-path, present_match: true }} }}
                      - header_filter: {{ header: {{ name: content-type, string_match: {{ prefix: application/grpc }}, invert_match: true }} }}
                      - header_filter: {{ header: {{ name: content-type, present_match: false }} }}
              body_format_override:
                json_format: {{ code: {code}, message: "%LOCAL_REPLY_BODY%", details: [] }}
                content_type: application/json
"""
        for status, code in REST_LOCAL_REPLIES.items()
    )


def web_routes(web_dir: Path) -> str:
    route = Template((HERE / "web_route.yaml.tmpl").read_text())
    return "".join(
        route.substitute(path=path, filename=(web_dir / name).resolve(), content_type=content_type)
        for path, (name, content_type) in WEB_FILES.items()
    )


def bucket(per_second: int) -> str:
    """A token bucket of ``per_second`` tokens refilled every second: at most that many calls
    in any second, and ``retry-after: 1`` is always true."""
    return f"{{ max_tokens: {per_second}, tokens_per_fill: {per_second}, fill_interval: 1s }}"


def descriptors(settings: Settings, kind: str) -> str:
    """The buckets of one route: one per user and one per address (the empty value makes
    Envoy keep one per distinct value seen), then the overrides, which Envoy matches first."""
    lines = [
        (("user", ""), getattr(settings, f"gateway_{kind}_per_user")),
        (("remote_address", ""), getattr(settings, f"gateway_{kind}_per_address")),
    ]
    for key, per_second in sorted(settings.gateway_rate_overrides.items()):
        who, _, value = key.partition(":")
        lines.append((("user" if who == "user" else "remote_address", value), per_second))
    return "\n".join(
        f"                    - {{ entries: [{{ key: {entry}{f', value: {json.dumps(value)}' if value else ''} }}], "
        f"token_bucket: {bucket(per_second)} }}"
        for (entry, value), per_second in lines
    )


def service_routes(settings: Settings) -> str:
    route = Template((HERE / "route.yaml.tmpl").read_text())

    def one(service: Route, method: str | None, kind: str) -> str:
        path = f"/{service.name}/{method}" if method else f"/{service.name}/"
        return route.substitute(
            method=path,
            kind=kind,
            match=f'path: "{path}"' if method else f'prefix: "{path}"',
            cluster=service.cluster,
            timeouts=service.timeouts,
            stat_prefix=f"limit_{service.name.removeprefix('auction.v1.').replace('.', '_')}_{method or kind}",
            unbuffered="" if service.buffered else UNBUFFERED,
            address_bucket=bucket(getattr(settings, f"gateway_{kind}_per_address")),
            tracked=MAX_TRACKED_CLIENTS,
            descriptors=descriptors(settings, kind),
        )

    out = []
    for service in ROUTES:
        for kind, methods in (("writes", WRITES), ("reads", READS)):
            for full in methods:
                name, _, method = full.partition("/")
                if name == service.name:
                    out.append(one(service, method, kind))
        out.append(one(service, None, service.kind))
    return "".join(out)


def jwks(secret: str) -> str:
    """The local HS256 secret as a JWKS (one symmetric key), the form jwt_authn reads."""
    key = base64.urlsafe_b64encode(secret.encode()).rstrip(b"=").decode()
    return json.dumps({"keys": [{"kty": "oct", "alg": "HS256", "k": key}]})


def render(settings: Settings, descriptor: Path, web_dir: Path) -> str:
    cluster = Template((HERE / "cluster.yaml.tmpl").read_text())
    clusters = "".join(
        cluster.substitute(
            name=service.module,
            host=service.host(settings),
            port=service.port(settings),
            max_streams=MAX_STREAMS,
        )
        for service in SERVICES
    )
    return Template((HERE / "envoy.yaml.tmpl").read_text()).substitute(
        listen_host=settings.bind_host,
        envoy_port=settings.envoy_port,
        admin_port=settings.envoy_admin_port,
        descriptor=descriptor.resolve(),
        # JSON strings are YAML strings: any regex or name survives the quoting.
        cors_origin_regex=json.dumps(settings.cors_origin_regex),
        transcoded_services=json.dumps([name for service in SERVICES for name in service.proto_services]),
        max_connections=settings.gateway_max_connections,
        max_request_bytes=settings.max_request_bytes,
        jwt_audience=settings.jwt_audience,
        jwks=jwks(settings.secret("jwt_secret")),
        service_routes=service_routes(settings),
        rest_local_replies=rest_local_replies(),
        web_routes=web_routes(web_dir),
        clusters=clusters,
    )


def main() -> None:
    out, descriptor, web_dir = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    out.write_text(render(Settings(), descriptor, web_dir))


if __name__ == "__main__":
    main()
