"""What /proc says about a process or one of its threads: the bench's CPU accounting."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path


def cpu_seconds(stat: Path) -> float:
    """User + system CPU time from a ``/proc/<pid>/stat`` or ``/proc/<pid>/task/<tid>/stat``
    file. Fields are counted after the command name's closing parenthesis, which may itself
    contain spaces."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def pool(thread_name: str) -> str:
    """A thread's pool: its name as Linux keeps it (cut to 15 characters) without its number,
    so "CompactionExecutor:1" is "CompactionExecu" and "GC Thread#0" is "GC Thread", whether
    the name comes from ``/proc`` or from a JFR recording."""
    return re.sub(r"[-:#\s]*\d*$", "", thread_name[:15])


@dataclass(frozen=True)
class Threads:
    """One reading of a process: its CPU seconds, and each live thread's pool and CPU seconds
    by (thread id, start time), since an id is reused once its thread has ended."""

    process_s: float
    by_thread: dict[tuple[int, int], tuple[str, float]]


def threads(pid: int) -> Threads:
    """What kind of work a JVM's CPU went to (flushing, compaction, GC, the JIT, requests)
    without a profiler in the process. Cassandra's shared request workers keep the name of
    the stage they were started for (ReadStage, MutationStage, Native-Transpor) while
    serving every stage: together they are its request work, apart they say little."""
    found: dict[tuple[int, int], tuple[str, float]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            stat = task / "stat"
            started = int(stat.read_text().rsplit(")", 1)[1].split()[19])  # starttime, field 22
            found[(int(task.name), started)] = (pool(name), cpu_seconds(stat))
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended while being read
    return Threads(cpu_seconds(Path(f"/proc/{pid}/stat")), found)


def pools_per_op(pid: int, before: Threads, ops: int) -> dict[str, float]:
    """CPU ms per op by pool since ``before``, largest first, counted thread by thread: shared
    workers come and go during a run. What threads that have since ended spent is no live
    thread's; it is the process's CPU in the same span less the rest, as "(ended threads)"."""
    after = threads(pid)
    per: dict[str, float] = {}
    for key, (name, seconds) in after.by_thread.items():
        per[name] = per.get(name, 0.0) + seconds - (before.by_thread[key][1] if key in before.by_thread else 0.0)
    per["(ended threads)"] = (after.process_s - before.process_s) - sum(per.values())
    ms = {k: 1000 * v / max(1, ops) for k, v in per.items()}
    return dict(sorted(((k, v) for k, v in ms.items() if abs(v) > 0.005), key=lambda kv: -kv[1]))
