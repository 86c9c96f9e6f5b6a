"""What the gateway refuses on its own: calls above the rate limits (per verified user, per
client address), bodies above the size cap, and every CORS preflight, none of which reaches a
service.

The test stack's limits are high for everyone but one user and one loopback client address
(``LIMITED_USER``, ``LIMITED_ADDRESS`` in tests/local_stack.py), which get ``LIMITED_RATE`` calls
per second on every route; a burst is many calls sent at once, so the refusals do not depend on
timing (a bucket refills once a second, far slower than Envoy refuses).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import httpx
import jwt
import pytest

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.settings import Settings
from tests.e2e.api_client import bearer, create_auction, rest
from tests.local_stack import LIMITED_ADDRESS, LIMITED_RATE, LIMITED_USER

#: Far more calls than the limited rate allows in the second or two a burst takes.
BURST = 6 * LIMITED_RATE


@pytest.fixture(scope="module")
def auction_id(base_url: str, token_for) -> str:
    return create_auction(
        base_url, token_for(f"seller-limits-{uuid.uuid4().hex[:6]}"), name="Kettle", starting_price=100
    )


@pytest.fixture
def envoy_channel(gateway_target: str) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(gateway_target) as channel:
        yield channel


def burst(call: Callable[[int], object], n: int = BURST) -> list:
    """``n`` calls at once (each on its own thread), their results in order."""
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(call, range(n)))


def upstream_requests(settings: Settings) -> dict[str, int]:
    """Requests Envoy has sent to each cluster so far (counted as each request is sent, so a
    reply in hand means its upstream request, if any, is already counted)."""
    text = httpx.get(
        f"http://127.0.0.1:{settings.envoy_admin_port}/stats", params={"filter": r"^cluster\..*\.upstream_rq_total$"}
    ).text
    return {m[1]: int(m[2]) for m in re.finditer(r"^cluster\.(\w+)\.upstream_rq_total: (\d+)$", text, re.M)}


def test_a_rest_burst_from_one_user_gets_429_with_a_retry_hint_while_others_are_served(
    base_url: str, auction_id: str, token_for
) -> None:
    with rest(base_url, token_for(LIMITED_USER)) as http:
        replies = burst(lambda i: http.post(f"/auctions/{auction_id}/bids", json={"amount": 1000 + i}))
    codes = [r.status_code for r in replies]
    refused = [r for r in replies if r.status_code == 429]
    assert refused, codes
    assert set(codes) <= {200, 429}, codes
    assert all(r.headers.get("retry-after") == "1" for r in refused)
    assert refused[0].json()["code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    with rest(base_url, token_for(f"unlimited-{uuid.uuid4().hex[:6]}")) as other:
        assert other.post(f"/auctions/{auction_id}/bids", json={"amount": 999_999}).status_code == 200
    # A token the gateway cannot verify names nobody: its sub does not get a budget of its own
    # (only the address's), and the service refuses it.
    forged = jwt.encode(
        {"sub": "someone-else", "aud": "gavel", "exp": 2**31},
        "a-key-that-is-not-the-stack-secret-at-all",
        algorithm="HS256",
    )
    with rest(base_url, forged) as http:
        assert http.post(f"/auctions/{auction_id}/bids", json={"amount": 5000}).status_code == 401


def test_a_grpc_burst_from_one_user_gets_resource_exhausted_with_a_retry_hint(
    envoy_channel: grpc.Channel, auction_id: str, token_for
) -> None:
    stub = pb_grpc.BidServiceStub(envoy_channel)
    calls = [
        stub.PlaceBid.future(
            pb.PlaceBidRequest(auction_id=auction_id, amount=2000 + i),
            metadata=bearer(token_for(LIMITED_USER)),
            timeout=30,
        )
        for i in range(BURST)
    ]
    codes = [call.code() for call in calls]
    refused = [call for call in calls if call.code() == grpc.StatusCode.RESOURCE_EXHAUSTED]
    assert refused, codes
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}, codes
    assert all(dict(call.trailing_metadata()).get("retry-after") == "1" for call in refused)
    other = stub.PlaceBid(
        pb.PlaceBidRequest(auction_id=auction_id, amount=2_000_000),
        metadata=bearer(token_for(f"unlimited-{uuid.uuid4().hex[:6]}")),
        timeout=30,
    )
    assert other.status == pb.BID_STATUS_ACCEPTED


def test_one_client_address_is_limited_across_users_and_cannot_claim_another(
    base_url: str, auction_id: str, token_for
) -> None:
    """Every call of the burst is a different user (none near their own limit); the address is
    what runs out. A client writing its own x-forwarded-for does not become another address."""
    tokens = [token_for(f"crowd-{uuid.uuid4().hex[:8]}") for _ in range(BURST)]
    limited = httpx.Client(base_url=base_url, transport=httpx.HTTPTransport(local_address=LIMITED_ADDRESS), timeout=30)
    with limited:
        replies = burst(
            lambda i: limited.post(
                f"/auctions/{auction_id}/bids",
                json={"amount": 3000 + i},
                headers={"authorization": f"Bearer {tokens[i]}", "x-forwarded-for": f"198.51.100.{i}"},
            )
        )
    codes = [r.status_code for r in replies]
    assert 429 in codes and set(codes) <= {200, 429}, codes
    with rest(base_url, tokens[0]) as elsewhere:  # the same user from another address
        assert elsewhere.post(f"/auctions/{auction_id}/bids", json={"amount": 3_000_000}).status_code == 200


def test_a_client_opening_many_watches_is_refused_politely(
    envoy_channel: grpc.Channel, auction_id: str, token_for
) -> None:
    stub = pb_grpc.StreamServiceStub(envoy_channel)
    watches = [
        stub.WatchAuction(
            pb.WatchAuctionRequest(auction_id=auction_id), metadata=bearer(token_for(LIMITED_USER)), timeout=30
        )
        for _ in range(BURST)
    ]
    try:
        outcomes = []
        for watch in watches:
            try:
                outcomes.append(next(watch).auction.auction_id == auction_id)
            except grpc.RpcError as exc:
                outcomes.append(exc.code())
    finally:
        for watch in watches:
            watch.cancel()
    assert True in outcomes, outcomes  # the first ones watch
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in outcomes, outcomes
    assert set(outcomes) <= {True, grpc.StatusCode.RESOURCE_EXHAUSTED}, outcomes


def test_a_1_mib_rest_body_gets_413_at_the_gateway(base_url: str, settings: Settings, token_for) -> None:
    before = upstream_requests(settings)
    body = {"item": {"name": "Rug", "description": "x" * (1 << 20)}, "startingPrice": 100}
    with rest(base_url, token_for(f"seller-big-{uuid.uuid4().hex[:6]}")) as http:
        reply = http.post("/auctions", json=body)
    assert reply.status_code == 413
    assert upstream_requests(settings) == before


def test_an_oversized_grpc_message_gets_resource_exhausted_at_the_gateway_and_at_the_service(
    envoy_channel: grpc.Channel, settings: Settings, token_for
) -> None:
    request = pb.CreateAuctionRequest(
        item=pb.Item(name="Rug", description="x" * (settings.max_request_bytes + 20_000)), starting_price=100
    )
    metadata = bearer(token_for(f"seller-big-{uuid.uuid4().hex[:6]}"))
    before = upstream_requests(settings)
    with pytest.raises(grpc.RpcError) as at_gateway:
        pb_grpc.AuctionServiceStub(envoy_channel).CreateAuction(request, metadata=metadata, timeout=30)
    assert at_gateway.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert upstream_requests(settings) == before
    # A caller inside the cluster that reaches the service directly meets the same cap.
    with grpc.insecure_channel(settings.target("auction")) as direct, pytest.raises(grpc.RpcError) as at_service:
        pb_grpc.AuctionServiceStub(direct).CreateAuction(request, metadata=metadata, timeout=30)
    assert at_service.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


PREFLIGHT = {
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization,content-type,x-grpc-web",
}


@pytest.mark.parametrize("path", ["/auction.v1.BidService/PlaceBid", "/auctions/some-id/bids"])
def test_a_preflight_from_a_foreign_origin_is_answered_at_the_gateway(
    base_url: str, settings: Settings, path: str
) -> None:
    before = upstream_requests(settings)
    with httpx.Client(base_url=base_url) as http:
        evil = http.options(path, headers={"origin": "http://evil.test", **PREFLIGHT})
        allowed = http.options(path, headers={"origin": "http://localhost:5173", **PREFLIGHT})
        bare = http.options(path)  # not a preflight at all
        not_grpc = http.get("/auction.v1.BidService/PlaceBid")  # a gRPC path without gRPC
    assert evil.status_code == 200 and "access-control-allow-origin" not in evil.headers
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert bare.status_code == 204
    assert not_grpc.status_code == 404
    assert upstream_requests(settings) == before
    with httpx.Client(base_url=base_url) as http:  # while a real call is counted
        assert http.get("/auctions", params={"pageSize": 1}).status_code == 200
    assert upstream_requests(settings)["auction_svc"] == before["auction_svc"] + 1


def test_envoy_runs_with_a_downstream_connection_limit(stack, settings: Settings) -> None:
    log = (settings.data_dir / "logs" / "envoy.log").read_text()
    assert "no configured limit to the number of allowed active downstream connections" not in log
    dump = httpx.get(f"http://127.0.0.1:{settings.envoy_admin_port}/config_dump").text
    assert f'"max_active_downstream_connections": "{settings.gateway_max_connections}"' in dump
