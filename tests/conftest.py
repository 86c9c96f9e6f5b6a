"""Fixtures shared by every layer, and each test's layer as its marker.

The integration, e2e and chaos layers run against one real stack per test session (Cassandra,
NATS, the services, Envoy), started by the same code as ``make up`` but on its own ports and
in a fresh data directory (tests/local_stack.py), so tests never touch (or collide with) a
developer's stack.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from hypothesis import settings as hypothesis_settings

from gavel.auth import ALGORITHM, SERVICE_ROLE, mint_dev_token
from gavel.settings import Settings
from tests.local_stack import stack_settings

TESTS = Path(__file__).parent

# Property tests assert what is decided, never how fast: Hypothesis' default deadline (200 ms
# an example) is a timed assertion, and it failed a rules test on this shared machine while a
# benchmark ran beside it. Speed is `make bench`'s to measure.
hypothesis_settings.register_profile("gavel", deadline=None)
hypothesis_settings.load_profile("gavel")
#: The layers in the order they run (pyproject's testpaths: the fault tests, which kill parts of
#: the shared stack, last). Each test is marked with its folder's layer, so ``-m "not chaos"``
#: or ``-m unit`` picks layers without naming paths. Then ``cluster`` (tests/cluster), on a
#: cluster of its own (3 Cassandra nodes, 3 NATS servers), not the shared stack.
LAYERS = ("unit", "integration", "e2e", "chaos", "cluster")


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


@pytest.fixture(scope="session")
def service_token(settings: Settings) -> str:
    """An internal service's credential (the ``roles`` claim): it sees real bidder ids. The
    dev token endpoint never issues one; this is signed with the stack's secret directly."""
    now = int(time.time())
    claims = {"sub": "test-service", "aud": settings.jwt_audience, "exp": now + 3600, "roles": [SERVICE_ROLE]}
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        layer = item.path.relative_to(TESTS).parts[0]
        if layer not in LAYERS:
            raise pytest.UsageError(f"{item.nodeid}: a test lives in one of the layers {LAYERS}")
        item.add_marker(layer)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fuzz tests' counts (requests sent, answers seen), when any ran."""
    import sys

    fuzzing = sys.modules.get("tests.fuzzing")
    lines = list(fuzzing.TALLY.lines()) if fuzzing else []
    if lines:
        terminalreporter.section("fuzzed requests")
        for line in lines:
            terminalreporter.write_line(line)
