"""What the stack's services logged while a test ran: their JSON log lines after a mark.

Tests of bad input assert that it left no ERROR line: an ERROR is what an operator is paged
for, and a client's mistake (or a cancelled stream) must never produce one.
"""

from __future__ import annotations

import json
from pathlib import Path

from gavel.services import SERVICES
from gavel.settings import Settings


class ServiceLogs:
    def __init__(self, settings: Settings) -> None:
        self._paths = {s.module: settings.data_dir / "logs" / f"{s.module}.log" for s in SERVICES}
        self._marks: dict[str, int] = {}
        self.mark()

    def mark(self) -> None:
        """From now on: only lines written after this call count."""
        self._marks = {name: _size(path) for name, path in self._paths.items()}

    def errors(self) -> list[dict[str, object]]:
        """ERROR and CRITICAL lines (and anything that is not JSON, e.g. a raw traceback) since the mark."""
        found: list[dict[str, object]] = []
        for name, path in self._paths.items():
            with open(path, "rb") as log:
                log.seek(self._marks[name])
                written = log.read().decode(errors="replace")
                # A line still being written is not complete yet: the next call sees it.
                for raw in written[: written.rfind("\n") + 1].splitlines():
                    try:
                        line = json.loads(raw)
                    except ValueError:
                        line = {"level": "NOT-JSON", "message": raw}
                    if not isinstance(line, dict) or line.get("level") not in ("INFO", "WARNING", "DEBUG"):
                        found.append({"service": name, **(line if isinstance(line, dict) else {"message": raw})})
        return found


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0
