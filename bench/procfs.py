"""What /proc says about a process or one of its threads: the bench's CPU accounting."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(stat: Path) -> float:
    """User + system CPU time from a ``/proc/<pid>/stat`` or ``/proc/<pid>/task/<tid>/stat``
    file. Fields are counted after the command name's closing parenthesis, which may itself
    contain spaces."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
