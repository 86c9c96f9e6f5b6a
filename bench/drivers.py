"""The Python driver against acsylla (the C++ driver under asyncio) for the worker's two
writes per bid, on one Cassandra, in turns: CPU per statement in this process (every thread,
the drivers' own I/O threads too) and in Cassandra, and the rate.

Issue 14 asks whether the driver's per-request CPU is worth a second driver for the worker's
statements. So the statements have the shapes the worker sends, with the same semantics (no
driver retries, LOCAL_QUORUM, LOCAL_SERIAL): the compare-and-set (a logged batch updating
the partition's static version ``IF`` it is unchanged and inserting a row ``IF NOT
EXISTS``) and the history (an unlogged batch of two rows in two partitions). They write a
table of the bench's own, so that both drivers bind the same simple values: this measures
the drivers, not Gavel's mapping of an auction to columns. Nothing in Gavel uses acsylla.
"""

from __future__ import annotations

import asyncio
import resource
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import acsylla
from cassandra.query import BatchStatement, BatchType

from bench import procfs
from gavel import cql
from gavel.settings import Settings

TABLES = (
    "CREATE TABLE IF NOT EXISTS bench_cas (k uuid, c uuid, v int, t text, s int static, PRIMARY KEY (k, c))",
    "CREATE TABLE IF NOT EXISTS bench_rows (k uuid, c uuid, v int, t text, PRIMARY KEY (k, c))",
)
CAS = (
    "UPDATE bench_cas SET s = ? WHERE k = ? IF s = ?",
    "INSERT INTO bench_cas (k, c, v, t) VALUES (?, ?, ?, ?) IF NOT EXISTS",
)
ROW = "INSERT INTO bench_rows (k, c, v, t) VALUES (?, ?, ?, ?)"
START = "INSERT INTO bench_cas (k, s) VALUES (?, 0)"

#: One loop's writes: ``(kind, partition, version) -> applied``.
Write = Callable[[str, uuid.UUID, int], Awaitable[bool]]


def _process_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _python_driver(settings: Settings) -> tuple[Write, Callable[[], None]]:
    session = cql.connect(settings, settings.cassandra_keyspace)
    update, insert = (session.prepare(q) for q in CAS)
    row, start = session.prepare(ROW), session.prepare(START)

    async def write(kind: str, k: uuid.UUID, v: int) -> bool:
        if kind == "start":
            await cql.execute(session, start, (k,))
            return True
        if kind == "cas":
            batch = BatchStatement(batch_type=BatchType.LOGGED)
            batch.add(update, (v + 1, k, v))
            batch.add(insert, (k, uuid.uuid4(), v, "x" * 40))
            return cql.applied(await cql.execute(session, batch, profile=cql.LWT_PROFILE))
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        batch.add(row, (k, uuid.uuid4(), v, "x" * 40))
        batch.add(row, (uuid.uuid4(), uuid.uuid4(), v, "y" * 40))
        await cql.execute(session, batch)
        return True

    return write, session.cluster.shutdown


async def _acsylla(settings: Settings) -> tuple[Write, Callable[[], Awaitable[None]]]:
    cluster = acsylla.create_cluster(
        [str(h) for h in settings.cassandra_contact_points],
        port=settings.cassandra_port,
        protocol_version=4,  # the C++ driver refuses 5
        consistency=acsylla.Consistency.LOCAL_QUORUM,
        serial_consistency=acsylla.Consistency.LOCAL_SERIAL,
        retry_policy="fallthrough",
        request_timeout=10.0,
    )
    session = await cluster.create_session(keyspace=settings.cassandra_keyspace)
    update, insert = [await session.create_prepared(q) for q in CAS]
    row, start = await session.create_prepared(ROW), await session.create_prepared(START)

    def bound(prepared: Any, values: list[Any]) -> Any:
        statement = prepared.bind()
        statement.bind_list(values)
        return statement

    async def write(kind: str, k: uuid.UUID, v: int) -> bool:
        if kind == "start":
            await session.execute(bound(start, [str(k)]))
            return True
        if kind == "cas":
            batch = acsylla.create_batch_logged()
            batch.add_statement(bound(update, [v + 1, str(k), v]))
            batch.add_statement(bound(insert, [str(k), str(uuid.uuid4()), v, "x" * 40]))
            return bool((await session.execute_batch(batch)).first().column_value("[applied]"))
        batch = acsylla.create_batch_unlogged()
        batch.add_statement(bound(row, [str(k), str(uuid.uuid4()), v, "x" * 40]))
        batch.add_statement(bound(row, [str(uuid.uuid4()), str(uuid.uuid4()), v, "y" * 40]))
        await session.execute_batch(batch)
        return True

    return write, session.close


async def _round(write: Write, kind: str, concurrency: int, ops: int, cassandra_stat: Path) -> dict[str, float]:
    """``ops`` writes of ``kind``, one loop per partition, each loop one write at a time."""
    partitions = [uuid.uuid4() for _ in range(concurrency)]
    await asyncio.gather(*(write("start", k, 0) for k in partitions))
    refused = 0

    async def loop(k: uuid.UUID) -> None:
        nonlocal refused
        for v in range(ops // concurrency):
            if not await write(kind, k, v):
                refused += 1

    cpu, db, started = _process_cpu_s(), procfs.cpu_seconds(cassandra_stat), time.perf_counter()
    await asyncio.gather(*(loop(k) for k in partitions))
    elapsed = time.perf_counter() - started
    n = ops // concurrency * concurrency
    return {
        "per_s": n / elapsed,
        "client_cpu_ms_per_op": 1000 * (_process_cpu_s() - cpu) / n,
        "cassandra_cpu_ms_per_op": 1000 * (procfs.cpu_seconds(cassandra_stat) - db) / n,
        "not_applied": refused,  # each loop owns its partition: any is a bug in the bench
    }


def run(settings: Settings, cassandra_pid: int, concurrency: int, ops: int = 5000, turns: int = 3) -> dict[str, Any]:
    """Each driver's rounds in turns (python, acsylla, python, ...), after one warm-up round
    each; the median of each driver's turns is reported."""
    session = cql.connect(settings, settings.cassandra_keyspace)
    for table in TABLES:
        session.execute(table)
    session.cluster.shutdown()
    stat = Path(f"/proc/{cassandra_pid}/stat")

    async def measure() -> dict[str, Any]:
        py_write, py_close = await _python_driver(settings)
        ac_write, ac_close = await _acsylla(settings)
        drivers = {"python": py_write, "acsylla": ac_write}
        rounds: dict[str, dict[str, list[dict[str, float]]]] = {d: {"cas": [], "rows": []} for d in drivers}
        try:
            for turn in range(turns + 1):
                for kind in ("cas", "rows"):
                    for name, write in drivers.items():
                        result = await _round(write, kind, concurrency, ops, stat)
                        if turn:  # the first is the warm-up
                            rounds[name][kind].append(result)
        finally:
            py_close()
            await ac_close()
        return {name: {kind: _median(runs) for kind, runs in kinds.items()} for name, kinds in rounds.items()}

    found = asyncio.run(measure())
    found["acsylla_vs_python_client_cpu"] = {
        kind: found["acsylla"][kind]["client_cpu_ms_per_op"] / found["python"][kind]["client_cpu_ms_per_op"]
        for kind in ("cas", "rows")
    }
    return found


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: sorted(r[key] for r in runs)[len(runs) // 2] for key in runs[0]}
