"""bench/report.py draws what results.json holds: a bar per ratio with a goal, a CDF per
distribution measured."""

from __future__ import annotations

from pathlib import Path

from bench import report
from bench.__main__ import TARGETS, _met
from bench.runs import cdf


def test_the_report_is_a_png_of_the_ratios_and_distributions(tmp_path: Path) -> None:
    ratios = {name: goal * (1.2 if op == ">=" else 0.8) for name, (op, goal) in TARGETS.items()}
    ratios["path_cpu_vs_parts"] = 2.8  # one missed
    results = {
        "when": "2026-12-03T00:00:00",
        "ratios": ratios,
        "targets": {n: {"goal": f"{op} {g}", "met": _met(op, g, ratios[n])} for n, (op, g) in TARGETS.items()},
        "path_many_direct": {"cdf_ms": cdf([0.001 * i for i in range(1, 200)])},
        "fanout": {"cdf_ms": cdf([0.002 * i for i in range(1, 50)])},
    }
    out = tmp_path / "report.png"
    report.draw(results, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 20_000  # drawn, not an empty canvas


def test_against_goal_is_one_at_the_goal_and_above_when_met() -> None:
    assert report.against_goal(">=", 0.8, 0.8) == 1.0
    assert report.against_goal(">=", 0.8, 1.6) == 2.0
    assert report.against_goal("<=", 1.5, 3.0) == 0.5


def test_cdf_runs_from_the_fastest_to_the_slowest() -> None:
    points = cdf([0.003, 0.001, 0.002])
    assert points[0] == (1.0, 0.0) and points[-1] == (3.0, 1.0)
    assert [f for _, f in points] == sorted(f for _, f in points)
