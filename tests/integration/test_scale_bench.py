"""The scale bench's own code at a small N, on the test stack (``make bench-scale`` runs it to a
million open auctions): loads, bids drawn from all of them, creates, memory and disk per
auction, the closer with many auctions ending together, watchers over many auctions, and the
capacity model rendered from the figures."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from bench import capacity, scale
from bench.runs import GHZ_DEFAULT
from devstack.stack import Stack
from gavel.settings import Settings


def test_the_scale_bench_at_a_small_n(stack: Stack, settings: Settings) -> None:
    ghz = Path(os.environ.get("GAVEL_GHZ", GHZ_DEFAULT))
    assert ghz.exists(), f"{ghz} is missing: `make test` builds it (the GHZ target)"
    # A plain test: the bench drives its own event loops (asyncio.run).
    r = scale.run(
        settings,
        stack,
        str(ghz),
        [100, 400],
        concurrency=4,
        seconds=2,
        ending=60,
        watchers=40,
        watched=8,
        warm=False,
        closing_window=timedelta(seconds=3),
    )

    for n in ("100", "400"):
        level = r["levels"][n]
        assert level["bids"]["ops"] > 0 and level["bids"]["cpu_ms_per_op"] > 0
        decided = sum(v for k, v in level["bids"]["bid_svc_counters"].items() if k.startswith("bid_decisions_total"))
        assert decided >= level["bids"]["status"]["OK"] > 0  # every answered bid was decided (and proxy bids)
        # Each bid beats the one before it: the outcome mix is the same at every N (a few may
        # race a later one on the same auction and lose to it).
        accepted = level["bids"]["bid_svc_counters"]['place_bid_answers_total{status="BID_STATUS_ACCEPTED"}']
        assert accepted >= 0.9 * level["bids"]["status"]["OK"]
        assert len(level["bids"]["cpu_ms_per_op_runs"]) == scale.REPEATS
        # Paced: one offered load at every N, set from the smallest N's rate flat out.
        paced = level["paced_bids"]
        assert level["paced_rps"] == r["levels"]["100"]["paced_rps"]
        assert level["paced_rps"] <= scale.PACED_FRACTION * r["levels"]["100"]["bids"]["per_s"] + 1
        assert paced["ops"] > 0 and paced["cpu_ms_per_op"] > 0 and len(paced["cpu_ms_per_op_runs"]) == scale.REPEATS
        assert paced["per_s"] <= level["paced_rps"] * 1.2  # held to the offered load, not flat out
        # The nodetool JVM that flushes after each run is kept apart, not charged to ghz or the op.
        cpu = level["bids"]["cpu_s_per_1000"]
        assert cpu["nodetool"] > 0 and cpu["ghz"] > 0
        assert level["bids"]["cpu_ms_per_op"] == pytest.approx(
            sum(v for k, v in cpu.items() if k not in ("envoy", "nodetool"))
        )
        reads = level["reads"]  # the raw point read, alone
        assert reads["ops"] > 0 and scale.read_cost(reads) > 0
        assert level["creates"]["ops"] > 0 and level["creates"]["status"].get("OK", 0) > 0
        # The per-auction caches report their sizes (on the shared stack they hold other tests' auctions too).
        assert level["memory"]["entries"]["gavel_bid_sellers_known"] >= 1
        assert level["memory"]["entries"]["gavel_bid_known_auctions"] >= 1
        assert level["disk"]["cassandra_auctions_bytes"] > 0 and level["disk"]["nats_bids_bytes"] > 0
    assert (
        r["levels"]["400"]["disk"]["cassandra_auctions_bytes"] > r["levels"]["100"]["disk"]["cassandra_auctions_bytes"]
    )

    closer = r["closer"]
    assert (closer["closed"], closer["left_open"], closer["closed_twice"], closer["timed_out"]) == (60, 0, 0, False)
    assert 0 <= closer["lag_p50_s"] <= closer["lag_p99_s"] <= closer["lag_max_s"]

    w = r["watchers"]
    assert w["all_ended_on_final_version"] and w["never_went_down_or_repeated"]
    assert w["deliveries"] >= w["watchers"]  # every watcher saw its auction's bid
    assert w["stream_svc_nats_subscriptions"] >= w["auctions"]  # one per watched auction

    assert set(r["ratios"]) >= {
        "bid_cost_400_vs_100",
        "create_cost_400_vs_100",
        "bid_p99_400_vs_100",
        "bid_cost_paced_400_vs_100",
        "paced_rate_400_vs_100",
        "bound_bid_cost_400_vs_100",
    }
    # The issue's ratios are the flat-out runs'; the bound adds one raw point read to a bid.
    assert r["ratios"]["bid_cost_400_vs_100"] == (
        r["levels"]["400"]["bids"]["cpu_ms_per_op"] / r["levels"]["100"]["bids"]["cpu_ms_per_op"]
    )
    assert r["ratios"]["bound_bid_cost_400_vs_100"] > 1
    doc = capacity.render(r, None)
    model = capacity.model(r, None)
    # The bench's bids go to bid_svc directly: Envoy's share may round to nothing, the path's may not.
    assert all(model["cores"][k] > 0 for k in ("bid_svc (API and workers)", "cassandra", "nats"))
    assert f"the first bottleneck is {model['first_bottleneck']}" in doc
