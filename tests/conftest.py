"""Fixtures shared by every layer.

The integration and e2e layers run against one real stack per test session (Cassandra,
NATS, the services, Envoy), started by the same code as ``make up`` but on its own ports and
in a fresh data directory, so tests never touch (or collide with) a developer's stack.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gavel.auth import mint_dev_token
from gavel.settings import Settings


#: Shifts every port of the test stack, so two test runs can share a machine.
PORT_OFFSET = int(os.environ.get("GAVEL_TEST_PORT_OFFSET", "0"))


#: The one user and the one client address (a loopback address no other test uses) the test
#: stack limits to LIMITED_RATE calls per second on every route (tests/e2e/test_gateway_limits.py).
LIMITED_USER = "rate-limited-bidder"
LIMITED_ADDRESS = "127.0.0.77"
LIMITED_RATE = 3


def stack_settings(data_dir: Path) -> Settings:
    o = PORT_OFFSET
    return Settings(
        auction_port=15051 + o,
        bid_port=15052 + o,
        stream_port=15053 + o,
        auction_metrics_port=19101 + o,
        bid_metrics_port=19102 + o,
        stream_metrics_port=19103 + o,
        envoy_port=18080 + o,
        envoy_admin_port=19901 + o,
        cassandra_port=19042 + o,
        cassandra_storage_port=17000 + o,
        nats_url=f"nats://127.0.0.1:{14222 + o}",
        nats_port=14222 + o,
        nats_monitor_port=18222 + o,
        jwt_secret="test-secret-for-the-test-stack-only",
        data_dir=data_dir,
        # Limits high enough that no test is throttled by another; the limit tests get low
        # ones through overrides for their own user and client address only.
        gateway_writes_per_user=1_000,
        gateway_writes_per_address=10_000,
        gateway_reads_per_user=1_000,
        gateway_reads_per_address=10_000,
        gateway_watches_per_user=1_000,
        gateway_watches_per_address=10_000,
        gateway_rate_overrides={f"user:{LIMITED_USER}": LIMITED_RATE, f"address:{LIMITED_ADDRESS}": LIMITED_RATE},
    )


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return stack_settings(tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[object]:
    from devstack.stack import running

    with running(settings) as started:
        yield started


@pytest.fixture(scope="session")
def token_for(settings: Settings):
    def make(user_id: str) -> str:
        return mint_dev_token(user_id, settings.jwt_secret, settings.jwt_audience)

    return make


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fuzz tests' counts (requests sent, answers seen), when any ran."""
    import sys

    fuzzing = sys.modules.get("tests.fuzzing")
    lines = list(fuzzing.TALLY.lines()) if fuzzing else []
    if lines:
        terminalreporter.section("fuzzed requests")
        for line in lines:
            terminalreporter.write_line(line)
