"""The real servers run with the settings the design depends on."""

from __future__ import annotations

import httpx
from cassandra.cluster import Session

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
