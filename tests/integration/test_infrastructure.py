"""The real servers run with the settings the design depends on."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from cassandra.cluster import Session

from devstack import components
from devstack.process import ManagedProcess
from gavel import migrate
from gavel.settings import Settings


def test_cassandra_runs_paxos_v2_and_fsyncs_before_acking(cql_session: Session) -> None:
    rows = cql_session.execute(
        "SELECT name, value FROM system_views.settings WHERE name IN ('paxos_variant', 'commitlog_sync')"
    )
    assert {r.name: r.value for r in rows} == {"paxos_variant": "v2", "commitlog_sync": "batch"}
    version = cql_session.execute("SELECT release_version FROM system.local").one().release_version
    assert version.startswith("5.0.")


def test_jetstream_fsyncs_every_write(stack: object, settings: Settings) -> None:
    varz = httpx.get(f"http://127.0.0.1:{settings.nats_monitor_port}/varz").json()
    assert varz["jetstream"]["config"]["sync_always"] is True
    major, minor = (int(x) for x in varz["version"].split(".")[:2])
    assert (major, minor) >= (2, 12)


def test_migrations_are_recorded_and_idempotent(cql_session: Session, settings: Settings) -> None:
    applied = {r.name for r in cql_session.execute("SELECT name FROM schema_migrations")}
    assert "0001_auctions.cql" in applied
    assert migrate.migrate(cql_session, settings) == []
    tables = {
        r.table_name
        for r in cql_session.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (settings.cassandra_keyspace,)
        )
    }
    assert {"auctions", "auctions_by_end_hour", "end_hours", "auctions_by_seller"} <= tables


def test_stack_refuses_a_nats_that_does_not_fsync_every_write(tmp_path: Path, settings: Settings) -> None:
    """The gate itself: a JetStream server with the default lazy fsync is refused."""
    lazy = settings.model_copy(update={"nats_port": 24222, "nats_monitor_port": 28222, "data_dir": tmp_path})
    config = tmp_path / "lazy.conf"
    config.write_text(
        f"listen: 127.0.0.1:{lazy.nats_port}\nhttp: 127.0.0.1:{lazy.nats_monitor_port}\n"
        f'jetstream {{ store_dir: "{tmp_path / "js"}" }}\n'
    )
    proc = ManagedProcess(
        "lazy-nats", [str(Path(sys.executable).parent / "nats-server"), "-c", str(config)], tmp_path / "lazy.log"
    )
    proc.start()
    try:
        with pytest.raises(components.StackError, match="fsync"):
            components.wait_ready(proc, lambda: components.nats_ready(lazy), timeout=30)
    finally:
        proc.stop()
