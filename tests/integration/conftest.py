from __future__ import annotations

from collections.abc import Iterator

import pytest
from cassandra.cluster import Session

from gavel import cql
from gavel.auction_store import AuctionStore
from gavel.settings import Settings


@pytest.fixture(scope="session")
def cql_session(stack: object, settings: Settings) -> Iterator[Session]:
    session = cql.connect(settings, settings.cassandra_keyspace)
    yield session
    session.cluster.shutdown()


@pytest.fixture(scope="session")
def store(cql_session: Session) -> AuctionStore:
    return AuctionStore(cql_session)
