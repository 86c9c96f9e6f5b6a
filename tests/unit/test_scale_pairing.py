"""The scale bench's pairing: runs taken in turns, medians, and ratios against the runs taken
with the level (not against the smallest level measured at another time)."""

from __future__ import annotations

from typing import Any

import pytest

from bench import scale


def _run(cpu: float, p99: float = 10.0, per_s: float = 100.0, ghz: float = 1.0) -> dict[str, Any]:
    return {"cpu_ms_per_op": cpu, "p99_ms": p99, "per_s": per_s, "cpu_s_per_1000": {"cassandra": cpu - ghz, "ghz": ghz}}


def test_runs_alternate_and_each_side_keeps_its_median() -> None:
    order: list[str] = []
    ours = iter([_run(5.0), _run(9.0), _run(7.0)])
    theirs = iter([_run(1.0), _run(3.0), _run(2.0)])

    def mine() -> dict[str, Any]:
        order.append("ours")
        return next(ours)

    def other() -> dict[str, Any]:
        order.append("theirs")
        return next(theirs)

    a, b = scale.alternated(mine, other, repeats=3)
    assert order == ["ours", "theirs"] * 3
    assert (a["cpu_ms_per_op"], a["cpu_ms_per_op_runs"]) == (7.0, [5.0, 7.0, 9.0])
    assert (b["cpu_ms_per_op"], b["cpu_ms_per_op_runs"]) == (2.0, [1.0, 2.0, 3.0])


def test_ratios_divide_by_the_runs_taken_in_turns_with_the_level() -> None:
    levels = {
        1_000: {"bids": _run(100.0), "paced_bids": _run(100.0), "creates": _run(100.0)},  # another time: not used
        1_000_000: {
            "bids": _run(12.0, p99=30.0, per_s=80.0, ghz=3.0),
            "paced_bids": _run(11.0, p99=11.0, per_s=49.0, ghz=2.0),
            "creates": _run(9.0),
            "reads": {"cpu_s_per_1000": {"cassandra": 0.6, "bench": 0.4, "bid_svc": 0.3}},
            "baseline_bids": _run(10.0, p99=20.0, per_s=100.0),
            "baseline_paced_bids": _run(10.0, p99=10.0, per_s=50.0),
            "baseline_creates": _run(10.0),
        },
    }
    r = scale.ratios(levels, None)
    assert r == pytest.approx(
        {
            # The ratios: flat out, as make bench measures.
            "bid_cost_1m_vs_1k": 1.2,
            "create_cost_1m_vs_1k": 0.9,
            "bid_p99_1m_vs_1k": 1.5,
            "bid_rate_1m_vs_1k": 0.8,
            "bid_cost_servers_1m_vs_1k": 1.0,  # 9 ms of Gavel's per bid at both: the client's rose
            # The same offered load at both N.
            "bid_cost_paced_1m_vs_1k": 1.1,
            "bid_p99_paced_1m_vs_1k": 1.1,
            "paced_rate_1m_vs_1k": 0.98,
            # One point read (Cassandra's and its client's CPU, not idle bid_svc's) on the small N's bid.
            "bound_bid_cost_1m_vs_1k": 1.1,
        }
    )


def test_figures_without_paced_runs_or_reads_have_the_flat_out_ratios() -> None:
    levels = {100: {"bids": _run(4.0), "creates": _run(2.0)}, 400: {"bids": _run(5.0), "creates": _run(3.0)}}
    r = scale.ratios(levels, None)
    assert r["bid_cost_400_vs_100"] == 1.25
    assert not {"bid_cost_paced_400_vs_100", "bound_bid_cost_400_vs_100"} & set(r)


def test_without_a_baseline_the_smallest_level_is_the_reference() -> None:
    levels = {
        100: {"bids": _run(4.0), "paced_bids": _run(4.0), "creates": _run(2.0)},
        400: {"bids": _run(5.0), "paced_bids": _run(5.0), "creates": _run(3.0)},
    }
    r = scale.ratios(levels, {"lag_p99_s": 0.5})
    assert r["bid_cost_400_vs_100"] == 1.25 and r["create_cost_400_vs_100"] == 1.5
    assert r["close_lag_p99_s"] == 0.5
