"""Brings the Cassandra schema up to date: ``python -m gavel.migrate``.

Migrations are numbered CQL files applied in order and recorded in ``schema_migrations``;
every statement is idempotent (``IF NOT EXISTS``), so two migrators racing, or a migrator
killed half-way, leave a correct schema behind. The launcher, the tests and the k8s Job all
run this one step; services never create tables themselves.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from importlib import resources

from cassandra.cluster import Session

from gavel import cql, logs
from gavel.settings import Settings

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.cql$")


def _migrations() -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files("gavel.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text()))
    return sorted(found)


def _statements(cql_text: str) -> list[str]:
    without_comments = "\n".join(line for line in cql_text.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in without_comments.split(";") if s.strip()]


def migrate(session: Session, settings: Settings) -> list[str]:
    """Applies what is missing; returns the names applied this time."""
    ks = settings.cassandra_keyspace
    session.execute(
        f"CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {settings.cassandra_replication}"
        " AND durable_writes = true"
    )
    session.set_keyspace(ks)
    session.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text, applied_at timestamp)"
    )
    applied = {row.version for row in session.execute("SELECT version FROM schema_migrations")}
    done = []
    for version, name, text in _migrations():
        if version in applied:
            continue
        for statement in _statements(text):
            session.execute(statement)
        session.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
            (version, name, datetime.now(UTC)),
        )
        log.info("applied migration", extra={"migration": name})
        done.append(name)
    return done


def main() -> None:
    settings = Settings()
    logs.configure("migrate", settings.log_level)
    session = cql.connect(settings)
    try:
        migrate(session, settings)
    finally:
        session.cluster.shutdown()


if __name__ == "__main__":
    main()
