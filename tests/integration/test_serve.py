"""gavel.server.serve(): the interceptor chain, health and reflection, on a real gRPC server.

A throwaway AuctionService servicer stands in for the real one (no storage involved): what is
under test is what every Gavel service gets from serve().
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from gavel import auth, reflection, services
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.errors import FieldViolation, InvalidArgument, NotFound, field_violations
from gavel.interceptors import require_principal
from gavel.server import ServiceSpec, serve
from gavel.settings import Settings
from tests.local_stack import stack_settings

SERVICE = "auction.v1.AuctionService"


class EchoAuctions(pb_grpc.AuctionServiceServicer):
    async def CreateAuction(self, request: pb.CreateAuctionRequest, context: grpc.aio.ServicerContext) -> pb.Auction:
        return pb.Auction(seller_id=require_principal().user_id)

    async def GetAuction(self, request: pb.GetAuctionRequest, context: grpc.aio.ServicerContext) -> pb.Auction:
        if request.auction_id == "missing":
            raise NotFound("no such auction")
        if request.auction_id == "bad":
            raise InvalidArgument([FieldViolation("auction_id", "must be a UUID")])
        if request.auction_id == "bug":
            raise RuntimeError("a bug")
        principal = auth.current_principal.get()
        return pb.Auction(auction_id=request.auction_id, seller_id=principal.user_id if principal else "")


async def _setup(server: grpc.aio.Server, resources: contextlib.AsyncExitStack, settings: Settings) -> None:
    pb_grpc.add_AuctionServiceServicer_to_server(EchoAuctions(), server)


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    settings = replace_ports(stack_settings(tmp_path_factory.mktemp("serve")))
    spec = ServiceSpec(
        name="echo",
        port=lambda s: s.auction_port,
        metrics_port=lambda s: s.auction_metrics_port,
        service_names=[SERVICE],
        authenticated_methods=frozenset({f"/{SERVICE}/CreateAuction"}),
        setup=_setup,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(spec, settings, stop))
    async with grpc.aio.insecure_channel(settings.target("auction")) as channel:
        await channel.channel_ready()
        yield settings
    stop.set()
    await task


def replace_ports(settings: Settings) -> Settings:
    return settings.model_copy(update={"auction_port": 25051, "auction_metrics_port": 29101})


@pytest.fixture
async def stub(server: Settings) -> AsyncIterator[pb_grpc.AuctionServiceStub]:
    async with grpc.aio.insecure_channel(server.target("auction")) as channel:
        yield pb_grpc.AuctionServiceStub(channel)


def bearer(server: Settings, user: str) -> tuple[tuple[str, str]]:
    return (("authorization", "Bearer " + auth.mint_dev_token(user, server.jwt_secret)),)


async def test_write_needs_a_token(stub: pb_grpc.AuctionServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateAuction(pb.CreateAuctionRequest())
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_write_with_token_sees_the_caller(server: Settings, stub: pb_grpc.AuctionServiceStub) -> None:
    reply = await stub.CreateAuction(pb.CreateAuctionRequest(), metadata=bearer(server, "carol"))
    assert reply.seller_id == "carol"


async def test_read_is_anonymous_but_a_bad_token_is_refused(server: Settings, stub: pb_grpc.AuctionServiceStub) -> None:
    assert (await stub.GetAuction(pb.GetAuctionRequest(auction_id="a1"))).seller_id == ""
    signed = await stub.GetAuction(pb.GetAuctionRequest(auction_id="a1"), metadata=bearer(server, "dave"))
    assert signed.seller_id == "dave"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetAuction(pb.GetAuctionRequest(auction_id="a1"), metadata=(("authorization", "Bearer junk"),))
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_errors_map_to_statuses_with_field_details(stub: pb_grpc.AuctionServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetAuction(pb.GetAuctionRequest(auction_id="missing"))
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.GetAuction(pb.GetAuctionRequest(auction_id="bad"))
    assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(bad.value) == [FieldViolation("auction_id", "must be a UUID")]
    with pytest.raises(grpc.aio.AioRpcError) as bug:
        await stub.GetAuction(pb.GetAuctionRequest(auction_id="bug"))
    assert bug.value.code() is grpc.StatusCode.INTERNAL
    assert "a bug" not in (bug.value.details() or "")


async def test_health_reflection_and_metrics(server: Settings, stub: pb_grpc.AuctionServiceStub) -> None:
    await stub.GetAuction(pb.GetAuctionRequest(auction_id="counted"))
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.GetAuction(pb.GetAuctionRequest(auction_id="missing"))
    async with grpc.aio.insecure_channel(server.target("auction")) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", SERVICE):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        reflector = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = [
            r
            async for r in reflector.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")])
            )
        ]
        listed = {s.name for s in replies[0].list_services_response.service}
        # The whole public contract, though this server serves one service of it.
        assert listed == {*services.public_contract(server.dev_mode), *reflection.NAMES, "grpc.health.v1.Health"}
        # v1 answers the same, and describes itself: its file is in the pool under v1's name.
        v1 = channel.stream_stream(
            f"/{reflection.V1}/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        asked = [
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol=reflection.V1),
        ]
        answers = [r async for r in v1(iter(asked))]
        assert {s.name for s in answers[0].list_services_response.service} == listed
        [described] = answers[1].file_descriptor_response.file_descriptor_proto
        file = descriptor_pb2.FileDescriptorProto.FromString(described)
        assert (file.name, file.package) == ("grpc/reflection/v1/reflection.proto", "grpc.reflection.v1")
        assert {m.input_type for s in file.service for m in s.method} == {".grpc.reflection.v1.ServerReflectionRequest"}
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"http://127.0.0.1:{server.auction_metrics_port}/metrics")).text
    assert f'gavel_rpc_handled_total{{grpc_code="OK",grpc_method="/{SERVICE}/GetAuction"}}' in metrics
    assert f'gavel_rpc_handled_total{{grpc_code="NOT_FOUND",grpc_method="/{SERVICE}/GetAuction"}}' in metrics
    assert "gavel_rpc_handling_seconds_bucket" in metrics
