"""The cluster layer: a stack of its own on 3 Cassandra nodes and 3 NATS servers
(devstack/cluster.py), with the production settings, killed node by node under bid load."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.cluster import ClusterStack, cluster_settings
from gavel.settings import Settings
from tests.cluster.report import table
from tests.local_stack import PORT_OFFSET

#: The test cluster's ports: 23000 and up (``make up-cluster`` serves on 22000 and up), shifted
#: like the test stack's by GAVEL_TEST_PORT_OFFSET.
BASE = 23000 + PORT_OFFSET


@pytest.fixture(scope="session")
def cluster_config(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return cluster_settings(
        BASE, data_dir=tmp_path_factory.mktemp("cluster"), jwt_secret="test-secret-for-the-test-cluster-only"
    )


@pytest.fixture(scope="session")
def cluster(cluster_config: Settings) -> Iterator[ClusterStack]:
    """Without Envoy: the load calls the services directly, and the gateway is the same as
    on one node."""
    stack = ClusterStack(cluster_config, gateway=False)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = table()
    if len(lines) > 1:
        terminalreporter.section("cluster: what each node's death cost (tests/cluster)")
        for line in lines:
            terminalreporter.write_line(line)
