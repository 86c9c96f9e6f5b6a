"""Durations as people and operators write them (``90s``, ``15m``, ``48h``, ``1h30m``, ``250ms``,
as Go, Envoy and Kubernetes do): one parser for the settings and the CLI."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"ms": timedelta(milliseconds=1), "s": timedelta(seconds=1), "m": timedelta(minutes=1),
          "h": timedelta(hours=1), "d": timedelta(days=1)}  # fmt: skip
_SPAN = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse(text: str) -> timedelta | None:
    """The duration ``text`` writes, or None if it is not one."""
    text = text.strip()
    spans = _SPAN.findall(text)
    if not spans or "".join(n + u for n, u in spans) != text:
        return None
    return sum((float(n) * _UNITS[u] for n, u in spans), timedelta())
