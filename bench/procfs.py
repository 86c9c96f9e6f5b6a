"""What /proc says about a process or one of its threads: the bench's CPU accounting."""

from __future__ import annotations

import os
import re
from pathlib import Path


def cpu_seconds(stat: Path) -> float:
    """User + system CPU time from a ``/proc/<pid>/stat`` or ``/proc/<pid>/task/<tid>/stat``
    file. Fields are counted after the command name's closing parenthesis, which may itself
    contain spaces."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def threads(pid: int) -> dict[int, tuple[str, float]]:
    """Each live thread's pool and CPU seconds so far, by thread id. The pool is the thread's
    name (its ``comm``, which Linux cuts to 15 characters) without its number, so
    "CompactionExecutor:1" counts as its pool. What kind of work a JVM's CPU went to (flushing,
    compaction, GC, the JIT, requests) without a profiler in the process. Cassandra's shared
    request workers keep the name of the stage they were started for (ReadStage,
    MutationStage, Native-Transport-Requests) while serving every stage: together they are
    its request work, apart they say little."""
    found: dict[int, tuple[str, float]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = re.sub(r"[-:#\s]*\d*$", "", (task / "comm").read_text().strip())
            found[int(task.name)] = (name, cpu_seconds(task / "stat"))
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended while being read
    return found


def pools_per_op(pid: int, before: dict[int, tuple[str, float]], process_s: float, ops: int) -> dict[str, float]:
    """CPU ms per op by pool since ``before`` (a ``threads`` reading), largest first, counted
    thread by thread: shared workers come and go during a run. What threads that have since
    ended spent is not theirs to tell; it is the process's (``process_s``, its CPU seconds
    in the same span) less the rest, as "(ended threads)"."""
    per: dict[str, float] = {}
    for tid, (name, seconds) in threads(pid).items():
        per[name] = per.get(name, 0.0) + seconds - (before[tid][1] if tid in before else 0.0)
    per["(ended threads)"] = max(0.0, process_s - sum(per.values()))
    ms = {k: 1000 * v / max(1, ops) for k, v in per.items()}
    return dict(sorted(((k, v) for k, v in ms.items() if v > 0.005), key=lambda kv: -kv[1]))
