"""The figures of each fault, collected during the run and printed at its end (and written to
build/test-artifacts/chaos.json), so a run's log says what each fault cost."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

ARTIFACT = Path(__file__).resolve().parents[2] / "build" / "test-artifacts" / "chaos.json"


@dataclass(frozen=True)
class FaultFigures:
    fault: str
    acknowledged: int  # bids the log acknowledged (the client got an answer)
    lost: int  # acknowledged bids with no recorded outcome at the end: must be 0
    retried: int  # requests a client had to send again (same request_id)
    pending_answers: int  # answered PENDING: decided later, within the fault
    answering_again_s: float  # from the fault until the component answered again
    decided_again_s: float  # from the fault until a bid sent after it was decided
    reconnects: int  # watch streams re-opened by their watchers
    replayed: int | None  # commands the new consumers replayed after a takeover (restart only)
    replay_bound: int | None  # unacknowledged at the stop plus arrived since: replayed may not exceed it


FIGURES: list[FaultFigures] = []


def record(figures: FaultFigures) -> None:
    FIGURES.append(figures)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps([asdict(f) for f in FIGURES], indent=2) + "\n")


def table() -> list[str]:
    head = f"{'fault':34} {'acked':>6} {'lost':>5} {'retried':>8} {'pending':>8} {'answering s':>12} {'decided s':>10} {'reconn':>7} {'replayed':>9} {'of at most':>10}"
    rows = [
        f"{f.fault:34} {f.acknowledged:6} {f.lost:5} {f.retried:8} {f.pending_answers:8} {f.answering_again_s:12.1f}"
        f" {f.decided_again_s:10.1f} {f.reconnects:7} {'' if f.replayed is None else f.replayed:>9}"
        f" {'' if f.replay_bound is None else f.replay_bound:>10}"
        for f in FIGURES
    ]
    return [head, *rows]
