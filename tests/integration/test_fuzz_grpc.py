"""Fuzzing every RPC over native gRPC: bad input gets a clear answer, never INTERNAL/UNKNOWN.

For each method of every ``auction.v1`` service, hypothesis sends generated messages (fields
absent or at the edges of their types, Timestamps of any int64, unknown enum numbers, huge
strings, real ids and altered page tokens) and raw bytes (random, mutated encodings, wire
records of wrong types and unknown fields). Each test then checks that the services logged
no ERROR line and that rejected requests wrote nothing: the caller's listing holds exactly
the auctions it was answered OK for, and the bid log exactly the bids.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
import pytest
from google.protobuf import descriptor as d
from google.protobuf import message_factory
from hypothesis import given
from hypothesis import strategies as st

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.auth import mint_dev_token
from gavel.services import SERVICES
from gavel.settings import Settings
from tests.fuzzing import (
    FORBIDDEN_CODES,
    TALLY,
    World,
    bearer,
    bid_log_position,
    bids_logged_since,
    build_world,
    fuzz_settings,
    hints_for,
    messages,
    sellers_auctions,
)
from tests.service_logs import ServiceLogs

METHODS = [m for s in pb.DESCRIPTOR.services_by_name.values() for m in s.methods]
#: Which Gavel service answers each proto service, by its full name.
SERVER = {name: service for service in SERVICES for name in service.proto_services}
CALL_TIMEOUT = 15.0  # PlaceBid may wait GAVEL_BID_DECISION_TIMEOUT (5 s) for its decision


@pytest.fixture(scope="module")
def world(stack: object, settings: Settings, token_for: Callable[[str], str]) -> World:
    return build_world(settings, token_for)


@dataclass
class Caller:
    """One fuzzing identity and what it was answered OK for (to compare with what is stored)."""

    settings: Settings
    user: str
    token: str
    created: set[str] = field(default_factory=set)
    bids: set[str] = field(default_factory=set)

    def metadata(self, token_for: Callable[[str], str]) -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
        s = self.settings
        wrong = [
            (),
            bearer("garbage"),
            (("authorization", "Basic Zm9vOmJhcg=="),),
            (("authorization", "Bearer "),),
            bearer(mint_dev_token(self.user, "not-the-secret", s.jwt_audience)),
            bearer(mint_dev_token(self.user, s.jwt_secret, "not-gavel")),
            bearer(mint_dev_token(self.user, s.jwt_secret, s.jwt_audience, ttl_s=-60)),
        ]
        request_ids = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=200)
        return st.one_of(
            st.just(bearer(self.token)),
            st.sampled_from(wrong),
            request_ids.map(lambda rid: (*bearer(self.token), ("x-request-id", rid))),
        )


@pytest.fixture
def caller(settings: Settings, token_for: Callable[[str], str]) -> Caller:
    user = f"fuzz-grpc-{uuid.uuid4().hex[:12]}"
    return Caller(settings, user, token_for(user))


@pytest.fixture
def unchanged(settings: Settings, caller: Caller):
    """After the test: no ERROR lines, and the caller's writes are exactly its OK answers."""
    logs = ServiceLogs(settings)
    position = bid_log_position(settings)
    yield
    assert logs.errors() == [], "fuzzed requests made the services log errors"
    assert sellers_auctions(settings, caller.user) == caller.created
    assert bids_logged_since(settings, position, {caller.user}) == caller.bids


def call(
    settings: Settings,
    method: d.MethodDescriptor,
    payload: bytes,
    metadata: tuple[tuple[str, str], ...],
    caller: Caller,
    transport: str,
) -> None:
    """Sends one request (already encoded) and checks its answer; OK answers are remembered."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    output = message_factory.GetMessageClass(method.output_type)
    with grpc.insecure_channel(SERVER[method.containing_service.full_name].target(settings)) as channel:
        try:
            if method.server_streaming:
                stream = channel.unary_stream(path, response_deserializer=output.FromString)(
                    payload, metadata=metadata, timeout=CALL_TIMEOUT
                )
                try:
                    next(stream)  # the first event is the answer; a watcher may then leave
                except StopIteration:
                    pass
                finally:
                    stream.cancel()
                answer: object = None
            else:
                answer = channel.unary_unary(path, response_deserializer=output.FromString)(
                    payload, metadata=metadata, timeout=CALL_TIMEOUT
                )
            code = grpc.StatusCode.OK
        except grpc.RpcError as exc:
            code, details = exc.code(), exc.details()  # type: ignore[attr-defined]
            TALLY.record(transport, method.name, code.name)
            assert code not in FORBIDDEN_CODES, f"{path} answered {code.name}: {details}"
            return
    TALLY.record(transport, method.name, code.name)
    if isinstance(answer, pb.Auction) and method.name == "CreateAuction":
        caller.created.add(answer.auction_id)
    if isinstance(answer, pb.Bid) and method.name in ("PlaceBid", "BuyNow"):
        caller.bids.add(answer.bid_id)


def method_id(method: d.MethodDescriptor) -> str:
    return f"{method.containing_service.name}.{method.name}"


@pytest.mark.parametrize("method", METHODS, ids=method_id)
def test_generated_messages(
    method: d.MethodDescriptor,
    settings: Settings,
    world: World,
    caller: Caller,
    unchanged: None,
    token_for: Callable[[str], str],
) -> None:
    requests = messages(method.input_type, hints_for(world, method.name))

    @fuzz_settings(ci_examples=100)
    @given(request=requests, metadata=caller.metadata(token_for))
    def run(request: object, metadata: tuple[tuple[str, str], ...]) -> None:
        call(settings, method, request.SerializeToString(), metadata, caller, "grpc messages")  # type: ignore[attr-defined]

    run()


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


# A wire record: any field number with any wire type and payload, so known fields arrive with
# the wrong type, unknown fields appear, and lengths lie.
wire_records = st.tuples(
    st.integers(1, 2**29 - 1),
    st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7]),
    st.integers(0, 2**64 - 1),
    st.binary(max_size=40),
).map(
    lambda r: (
        _varint(r[0] << 3 | r[1])
        + (
            _varint(r[2])
            if r[1] == 0
            else r[3][:8].ljust(8, b"\0")
            if r[1] == 1
            else r[3][:4].ljust(4, b"\0")
            if r[1] == 5
            else _varint(len(r[3]) + (r[2] % 3) - 1) + r[3]
        )
    )
)


def raw_bytes(method: d.MethodDescriptor, world: World) -> st.SearchStrategy[bytes]:
    valid = messages(method.input_type, hints_for(world, method.name)).map(lambda m: m.SerializeToString())
    mutated = st.tuples(valid, st.integers(0, 64), st.binary(min_size=1, max_size=8)).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + len(t[2]) :]
    )
    records = st.lists(wire_records, min_size=1, max_size=6).map(b"".join)
    return st.one_of(st.binary(max_size=512), mutated, records, st.tuples(valid, records).map(b"".join))


@pytest.mark.parametrize("method", METHODS, ids=method_id)
def test_raw_bytes(
    method: d.MethodDescriptor, settings: Settings, world: World, caller: Caller, unchanged: None
) -> None:
    @fuzz_settings(ci_examples=50)
    @given(payload=raw_bytes(method, world))
    def run(payload: bytes) -> None:
        call(settings, method, payload, bearer(caller.token), caller, "grpc raw bytes")

    run()
