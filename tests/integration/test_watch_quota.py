"""A client may hold only so many watch streams open in one stream service: a signed-in user
by their id, an anonymous one by the address Envoy appends to x-forwarded-for. Past it the
next watch is RESOURCE_EXHAUSTED, others are unaffected, and closing one frees its place."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from devstack.stack import Stack
from gavel import services
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.settings import Settings
from tests.integration.bidding import bearer, create_auction


@pytest.fixture
def capped(stack: object, settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    mine = settings.model_copy(
        update={
            "stream_port": settings.stream_port + 40,
            "stream_metrics_port": settings.stream_metrics_port + 40,
            "stream_max_watches_per_user": 2,
            "stream_max_watches_per_address": 3,
            "data_dir": tmp_path,
        }
    )
    own = Stack(mine, gateway=False)
    own.start_service(services.STREAM)
    try:
        yield mine
    finally:
        own.stop()


async def _first(call: grpc.aio.UnaryStreamCall) -> pb.AuctionEvent | grpc.StatusCode:  # type: ignore[type-arg]
    """The stream's first message, or the status it ended with instead."""
    try:
        return await call.read()  # type: ignore[no-any-return]
    except grpc.aio.AioRpcError as exc:
        return exc.code()


async def test_past_its_quota_a_client_is_refused_and_others_are_not(
    capped: Settings, settings: Settings, token_for
) -> None:
    lot = await create_auction(settings, token_for("seller-quota"), starting_price=100)
    watch = pb.WatchAuctionRequest(auction_id=lot.auction_id)
    alice, bob = bearer(token_for("watcher-alice")), bearer(token_for("watcher-bob"))
    office = (("x-forwarded-for", "203.0.113.9, 198.51.100.7"),)  # the last entry is Envoy's
    elsewhere = (("x-forwarded-for", "192.0.2.44"),)
    async with grpc.aio.insecure_channel(capped.target("stream")) as channel:
        stub = pb_grpc.StreamServiceStub(channel)
        with contextlib.ExitStack() as open_calls:

            def opened(metadata: tuple[tuple[str, str], ...]) -> grpc.aio.UnaryStreamCall:  # type: ignore[type-arg]
                call = stub.WatchAuction(watch, metadata=metadata)
                open_calls.callback(call.cancel)
                return call

            mine = [opened(alice), opened(alice)]
            for call in mine:
                assert isinstance(await _first(call), pb.AuctionEvent)
            assert await _first(opened(alice)) == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert isinstance(await _first(opened(bob)), pb.AuctionEvent), "another user is not affected"

            anonymous = [opened(office) for _ in range(3)]
            for call in anonymous:
                assert isinstance(await _first(call), pb.AuctionEvent)
            assert await _first(opened(office)) == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert await _first(opened((("x-forwarded-for", "203.0.113.9"),))) != grpc.StatusCode.RESOURCE_EXHAUSTED, (
                "only Envoy's entry counts: a client cannot share or dodge another's quota by writing the header"
            )
            assert isinstance(await _first(opened(elsewhere)), pb.AuctionEvent)

            # A closed watch frees its place once the server has seen the cancel; nothing tells
            # the client when, so it does what a client told RESOURCE_EXHAUSTED does: retries.
            mine[0].cancel()
            answers = []
            for _ in range(100):
                answers.append(await _first(opened(alice)))
                if isinstance(answers[-1], pb.AuctionEvent):
                    break
                await asyncio.sleep(0.05)  # a client's retry backoff
            assert isinstance(answers[-1], pb.AuctionEvent), f"a closed watch frees its place: {answers[-3:]}"
            assert set(answers[:-1]) <= {grpc.StatusCode.RESOURCE_EXHAUSTED}
