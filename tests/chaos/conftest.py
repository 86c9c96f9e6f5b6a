"""The fault tests run on the suite's stack, last (see testpaths), since they kill its parts."""

from __future__ import annotations

import pytest

from tests.chaos.report import FIGURES, table


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("faults: what each cost (tests/chaos)")
        for line in table():
            terminalreporter.write_line(line)
