"""When Cassandra's JVM is warm: its JIT compiler threads have gone quiet.

Under load, a fresh Cassandra spends its first minute or so compiling (the C2 threads took
about a third of this 2-core machine for ~60 s, and Cassandra's CPU per LWT fell ~3x when they
stopped). A run measured during that minute measures the compiler, and whichever run comes
first pays for it, so every ratio would depend on the order of the runs. The bench therefore
warms the stack until the compiler is quiet, an event read from /proc, not a fixed sleep.
"""

from __future__ import annotations

from pathlib import Path

from bench import procfs

#: Thread names (15 characters, as the kernel keeps them) of HotSpot's JIT compilers.
COMPILER_THREADS = ("C1 CompilerThre", "C2 CompilerThre")


def compiler_cpu_seconds(pid: int) -> float:
    """CPU time the JVM's JIT compiler threads have used so far."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() in COMPILER_THREADS:
                total += procfs.cpu_seconds(task / "stat")
        except OSError:  # the thread ended meanwhile
            continue
    return total
