"""The one list of services (gavel.services) against what reads it: the settings, each
service's entrypoint, the proto contract and the gateway's routes."""

from __future__ import annotations

import importlib
import inspect

import pytest

from gateway_envoy import render
from gavel import reflection, server, services
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.settings import Settings


def test_every_service_has_its_settings() -> None:
    for service in services.SERVICES:
        for name in (service.host_setting, service.port_setting, service.metrics_port_setting):
            assert name in Settings.model_fields, name
    assert Settings().target("bid") == "127.0.0.1:50052"
    with pytest.raises(KeyError):
        Settings().target("payments")


def test_the_proto_services_are_the_contracts_and_each_has_one_home() -> None:
    served = [name for service in services.SERVICES for name in service.proto_services]
    contract = {s.full_name for s in pb.DESCRIPTOR.services_by_name.values()}
    assert sorted(served) == sorted(contract), "a proto service is served by no Gavel service, or by two"


def test_the_settings_name_no_service_the_list_lacks() -> None:
    prefixes = {name.removesuffix("_metrics_port") for name in Settings.model_fields if name.endswith("_metrics_port")}
    assert prefixes == {s.name for s in services.SERVICES}


@pytest.mark.parametrize("service", services.SERVICES, ids=lambda s: s.name)
def test_each_entrypoint_is_built_alike(service: services.Service) -> None:
    """``setup(server, resources, settings)`` beside a ``SPEC`` taken from the list."""
    main = importlib.import_module(f"{service.module}.__main__")
    assert list(inspect.signature(main.setup).parameters) == ["server", "resources", "settings"]
    assert inspect.iscoroutinefunction(main.setup)
    spec: server.ServiceSpec = main.SPEC
    assert spec.setup is main.setup
    assert spec.name == service.module
    assert tuple(spec.service_names) == service.proto_services
    settings = Settings()
    assert (spec.port(settings), spec.metrics_port(settings)) == (
        service.port(settings),
        service.metrics_port(settings),
    )


def test_the_gateway_routes_every_proto_service_to_its_cluster() -> None:
    assert {(r.name, r.cluster) for r in render.ROUTES} == {
        (name, s.module) for s in services.SERVICES for name in s.proto_services
    } | {(r.name, services.AUCTION.module) for r in render.SHARED}


def test_the_gateway_buffers_every_request_but_reflections_stream() -> None:
    assert {r.name for r in render.ROUTES if not r.buffered} == set(reflection.NAMES)
    rendered = render.service_routes(Settings())
    for route in render.SHARED:
        block = rendered.split(f'prefix: "/{route.name}/"', 1)[1].split("# /", 1)[0]
        assert ("BufferPerRoute" in block) is not route.buffered


def test_the_public_contract_holds_dev_auth_only_in_dev_mode() -> None:
    served = {name for s in services.SERVICES for name in s.proto_services}
    assert set(services.public_contract(dev_mode=True)) == served
    assert set(services.public_contract(dev_mode=False)) == served - {"auction.v1.DevAuthService"}
