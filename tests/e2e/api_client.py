"""A small client for the running stack: gRPC stubs (through Envoy or direct), REST, and the
one way e2e tests make an auction to work on (gRPC request or REST call)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import grpc
import httpx
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.messages import timestamp
from gavel.services import SERVICES
from gavel.settings import Settings


@contextmanager
def auction_stub(target: str) -> Iterator[pb_grpc.AuctionServiceStub]:
    with grpc.insecure_channel(target) as channel:
        yield pb_grpc.AuctionServiceStub(channel)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def rest(base_url: str, token: str | None = None) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=10)


def iso(moment: datetime) -> str:
    """A time as the REST API's JSON writes it (RFC 3339, UTC, milliseconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def create_request(**changes: object) -> pb.CreateAuctionRequest:
    """A valid CreateAuctionRequest (open now, ending in 5 hours), with ``changes`` applied."""
    now = datetime.now(UTC)
    fields: dict[str, object] = {
        "item": pb.Item(name="Typewriter"),
        "end_date": timestamp(now + timedelta(hours=5)),
        "starting_price": 2500,
        "currency": "EUR",
    }
    fields.update(changes)
    return pb.CreateAuctionRequest(**fields)


def create_auction(
    base_url: str,
    token: str,
    *,
    name: str = "Test lot",
    starting_price: int = 1000,
    ends_in: timedelta = timedelta(hours=1),
    **fields: object,
) -> str:
    """Creates an open auction over REST (``fields`` join or replace the JSON body's); its id."""
    body: dict[str, object] = {
        "item": {"name": name},
        "endDate": iso(datetime.now(UTC) + ends_in),
        "startingPrice": starting_price,
        **fields,
    }
    with rest(base_url, token) as http:
        reply = http.post("/auctions", json=body)
        assert reply.status_code == 200, reply.text
        return reply.json()["auctionId"]


def metric_families(settings: Settings) -> Iterator[Metric]:
    """Every metric family on the three services' /metrics, as the stack exports them now."""
    for service in SERVICES:
        text = httpx.get(f"http://127.0.0.1:{service.metrics_port(settings)}/metrics", timeout=5).text
        yield from text_string_to_metric_families(text)
