"""The edge every service shares: request context, metrics, errors, auth, checks, in one
server interceptor (``GavelInterceptor``).

gRPC's aio interceptors see only the method name and metadata, not the call; the
interceptor therefore wraps the method's handler in one that runs inside the RPC's own task
(where context variables and ``context`` are available). Order, outermost first: request
id → metrics → error mapping → auth → request checks → the servicer.

Server streams are wrapped as coroutines that write each response (``context.write``), not
as async generators that re-yield them: when a client cancels, gRPC cancels the RPC's task,
and the cancellation then unwinds the wrapper, and closes the servicer's generator, in
that task. A re-yielding generator suspended at ``yield`` is instead left to the garbage
collector, whose ``aclose()`` runs in another task and Context, where resetting the
wrapper's context variables raised ``ValueError`` (an ERROR line for a normal cancel).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn, TypeAlias, cast

import grpc
import nats.errors
from cassandra import OperationTimedOut, RequestExecutionException
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionException
from google.protobuf.message import Message
from grpc._cython.cygrpc import ExecuteBatchError  # type: ignore[import-not-found]  # what a send on a gone call raises (not re-exported)
from grpc.aio import ServicerContext as _ServicerContext
from prometheus_client import Counter, Histogram

from gavel import auth, logs
from gavel.errors import GavelError, InvalidArgument, Unauthenticated
from gavel.validation import well_known_violations

log = logging.getLogger(__name__)

#: Interceptors see every method, so requests and responses are typed as Any here (the
#: stubs' generics are not subscriptable at run time, hence the strings).
ServicerContext: TypeAlias = "_ServicerContext[Any, Any]"
MethodHandler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Continuation: TypeAlias = "Callable[[grpc.HandlerCallDetails], Awaitable[MethodHandler | None]]"

Around = Callable[[str, Mapping[str, str], ServicerContext], contextlib.AbstractAsyncContextManager[None]]
Handler = Callable[[Any, ServicerContext], Any]


async def _write_all(behaviour: Handler, request: Any, context: ServicerContext) -> None:
    """Runs a server-stream behaviour to its end in the calling task, whichever form it has:
    a coroutine that writes itself (ours, health's Watch) or an async generator (servicers).
    The generator is closed here on every exit, cancellation included."""
    if inspect.iscoroutinefunction(behaviour):
        await behaviour(request, context)
        return
    async with contextlib.aclosing(behaviour(request, context)) as responses:
        async for response in responses:
            try:
                await context.write(response)
            except ExecuteBatchError:
                # The client cancelled (or its connection dropped) under this send, a moment
                # before gRPC cancels this task for it: end the stream as that cancellation
                # would, not as a bug.
                raise asyncio.CancelledError() from None


RPC_HANDLED = Counter(
    "gavel_rpc_handled_total", "RPCs completed, by method and status code.", ["grpc_method", "grpc_code"]
)
RPC_SECONDS = Histogram(
    "gavel_rpc_handling_seconds",
    "Time from the start of an RPC to its last message, by method.",
    ["grpc_method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120),
)

#: A store or the log out of reach (restarting, overloaded, a connection found dead on first
#: use after a restart): the request may succeed if retried, so the caller is told UNAVAILABLE,
#: not INTERNAL. Seen in the fault tests: after Cassandra came back, a stream service that had
#: not read from it meanwhile failed its next reads on the dead connection, as INTERNAL.
#: A connection reset under a request in flight (the node killed) is the same: a statement
#: with no driver retries (the LWT profile) surfaces it as it is.
BACKEND_UNAVAILABLE = (
    NoHostAvailable,
    OperationTimedOut,
    RequestExecutionException,
    ConnectionException,
    nats.errors.Error,
)


async def abort_for(exc: Exception, method: str, context: ServicerContext) -> NoReturn:
    """Ends the call with the status ``exc`` means (always raises): Gavel errors their own;
    a backend out of reach UNAVAILABLE (retry); anything else is a bug, logged, INTERNAL."""
    if isinstance(exc, GavelError):
        await context.abort_with_status(exc.to_status())
    if isinstance(exc, BACKEND_UNAVAILABLE):
        log.warning("backend unavailable: %s", type(exc).__name__, extra={"method": method, "error": str(exc)[:300]})
        await context.abort(grpc.StatusCode.UNAVAILABLE, f"a backend is unavailable ({type(exc).__name__}); retry")
    log.error("unhandled error", extra={"method": method}, exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error")


class GavelInterceptor(grpc.aio.ServerInterceptor):
    """Every call's edge, in one wrapper: request id, metrics, error mapping, auth, request
    checks, then the servicer. One layer, with plain ``try`` blocks, because each nested
    interceptor cost an ``intercept_service`` await, a wrapped handler and an async context
    manager per call: 18% of the bid service's CPU under load (``make profile``).

    Auth: a bearer token is verified when one is sent (a bad one is refused even on a read: a
    client that believes it is signed in should learn that it is not, rather than silently
    see anonymous results); a caller is required where one is needed (writes, "my" reads).

    Checks: gRPC's own answer to undecodable bytes is UNKNOWN with an ERROR line in the log;
    the deserializer here never raises, and ``check_request`` turns what it could not parse
    into INVALID_ARGUMENT, mapped and counted like any other bad input."""

    def __init__(self, verifier: auth.TokenVerifier, authenticated_methods: frozenset[str]) -> None:
        self._verifier = verifier
        self._authenticated_methods = authenticated_methods
        self._wrapped: dict[str, MethodHandler] = {}

    def _principal(self, method: str, metadata: Mapping[str, str]) -> auth.Principal | None:
        header = metadata.get("authorization")
        if header:
            try:
                return self._verifier.verify(header)
            except auth.InvalidToken as exc:
                raise Unauthenticated(str(exc)) from exc
        if method in self._authenticated_methods:
            raise Unauthenticated("this call needs 'authorization: Bearer <JWT>'")
        return None

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> MethodHandler | None:
        """The method's wrapped handler, built on its first call and kept: gRPC asks for a
        handler on every call, and building the wrapper each time (its closures, a handler,
        the metrics' children) was CPU spent per call for the same result."""
        method = details.method
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            handler = await continuation(details)
            if handler is None or handler.request_streaming:
                return handler  # unknown methods, and streaming requests (reflection), untouched
            wrapped = self._wrapped[method] = self._wrap(method, handler)
        return wrapped

    def _wrap(self, method: str, handler: MethodHandler) -> MethodHandler:
        principal_of = self._principal
        seconds = RPC_SECONDS.labels(method)
        handled: dict[grpc.StatusCode, Any] = {}

        async def edge(request: Any, context: ServicerContext, behaviour: Callable[[], Awaitable[Any]]) -> Any:
            metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
            request_id = logs.request_id.set(metadata.get("x-request-id") or uuid.uuid4().hex)
            start = time.perf_counter()
            code = grpc.StatusCode.UNKNOWN
            try:
                try:
                    principal = auth.current_principal.set(principal_of(method, metadata))
                    try:
                        check_request(method, request)
                        result = await behaviour()
                    finally:
                        auth.current_principal.reset(principal)
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:
                    await abort_for(exc, method, context)
                code = context.code() or grpc.StatusCode.OK
                return result
            except BaseException:
                code = context.code() or grpc.StatusCode.CANCELLED
                raise
            finally:
                seconds.observe(time.perf_counter() - start)
                counter = handled.get(code)
                if counter is None:
                    counter = handled[code] = RPC_HANDLED.labels(method, code.name)
                counter.inc()
                logs.request_id.reset(request_id)

        deserialize = _tolerant(handler.request_deserializer)
        if handler.unary_unary is not None:
            inner_uu = cast(Handler, handler.unary_unary)  # aio: the behaviours are coroutines

            async def unary_unary(request: Any, context: ServicerContext) -> Any:
                return await edge(request, context, lambda: inner_uu(request, context))

            return grpc.unary_unary_rpc_method_handler(unary_unary, deserialize, handler.response_serializer)
        if handler.unary_stream is not None:
            inner_us = cast(Handler, handler.unary_stream)

            async def unary_stream(request: Any, context: ServicerContext) -> None:
                await edge(request, context, lambda: _write_all(inner_us, request, context))

            return grpc.unary_stream_rpc_method_handler(unary_stream, deserialize, handler.response_serializer)
        return handler


def viewer() -> auth.Principal | None:
    """Who is reading (None when anonymous): what views mask depends on it (``views``)."""
    return auth.current_principal.get()


def require_principal() -> auth.Principal:
    """The caller of a write method (the auth interceptor has already insisted on one)."""
    principal = auth.current_principal.get()
    if principal is None:
        raise Unauthenticated("this call needs 'authorization: Bearer <JWT>'")
    return principal


class _Undecodable:
    """Stands in for a request whose bytes are not the method's message (see below)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:  # protobuf's DecodeError, or whatever a parser raises on garbage
            return _Undecodable(f"{type(exc).__name__}: {exc}")

    return deserialize


def check_request(method: str, request: Any) -> None:
    """INVALID_ARGUMENT for a request no servicer should see: bytes that are not the method's
    message, or a Timestamp/Duration outside its type's range anywhere in it."""
    if isinstance(request, _Undecodable):
        raise InvalidArgument([], f"the request is not a valid message for {method} ({request.reason})")
    if isinstance(request, Message):
        violations = well_known_violations(request)
        if violations:
            raise InvalidArgument(violations)
