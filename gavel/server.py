"""The one way a Gavel service is built and run.

Every service gets the same things: the standard health service, reflection, the shared
interceptor (request id, metrics, errors, auth, request checks), Prometheus metrics on its own HTTP port,
JSON logs, and a graceful drain on SIGTERM (health turns NOT_SERVING so balancers stop
sending, in-flight calls get ``shutdown_grace`` seconds, then resources close).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import uvloop
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import start_http_server

from gavel import auth, gc_policy, logs, reflection, services
from gavel.interceptors import GavelInterceptor
from gavel.settings import Settings

log = logging.getLogger(__name__)

#: Opens what the service needs (registering cleanups on the stack) and adds its servicers.
Setup = Callable[[grpc.aio.Server, contextlib.AsyncExitStack, Settings], Awaitable[None]]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: Callable[[Settings], int]
    metrics_port: Callable[[Settings], int]
    #: Fully qualified proto service names it serves, for health (reflection describes the
    #: whole public contract, gavel.services.public_contract).
    service_names: Sequence[str]
    #: Full method paths that refuse anonymous callers.
    authenticated_methods: frozenset[str]
    setup: Setup


async def serve(spec: ServiceSpec, settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Runs until ``stop`` is set (or SIGTERM/SIGINT arrive when it is not given)."""
    stop = stop or _stop_on_signals()
    server = grpc.aio.server(
        interceptors=[
            GavelInterceptor(
                auth.TokenVerifier(settings.secret("jwt_secret"), settings.jwt_audience), spec.authenticated_methods
            )
        ],
        # The gateway refuses bodies above max_request_bytes; a caller that reaches a service
        # directly meets the same cap here (RESOURCE_EXHAUSTED), not gRPC's default 4 MiB.
        options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", settings.max_request_bytes)],
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable(server, [*services.public_contract(settings.dev_mode), health.SERVICE_NAME])
    async with contextlib.AsyncExitStack() as resources:
        await spec.setup(server, resources, settings)
        address = f"{settings.bind_host}:{spec.port(settings)}"
        server.add_insecure_port(address)
        resources.callback(gc_policy.install(settings.gc_thresholds))
        start_http_server(spec.metrics_port(settings), addr=settings.bind_host)
        await server.start()
        for name in ("", *(n for n in spec.service_names if settings.dev_mode or n not in services.DEV_ONLY)):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("serving", extra={"address": address, "metrics_port": spec.metrics_port(settings)})
        await stop.wait()
        log.info("draining", extra={"grace_s": settings.shutdown_grace})
        await health_servicer.enter_graceful_shutdown()
        await server.stop(settings.shutdown_grace)
    log.info("stopped")


def run_in_background(
    resources: contextlib.AsyncExitStack, name: str, loop: Callable[[asyncio.Event], Coroutine[Any, Any, None]]
) -> None:
    """Runs a service's own loop (a worker, the closer) beside its server; at shutdown, after
    the server has drained, the loop is asked to stop and awaited, so it can hand back what
    it holds (leases) cleanly."""
    stop = asyncio.Event()
    task = asyncio.create_task(loop(stop), name=name)

    async def finish() -> None:
        stop.set()
        await task

    resources.push_async_callback(finish)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def run(spec: ServiceSpec) -> None:
    """The ``__main__`` of every service."""
    settings = Settings()
    logs.configure(spec.name, settings.log_level)
    run_loop(serve(spec, settings))


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Every service's event loop: uvloop's, whose callbacks, timers and sockets cost a call
    less CPU than asyncio's own (grpc.aio, nats-py and the Cassandra bridge all run on it)."""
    uvloop.run(main)
