"""When Cassandra's JVM is warm: its JIT compiler threads have gone quiet.

Under load, a fresh Cassandra spends its first minute or so compiling (the C2 threads took
about a third of this 2-core machine for ~60 s, and Cassandra's CPU per LWT fell ~3x when they
stopped). A run measured during that minute measures the compiler, and whichever run comes
first pays for it, so every ratio would depend on the order of the runs. The bench therefore
warms the stack until the compiler is quiet, an event read from /proc, not a fixed sleep.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Thread names (15 characters, as the kernel keeps them) of HotSpot's JIT compilers.
COMPILER_THREADS = ("C1 CompilerThre", "C2 CompilerThre")


def compiler_cpu_seconds(pid: int) -> float:
    """CPU time the JVM's JIT compiler threads have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() not in COMPILER_THREADS:
                continue
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / ticks
