"""Loaded by schemathesis (SCHEMATHESIS_HOOKS) in tests/e2e/test_openapi.py: times it makes up
for valid requests lie in an auction's window (from an hour to three weeks ahead), so that a
create succeeds often enough for the stateful phase to follow its links. Invalid times are
still sent by the negative cases, which ignore formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.format(
    "date-time",
    st.integers(min_value=3600, max_value=21 * 86400).map(
        lambda s: (datetime.now(UTC) + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ),
)
