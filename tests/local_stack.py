"""The test stack's settings: its own ports (so it never meets a developer's stack, and two
test runs can share a machine with GAVEL_TEST_PORT_OFFSET) and its own gateway limits.

A module, not conftest.py, because tests import from it (a conftest is pytest's to load).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from gavel.settings import Settings

#: Shifts every port of the test stack, so two test runs can share a machine.
PORT_OFFSET = int(os.environ.get("GAVEL_TEST_PORT_OFFSET", "0"))


#: The one user and the one client address (a loopback address no other test uses) the test
#: stack limits to LIMITED_RATE calls per second on every route (tests/e2e/test_gateway_limits.py).
LIMITED_USER = "rate-limited-bidder"
LIMITED_ADDRESS = "127.0.0.77"
LIMITED_RATE = 3
#: GAVEL_RETRACT_RECENT of the test stack: a bid older than this is old for a retraction.
RETRACT_RECENT_S = 3
#: Auctions that end later than this after they are created are told that they end soon.
ENDING_SOON_S = 8


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
        prometheus_port=19090 + o,
        cassandra_port=19042 + o,
        cassandra_storage_port=17000 + o,
        cassandra_jmx_port=17199 + o,  # nodetool, for the scale bench's run at a small N
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
        # The sale and retraction in seconds, not days (the rules are the same).
        payment_window_min=timedelta(seconds=1),
        retract_recent=timedelta(seconds=RETRACT_RECENT_S),
        notification_ending_soon=timedelta(seconds=ENDING_SOON_S),
    )
