"""The Cassandra session every service shares, and an asyncio bridge to the driver.

Two execution profiles, chosen on purpose:
- ``default``: LOCAL_QUORUM with the driver's standard retries, for plain reads and
  idempotent writes.
- ``lwt``: serial consistency LOCAL_SERIAL and *no* driver retries. A compare-and-set that
  timed out may still have been applied, so re-sending it blindly could apply it twice (or
  report a loss that was a win); the caller resolves an unknown outcome with a SERIAL read.

In one data centre (the local cluster, k8s) LOCAL_QUORUM is QUORUM and LOCAL_SERIAL is
SERIAL: 2 of RF 3, so one node may be down and every read still sees every acknowledged
write. The LOCAL_ forms are kept on purpose: a second data centre would then answer bids
from its own replicas instead of putting a cross-DC round trip into every Paxos phase.
"""

from __future__ import annotations

import asyncio
import functools
import re
import socket
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, ResponseFuture, ResultSet, Session
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    FallthroughRetryPolicy,
    RetryPolicy,
    TokenAwarePolicy,
)
from cassandra.query import UNSET_VALUE

from gavel.settings import Settings

LWT_PROFILE = "lwt"


def unset_if_none(value: Any) -> Any:
    """A column the write leaves as it is, rather than writing a null (a tombstone)."""
    return UNSET_VALUE if value is None else value


@functools.lru_cache(maxsize=512)
def _row_type(columns: tuple[str, ...]) -> Any:
    return namedtuple("Row", [re.sub(r"\W", "", c) for c in columns], rename=True)


def named_tuples(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Rows as named tuples, like the driver's default, but with one class per result shape:
    the default builds a new namedtuple class for every result set, which profiling showed
    as a few percent of a bid worker's CPU. (``[applied]`` becomes ``applied``.)"""
    row = _row_type(tuple(columns))
    return [row._make(r) for r in rows]


def applied(result: ResultSet) -> bool:
    """Whether a conditional statement or batch applied (``ResultSet.was_applied`` accepts
    only the driver's own row factories)."""
    return bool(result.current_rows[0][0])


def connect(settings: Settings, keyspace: str | None = None) -> Session:
    """Opens the cluster connection; blocking, so call it once at start-up."""

    def balancing() -> TokenAwarePolicy:
        return TokenAwarePolicy(DCAwareRoundRobinPolicy())

    profiles = {
        EXEC_PROFILE_DEFAULT: ExecutionProfile(
            load_balancing_policy=balancing(),
            retry_policy=RetryPolicy(),
            consistency_level=ConsistencyLevel.LOCAL_QUORUM,
            request_timeout=10.0,
            row_factory=named_tuples,
        ),
        LWT_PROFILE: ExecutionProfile(
            load_balancing_policy=balancing(),
            retry_policy=FallthroughRetryPolicy(),
            consistency_level=ConsistencyLevel.LOCAL_QUORUM,
            serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL,
            request_timeout=10.0,
            row_factory=named_tuples,
        ),
    }
    cluster = Cluster(
        contact_points=settings.cassandra_contact_points,
        port=settings.cassandra_port,
        execution_profiles=profiles,
        protocol_version=5,
        # Without it, a request bigger than one segment (a group-commit batch) waits out
        # Nagle against the server's delayed ACK: ~40 ms per 64-bid batch, measured.
        sockopts=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    )
    return cluster.connect(keyspace)


async def execute(
    session: Session,
    query: Any,
    params: Any = None,
    *,
    profile: str | object = EXEC_PROFILE_DEFAULT,
    paging_state: bytes | None = None,
) -> ResultSet:
    """Runs one statement without blocking the event loop.

    Only the first page is fetched; use ``rs.current_rows`` and ``rs.paging_state`` (iterating
    the result would page synchronously on the loop).
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    rf: ResponseFuture = session.execute_async(query, params, execution_profile=profile, paging_state=paging_state)

    def settle(_: Any = None) -> None:
        if not done.done():
            done.set_result(None)

    rf.add_callbacks(
        lambda rows: loop.call_soon_threadsafe(settle),
        lambda exc: loop.call_soon_threadsafe(settle),
    )
    await done
    return rf.result()  # done: returns the ResultSet or raises the driver's error


async def execute_all(session: Session, query: Any, params: Any = None) -> list[Any]:
    """Every row, page after page, each page awaited like ``execute`` (for a partition read
    whole: an auction's bids, its watchers, a user's watchlist)."""
    rows: list[Any] = []
    paging: bytes | None = None
    while True:
        rs = await execute(session, query, params, paging_state=paging)
        rows += rs.current_rows
        paging = rs.paging_state
        if paging is None:
            return rows
