"""Fuzzing every REST route through Envoy: bad input is a 4xx with a body, never a 5xx.

Routes come from the proto's ``google.api.http`` annotations, so every transcoded method is
covered. Hypothesis sends path parameters of any text (real ids among them), query strings
with known and unknown parameters of any type, JSON bodies of the right shape with wrong
types, huge numbers and unknown fields, JSON of any shape, and raw bytes. As over gRPC: no
ERROR line in the services' logs, and rejected writes stored nothing.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor as d
from hypothesis import given
from hypothesis import strategies as st

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.settings import Settings
from tests.fuzzing import (
    FORBIDDEN_CODES,
    TALLY,
    World,
    altered_tokens,
    bid_log_position,
    bids_logged_since,
    build_world,
    fuzz_settings,
    hints_for,
    sellers_auctions,
    text,
)
from tests.service_logs import ServiceLogs

GRPC_FORBIDDEN = {code.value[0] for code in FORBIDDEN_CODES}


@dataclass(frozen=True)
class Route:
    method: d.MethodDescriptor
    verb: str
    template: str
    body: str

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.template)


ROUTES = [
    Route(m, verb, getattr(rule, verb), rule.body)
    for s in pb.DESCRIPTOR.services_by_name.values()
    for m in s.methods
    for rule in [m.GetOptions().Extensions[annotations_pb2.http]]
    for verb in [rule.WhichOneof("pattern")]
]
assert len(ROUTES) == sum(len(s.methods) for s in pb.DESCRIPTOR.services_by_name.values()), "an RPC has no REST route"


@pytest.fixture(scope="module")
def world(stack: object, settings: Settings, token_for: Callable[[str], str]) -> World:
    return build_world(settings, token_for)


@dataclass
class Caller:
    user: str
    token: str
    created: set[str] = field(default_factory=set)
    bids: set[str] = field(default_factory=set)


@pytest.fixture
def caller(token_for: Callable[[str], str]) -> Caller:
    user = f"fuzz-rest-{uuid.uuid4().hex[:12]}"
    return Caller(user, token_for(user))


@pytest.fixture
def http(base_url: str) -> httpx.Client:
    with httpx.Client(base_url=base_url, timeout=20) as client:
        yield client


@pytest.fixture
def unchanged(settings: Settings, caller: Caller):
    logs = ServiceLogs(settings)
    position = bid_log_position(settings)
    yield
    assert logs.errors() == [], "fuzzed requests made the services log errors"
    assert sellers_auctions(settings, caller.user) == caller.created
    assert bids_logged_since(settings, position, {caller.user}) == caller.bids


# --- JSON values ----------------------------------------------------------------------------

HUGE_NUMBERS = [
    "1e400",
    "-1e400",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "1" * 400,
    "0.5",
    "NaN",
    "Infinity",
    "-0",
    "0x10",
    "1_000",
]
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    text(),
    st.sampled_from(HUGE_NUMBERS),
)
any_json = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)
TIMESTAMP_TEXT = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999Z",
    "10000-01-01T00:00:00Z",
    "2030-02-30T00:00:00Z",
    "2030-01-01T00:00:00",
    "2030-01-01T00:00:00+25:00",
    "now",
    "",
]


def field_json(f: d.FieldDescriptor, hints: dict[str, st.SearchStrategy[object]]) -> st.SearchStrategy[object]:
    """A JSON value for a field: often its own type (hinted, in and out of range), often not."""
    if f.message_type is not None and f.message_type.full_name == "google.protobuf.Timestamp":
        own: st.SearchStrategy[object] = st.sampled_from(TIMESTAMP_TEXT)
    elif f.message_type is not None:
        own = message_json(f.message_type, hints)
    elif f.name in hints:
        own = hints[f.name]
    elif f.enum_type is not None:
        own = st.one_of(st.sampled_from([v.name for v in f.enum_type.values]), st.integers())
    elif f.type == d.FieldDescriptor.TYPE_STRING:
        own = text()
    else:
        own = st.one_of(st.integers(), st.sampled_from(HUGE_NUMBERS), st.integers().map(str))
    return st.one_of(own, json_scalars, any_json)


def message_json(descriptor: d.Descriptor, hints: dict[str, st.SearchStrategy[object]]) -> st.SearchStrategy[object]:
    names = {f.json_name: field_json(f, hints) for f in descriptor.fields}
    names.update({f.name: field_json(f, hints) for f in descriptor.fields})  # proto names are accepted too
    unknown = st.dictionaries(st.text(min_size=1, max_size=12), json_scalars, max_size=2)
    return st.tuples(st.fixed_dictionaries({}, optional=names), unknown, st.booleans()).map(
        lambda t: {**t[0], **t[1]} if t[2] else t[0]
    )


#: httpx refuses URLs over 64 KiB; Envoy's own limit (60 KiB of headers, a 431) is what we probe.
URL_VALUE_MAX = 5_000  # percent-encoded, up to 6 characters each


def for_url(value: str) -> str:
    return value[:URL_VALUE_MAX]


def query_value(hints: dict[str, st.SearchStrategy[object]], name: str) -> st.SearchStrategy[str]:
    own = hints.get(name, text())
    return st.one_of(own.map(str).map(for_url), st.sampled_from(HUGE_NUMBERS), st.text(max_size=20))


@st.composite
def requests(draw: st.DrawFn, route: Route, world: World, caller: Caller) -> tuple[str, str, dict, bytes | None, dict]:
    hints = hints_for(world, route.method.name)
    path = route.template
    for name in route.path_params:
        value = draw(st.one_of(hints.get(name, text()).map(str), text()).map(for_url))
        path = path.replace(f"{{{name}}}", quote(value, safe="") or "%20")
    params: dict[str, str] = {}
    body: bytes | None = None
    if route.body == "*":
        shapes = st.one_of(
            message_json(route.method.input_type, hints).map(json.dumps),
            any_json.map(json.dumps),
            st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
            st.just(""),
        )
        body = draw(shapes).encode()
    else:
        fields = [f for f in route.method.input_type.fields if f.name not in route.path_params]
        known = st.fixed_dictionaries(
            {},
            optional={
                (f.json_name if i % 2 == 0 else f.name): query_value(hints, f.name) for i, f in enumerate(fields)
            },
        )
        params = draw(
            st.one_of(
                known,
                st.tuples(known, st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=2)).map(
                    lambda kv: {**kv[0], **kv[1]}
                ),
            )
        )
    headers = draw(
        st.sampled_from(
            [
                {"authorization": f"Bearer {caller.token}"},
                {"authorization": f"Bearer {caller.token}"},
                {},
                {"authorization": "Bearer garbage"},
                {"authorization": "Basic Zm9vOmJhcg=="},
            ]
        )
    )
    if body is not None:
        headers = {
            **headers,
            "content-type": draw(
                st.sampled_from(
                    [
                        "application/json",
                        "application/json",
                        "text/plain",
                        "application/x-www-form-urlencoded",
                        "application/grpc",
                    ]
                )
            ),
        }
    return route.verb.upper(), path, params, body, headers


def send(http: httpx.Client, route: Route, request: tuple[str, str, dict, bytes | None, dict], caller: Caller) -> None:
    verb, path, params, body, headers = request
    with http.stream(verb, path, params=params, content=body, headers=headers) as reply:
        # A live event stream (WatchAuction of a real auction) answers its first event and is
        # then left: closing it cancels the stream through Envoy.
        text_body = (
            "" if route.method.server_streaming and reply.status_code == 200 else reply.read().decode(errors="replace")
        )
    assert reply.status_code < 500, f"{verb} {path} {params} answered {reply.status_code}: {text_body[:500]}"
    if reply.headers.get("content-type", "").startswith("application/grpc"):
        # A body sent as content-type application/grpc is routed as native gRPC, not
        # transcoded: HTTP 200 always, the outcome in grpc-status (trailers-only here).
        code = int(reply.headers.get("grpc-status", "-1"))
        TALLY.record("rest", route.method.name, f"grpc-status:{code}")
        assert code not in GRPC_FORBIDDEN, f"{verb} {path} answered grpc-status {code}"
        return
    TALLY.record("rest", route.method.name, str(reply.status_code))
    if reply.status_code == 200 and route.method.name in ("CreateAuction", "PlaceBid", "BuyNow"):
        answer = json.loads(text_body)
        (caller.created if route.method.name == "CreateAuction" else caller.bids).add(
            answer["auctionId"] if route.method.name == "CreateAuction" else answer["bidId"]
        )


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.verb.upper()} {r.template}")
def test_rest_routes(route: Route, http: httpx.Client, world: World, caller: Caller, unchanged: None) -> None:
    @fuzz_settings(ci_examples=60)
    @given(request=requests(route, world, caller))
    def run(request: tuple[str, str, dict, bytes | None, dict]) -> None:
        send(http, route, request, caller)

    run()


@pytest.mark.parametrize("listing", ["ListAuctions", "ListBids", "ListMyBids"])
def test_altered_page_tokens_are_400_on_page_token(
    listing: str, http: httpx.Client, world: World, caller: Caller, token_for: Callable[[str], str], unchanged: None
) -> None:
    """Every paged method: a token whose numbers were altered is a 400 naming page_token."""
    route = next(r for r in ROUTES if r.method.name == listing)
    path = route.template.replace("{auction_id}", world.auction_id)
    params = {"sellerId": world.seller_id} if listing == "ListAuctions" else {}
    headers = {"authorization": f"Bearer {token_for(world.bidder_id)}"} if listing == "ListMyBids" else {}
    genuine = world.tokens[listing]

    @fuzz_settings(ci_examples=30)
    @given(token=altered_tokens(genuine).filter(lambda t: t != genuine))
    def run(token: str) -> None:
        reply = http.get(path, params={**params, "pageToken": token}, headers=headers)
        TALLY.record("rest page tokens", listing, str(reply.status_code))
        if reply.status_code == 200:  # only an equivalent token (base64's padding bits) may pass
            return
        assert reply.status_code == 400, reply.text
        violations = reply.json()["details"][0]["fieldViolations"]
        assert [v["field"] for v in violations] == ["page_token"]

    run()
    assert http.get(path, params={**params, "pageToken": genuine}, headers=headers).status_code == 200
