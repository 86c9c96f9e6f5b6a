"""What a failing servicer's caller is told: its own errors by their code, a store or log out
of reach as UNAVAILABLE (worth a retry, and no ERROR line), anything else as INTERNAL."""

from __future__ import annotations

import logging

import grpc
import nats.errors
import pytest
from cassandra import OperationTimedOut
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionShutdown

from gavel.errors import NotFound
from gavel.interceptors import abort_for


class Aborted(Exception):
    pass


class FakeContext:
    def __init__(self) -> None:
        self.code: grpc.StatusCode | None = None

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.code = code
        raise Aborted

    async def abort_with_status(self, status: grpc.Status) -> None:
        self.code = status.code
        raise Aborted


async def answer(exc: Exception) -> grpc.StatusCode | None:
    context = FakeContext()
    with pytest.raises(Aborted):
        await abort_for(exc, "/auction.v1.X/Y", context)  # type: ignore[arg-type]
    return context.code


@pytest.mark.parametrize(
    "exc",
    [
        NoHostAvailable("Unable to complete the operation against any hosts", {}),
        OperationTimedOut("timed out"),
        ConnectionShutdown("[Errno 104] Connection reset by peer"),
        nats.errors.ConnectionClosedError(),
        nats.errors.NoRespondersError(),
    ],
)
async def test_a_backend_out_of_reach_is_unavailable_without_an_error_line(
    exc: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gavel.interceptors"):
        assert await answer(exc) == grpc.StatusCode.UNAVAILABLE
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_gavel_errors_keep_their_code_and_bugs_are_internal() -> None:
    assert await answer(NotFound("no such auction")) == grpc.StatusCode.NOT_FOUND
    assert await answer(KeyError("a bug")) == grpc.StatusCode.INTERNAL
