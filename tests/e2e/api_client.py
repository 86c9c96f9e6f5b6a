"""A small client for the running stack: gRPC stubs (through Envoy or direct) and REST."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc
import httpx

from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc


@contextmanager
def auction_stub(target: str) -> Iterator[pb_grpc.AuctionServiceStub]:
    with grpc.insecure_channel(target) as channel:
        yield pb_grpc.AuctionServiceStub(channel)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def rest(base_url: str, token: str | None = None) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=10)
