"""bench/report.png from bench/results.json: what the table says, at a glance.

Left, every ratio against its goal, as how far it is from it (value ÷ goal for a floor, goal ÷
value for a ceiling: 1 is the goal, right of it met); right, the latency distributions the
bench measured (PlaceBid direct, through Envoy, on one hot auction, and bid → watcher with
the fan-out's crowd) as CDFs. ``python -m bench.report [RESULTS] [PNG]`` redraws it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
REPORT = ROOT / "bench" / "report.png"

#: The distributions drawn, each a run of results.json with a cdf_ms.
DISTRIBUTIONS = {
    "PlaceBid, direct": ("path_many_direct",),
    "PlaceBid, through Envoy": ("path_many_envoy",),
    "PlaceBid, one hot auction": ("path_hot_direct",),
    "PlaceBid, one client": ("path_sequential",),
    "bid → watcher, one watcher": ("fanout_one",),
    "bid → watcher, the crowd": ("fanout",),
}


def against_goal(op: str, goal: float, value: float) -> float:
    """1 at the goal, above it when met, whichever way the goal points."""
    return value / goal if op == ">=" else goal / value


def draw(results: dict[str, Any], out: Path) -> None:
    ratios, targets = results.get("ratios", {}), results.get("targets", {})
    named = [(name, targets[name]["goal"].split(), ratios[name]) for name in targets if name in ratios]
    fig, (bars, cdfs) = plt.subplots(1, 2, figsize=(15, max(4.5, 0.45 * len(named) + 1.5)))

    labels, scores, colours = [], [], []
    for name, (op, goal), value in named:
        labels.append(f"{name}\n{value:.3g} (goal {op} {goal})")
        scores.append(against_goal(op, float(goal), value))
        colours.append("tab:green" if targets[name]["met"] else "tab:red")
    bars.barh(labels, scores, color=colours)
    bars.axvline(1.0, color="black", linewidth=1)
    bars.set_xscale("log")
    bars.invert_yaxis()
    bars.tick_params(axis="y", labelsize=7)
    bars.set_xlabel("against the goal (1 = the goal; right of it: met)")
    bars.set_title("Ratios against their goals")

    for label, (key,) in DISTRIBUTIONS.items():
        points = results.get(key, {}).get("cdf_ms") or []
        if points:
            cdfs.plot([ms for ms, _ in points], [f for _, f in points], marker=".", label=label)
    cdfs.set_xscale("log")
    cdfs.set_xlabel("latency (ms)")
    cdfs.set_ylabel("fraction of calls at or below")
    cdfs.set_ylim(0, 1.01)
    cdfs.grid(True, which="both", alpha=0.3)
    cdfs.legend(fontsize=8, loc="lower right")
    cdfs.set_title("Latency distributions")

    fig.suptitle(f"make bench, {results.get('when', '')[:19]} (one run, one machine: ratios are what count)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    results = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else REPORT
    draw(json.loads(results.read_text()), out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
