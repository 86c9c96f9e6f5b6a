"""AuctionService over native gRPC, through Envoy (8080 locally) and direct (50051)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from gavel import services
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.errors import field_violations
from gavel.messages import timestamp
from gavel.settings import Settings
from tests.e2e.api_client import auction_stub, bearer, create_request


@pytest.fixture(params=["envoy", "direct"])
def target(request: pytest.FixtureRequest, gateway_target: str, settings: Settings) -> str:
    return gateway_target if request.param == "envoy" else services.AUCTION.target(settings)


def test_create_get_and_list(target: str, token_for) -> None:
    seller = f"seller-{uuid.uuid4()}"
    with auction_stub(target) as stub:
        created = stub.CreateAuction(create_request(), metadata=bearer(token_for(seller)))
        assert created.seller_id == seller
        assert created.status == pb.AUCTION_STATUS_OPEN
        assert stub.GetAuction(pb.GetAuctionRequest(auction_id=created.auction_id)) == created
        listed = stub.ListAuctions(pb.ListAuctionsRequest(seller_id=seller))
        assert [a.auction_id for a in listed.auctions] == [created.auction_id]


def test_statuses(target: str, token_for) -> None:
    with auction_stub(target) as stub:
        with pytest.raises(grpc.RpcError) as anonymous:
            stub.CreateAuction(create_request())
        assert anonymous.value.code() is grpc.StatusCode.UNAUTHENTICATED

        with pytest.raises(grpc.RpcError) as bad:
            stub.CreateAuction(create_request(starting_price=-1), metadata=bearer(token_for("s")))
        assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in field_violations(bad.value)] == ["starting_price"]

        with pytest.raises(grpc.RpcError) as missing:
            stub.GetAuction(pb.GetAuctionRequest(auction_id=str(uuid.uuid4())))
        assert missing.value.code() is grpc.StatusCode.NOT_FOUND

        with pytest.raises(grpc.RpcError) as malformed:
            stub.GetAuction(pb.GetAuctionRequest(auction_id="42"))
        assert malformed.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_scheduled_auction_reports_scheduled(target: str, token_for) -> None:
    start = datetime.now(UTC) + timedelta(hours=1)
    with auction_stub(target) as stub:
        created = stub.CreateAuction(
            create_request(start_date=timestamp(start), end_date=timestamp(start + timedelta(hours=1))),
            metadata=bearer(token_for("s")),
        )
    assert created.status == pb.AUCTION_STATUS_SCHEDULED


@pytest.mark.parametrize(
    ("server", "service"),
    [(s, name) for s in services.SERVICES for name in s.proto_services],
    ids=lambda v: v.module if isinstance(v, services.Service) else v,
)
def test_every_service_has_health_and_reflection(
    stack: object, settings: Settings, server: services.Service, service: str
) -> None:
    with grpc.insecure_channel(server.target(settings)) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = list(
            reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        )
        assert service in {s.name for s in answers[0].list_services_response.service}
