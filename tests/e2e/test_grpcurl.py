"""The public endpoint as grpcurl users meet it: the real grpcurl binary (built by `make test`
from the Go module proxy), nothing but the gateway's address, no proto files. Reflection on
8080 lists and describes every public service, and every method is called from what
reflection alone told grpcurl, WatchAuction as the stream it is. (grpcurl writes the proto
field names, as the requests here are spelt.)"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from gavel import reflection, services
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.settings import Settings

GRPCURL = Path(os.environ.get("GAVEL_GRPCURL", Path.home() / ".cache" / "gavel" / "bin" / "grpcurl-v1.9.3"))
#: How long a streamed event may take to arrive before the test gives up on it.
EVENT_WAIT_S = 15.0


@dataclass(frozen=True)
class Answer:
    code: str  # "OK" or the status name grpcurl reports
    body: dict[str, Any]  # the reply, or the error with its details


@pytest.fixture(scope="module")
def grpcurl(gateway_target: str) -> Iterator[Any]:
    assert GRPCURL.exists(), f"{GRPCURL} is missing: `make test` builds it (the GRPCURL target)"

    def call(method: str, data: dict[str, Any] | None = None, token: str | None = None) -> Answer:
        args = [str(GRPCURL), "-plaintext", "-format-error", "-d", json.dumps(data or {})]
        if token:
            args += ["-H", f"authorization: Bearer {token}"]
        done = subprocess.run([*args, gateway_target, method], capture_output=True, text=True, timeout=30)
        if done.returncode == 0:
            return Answer("OK", json.loads(done.stdout))
        error = json.loads(done.stderr)
        return Answer(pb_code(error["code"]), error)

    yield call


def pb_code(number: int) -> str:
    return next(c.name for c in grpc.StatusCode if c.value[0] == number)


def run(gateway_target: str, *args: str) -> str:
    done = subprocess.run(
        [str(GRPCURL), "-plaintext", gateway_target, *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_list_names_every_public_service(gateway_target: str, settings: Settings) -> None:
    listed = set(run(gateway_target, "list").split())
    expected = {*services.public_contract(settings.dev_mode), *reflection.NAMES, "grpc.health.v1.Health"}
    assert listed == expected


def test_describe_every_service_and_method(gateway_target: str) -> None:
    described = run(gateway_target, "describe")
    for service in pb.DESCRIPTOR.services_by_name.values():
        assert f"{service.full_name} is a service:" in described
        for method in service.methods:
            assert f"rpc {method.name} (" in described, method.full_name
    assert "grpc.reflection.v1.ServerReflection is a service:" in described
    message = run(gateway_target, "describe", "auction.v1.PlaceBidRequest")
    assert "int64 amount = 2;" in message


def test_every_method_answers(grpcurl: Any, gateway_target: str) -> None:
    called: set[str] = set()

    def call(method: str, data: dict[str, Any] | None = None, token: str | None = None) -> Answer:
        called.add(method)
        return grpcurl(method, data, token)

    seller, ann = (f"{who}-{uuid.uuid4().hex[:6]}" for who in ("seller", "ann"))
    tokens = {}
    for user in (seller, ann):
        issued = call("auction.v1.DevAuthService/IssueDevToken", {"user_id": user})
        assert issued.code == "OK", issued
        tokens[user] = issued.body["token"]
    end = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    create = {"item": {"name": "Lamp"}, "end_date": end, "starting_price": "1000", "buy_now_price": "9000"}

    created = call("auction.v1.AuctionService/CreateAuction", create, tokens[seller])
    assert created.code == "OK", created
    auction = created.body["auction_id"]
    other = call("auction.v1.AuctionService/CreateAuction", create, tokens[seller]).body["auction_id"]
    assert call("auction.v1.AuctionService/GetAuction", {"auction_id": auction}).body["item"]["name"] == "Lamp"
    listed = call("auction.v1.AuctionService/ListAuctions", {"seller_id": seller})
    assert {a["auction_id"] for a in listed.body["auctions"]} == {auction, other}

    assert call("auction.v1.AuctionService/AddToWatchlist", {"auction_id": auction}, tokens[ann]).code == "OK"
    watching = call("auction.v1.AuctionService/ListWatchlist", {}, tokens[ann])
    assert [a["auction_id"] for a in watching.body["auctions"]] == [auction]
    assert call("auction.v1.AuctionService/RemoveFromWatchlist", {"auction_id": auction}, tokens[ann]).code == "OK"

    bid = call("auction.v1.BidService/PlaceBid", {"auction_id": auction, "amount": "1500"}, tokens[ann])
    assert bid.body["status"] == "BID_STATUS_ACCEPTED", bid
    bid_id = bid.body["bid_id"]
    got = call("auction.v1.BidService/GetBid", {"auction_id": auction, "bid_id": bid_id}, tokens[ann])
    assert got.body["bid_id"] == bid_id
    history = call("auction.v1.BidService/ListBids", {"auction_id": auction})
    assert bid_id in {b["bid_id"] for b in history.body["bids"]}
    mine = call("auction.v1.BidService/ListMyBids", {}, tokens[ann])
    assert bid_id in {b["bid_id"] for b in mine.body["bids"]}
    retracted = call(
        "auction.v1.BidService/RetractBid", {"auction_id": auction, "bid_id": bid_id, "reason": "typo"}, tokens[ann]
    )
    assert retracted.body["retracted"] is True, retracted
    bought = call("auction.v1.BidService/BuyNow", {"auction_id": other}, tokens[ann])
    assert bought.body["status"] == "BID_STATUS_ACCEPTED", bought

    # Buy It Now closed the other auction: its sale is hers to pay, not to decline.
    sale = call("auction.v1.AuctionService/GetSale", {"auction_id": other}, tokens[ann])
    assert sale.code == "OK", sale
    refused = call("auction.v1.AuctionService/DeclineOffer", {"auction_id": other}, tokens[ann])
    assert refused.code == "FAILED_PRECONDITION", refused
    paid = call("auction.v1.AuctionService/PaySale", {"auction_id": other, "request_id": "p1"}, tokens[ann])
    assert paid.code == "OK", paid
    cancelled = call("auction.v1.AuctionService/CancelAuction", {"auction_id": auction}, tokens[seller])
    assert cancelled.body["status"] == "AUCTION_STATUS_CANCELLED", cancelled

    assert "notifications" in call("auction.v1.StreamService/ListMyNotifications", {}, tokens[seller]).body
    with stream(gateway_target, "auction.v1.StreamService/WatchMyNotifications", {}, tokens[ann]) as events:
        assert next(events) == {"heartbeat": True}  # the first message: the stream is live
    with stream(gateway_target, "auction.v1.StreamService/WatchAuction", {"auction_id": auction}) as events:
        assert next(events)["auction"]["status"] == "AUCTION_STATUS_CANCELLED"
    called |= {"auction.v1.StreamService/WatchAuction", "auction.v1.StreamService/WatchMyNotifications"}
    assert called == {f"{s.full_name}/{m.name}" for s in pb.DESCRIPTOR.services_by_name.values() for m in s.methods}


def test_errors_carry_their_details(grpcurl: Any, token_for) -> None:
    refused = grpcurl("auction.v1.AuctionService/CreateAuction", {"starting_price": "-1"}, token_for("s"))
    assert refused.code == "INVALID_ARGUMENT"
    [details] = refused.body["details"]
    assert details["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert "starting_price" in {v["field"] for v in details["field_violations"]}
    missing = grpcurl("auction.v1.AuctionService/GetAuction", {"auction_id": str(uuid.uuid4())})
    assert missing.code == "NOT_FOUND"
    anonymous = grpcurl("auction.v1.BidService/PlaceBid", {"auction_id": str(uuid.uuid4()), "amount": "1"})
    assert anonymous.code == "UNAUTHENTICATED"


def test_watch_auction_streams_through_the_gateway(grpcurl: Any, gateway_target: str, token_for) -> None:
    end = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    create = {"item": {"name": "Clock"}, "end_date": end, "starting_price": "1000"}
    auction = grpcurl("auction.v1.AuctionService/CreateAuction", create, token_for("s")).body["auction_id"]
    with stream(gateway_target, "auction.v1.StreamService/WatchAuction", {"auction_id": auction}) as events:
        first = next(events)
        assert first["auction"]["auction_id"] == auction
        for amount in ("1200", "1500"):
            placed = grpcurl(
                "auction.v1.BidService/PlaceBid", {"auction_id": auction, "amount": amount}, token_for(f"b{amount}")
            )
            assert placed.body["status"] == "BID_STATUS_ACCEPTED", placed
            seen = next(e for e in events if not e.get("heartbeat") and e.get("bid"))
            assert seen["bid"]["bid_id"] == placed.body["bid_id"]
            assert seen["auction"]["highest_bid"] == placed.body["highest_bid"]


@contextlib.contextmanager
def stream(
    target: str, method: str, data: dict[str, Any], token: str | None = None
) -> Iterator[Iterator[dict[str, Any]]]:
    """A grpcurl server stream: its replies as they arrive, each read with a deadline; the
    process killed on exit."""
    args = [str(GRPCURL), "-plaintext", "-d", json.dumps(data)]
    if token:
        args += ["-H", f"authorization: Bearer {token}"]
    process = subprocess.Popen([*args, target, method], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield _events(process)
    finally:
        process.kill()
        process.wait()


def _events(process: subprocess.Popen[bytes]) -> Iterator[dict[str, Any]]:
    """grpcurl writes each reply as one pretty-printed JSON object, its closing brace alone on
    a line."""
    assert process.stdout is not None and process.stderr is not None
    fd = process.stdout.fileno()
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    pending = b""
    while True:
        while (end := pending.find(b"\n}\n")) < 0:
            assert selector.select(EVENT_WAIT_S), f"no event within {EVENT_WAIT_S} s"
            chunk = os.read(fd, 65536)
            assert chunk, f"grpcurl ended: {process.stderr.read().decode()}"
            pending += chunk
        yield json.loads(pending[: end + 2])
        pending = pending[end + 3 :]
