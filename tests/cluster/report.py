"""What each fault on the cluster cost, collected during the run and printed at its end (and
written to build/test-artifacts/cluster.json), like tests/chaos/report.py."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

ARTIFACT = Path(__file__).resolve().parents[2] / "build" / "test-artifacts" / "cluster.json"


@dataclass(frozen=True)
class NodeFigures:
    fault: str
    acknowledged: int  # bids answered (the log acknowledged them) from the kill until the phase ended
    lost: int  # acknowledged bids without their recorded outcome at the end: must be 0
    failed_calls: int  # PlaceBid calls that failed (the client retried them, same request_id)
    error_window_s: float  # from the first failed call to the last one (0: none failed)
    pending: int  # answered PENDING (decided, but after PlaceBid's wait)
    decided_again_s: float  # from the kill until a bid sent after it was decided (recovery)
    longest_stall_s: float  # the longest time without a decided answer, from the kill to the phase's end
    slowest_bid_s: float  # the longest a bidder waited for an answer (retries included)
    node_back_s: float  # from the restart until the node was ready (caught up, in its cluster)
    phase_s: float  # the kill, the load on the rest, the restart, and load after it
    #: From the kill to JetStream's advisory of a new leader for the bid log (None: it kept
    #: its leader), and for the lease bucket: the part of a stall that is the election.
    log_elected_s: float | None
    leases_elected_s: float | None
    leases_lost: int  # partition leases the live worker found gone during the phase: 0 is the aim
    statuses: str  # the failed calls by status, e.g. "UNAVAILABLE 189"


FIGURES: list[NodeFigures] = []
#: Resident memory of each store node (MiB), sampled at the end of the load.
MEMORY: dict[str, int] = {}


def record(figures: NodeFigures) -> None:
    FIGURES.append(figures)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps({"faults": [asdict(f) for f in FIGURES], "rss_mib": MEMORY}, indent=2) + "\n")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table() -> list[str]:
    head = (
        f"{'fault':44} {'acked':>6} {'lost':>5} {'failed':>7} {'errors s':>9} {'pending':>8}"
        f" {'decided s':>10} {'stall s':>8} {'slowest s':>10} {'back s':>7} {'phase s':>8}"
        f" {'log led s':>10} {'leases led s':>13} {'leases lost':>12}  statuses"
    )
    rows = [
        f"{f.fault:44} {f.acknowledged:6} {f.lost:5} {f.failed_calls:7} {f.error_window_s:9.1f} {f.pending:8}"
        f" {f.decided_again_s:10.2f} {f.longest_stall_s:8.2f} {f.slowest_bid_s:10.2f} {f.node_back_s:7.1f}"
        f" {f.phase_s:8.1f} {_seconds(f.log_elected_s):>10} {_seconds(f.leases_elected_s):>13} {f.leases_lost:12}"
        f"  {f.statuses}"
        for f in FIGURES
    ]
    memory = ["resident memory (MiB): " + ", ".join(f"{name} {mib}" for name, mib in MEMORY.items())] if MEMORY else []
    return [head, *rows, *memory]
