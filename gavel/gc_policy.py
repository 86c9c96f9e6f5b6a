"""How every service runs Python's cyclic garbage collector, and the time it spends there.

The collector's default first threshold (a young collection every 700 net allocations)
suits scripts, not a server with hundreds of calls in flight: each call's objects (its
request, futures, protobuf messages, the command and the auction state it carries) live for
the call's few hundred milliseconds, so young collections every few milliseconds promote
them, and the oldest generation, which holds the caches (sellers, the worker's known
auctions), is walked again and again for objects that are about to die anyway. Measured with
``make profile`` with ``--auctions 100000`` (bids over 100,000 open auctions): the collector
took 1.01 and 0.94 ms of bid_svc's CPU per bid in two runs, 0.45 and 0.52 of it in the oldest
generation (0.38 in all at 1,000 auctions). With a young collection every 10,000
allocations, and what setup made (modules, descriptors, the driver's metadata, prepared
statements) frozen out of every collection: 0.24, none in the oldest generation, and bid_svc
took 3.53 ms per bid against 5.46 and 4.64. Memory: the young generation holds up to 10,000
objects more before it is collected; cycles are still found, only later.

The time is a counter (``gavel_python_gc_seconds_total``, by generation): prometheus_client
counts collections but not their time, and a profiler charges it to whichever line happened
to allocate when the collector ran.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class GcTime(Collector):
    """Kept in plain floats and read when scraped, not in a ``Counter``, whose lock would be
    taken twice per collection, hundreds of times a second. One start time is enough: CPython
    runs one collection at a time in a process (whichever thread triggers it, the Cassandra
    driver's included), and a collection asked for inside a callback does nothing."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._started

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "gavel_python_gc",
            "Seconds spent in Python's cyclic garbage collector.",
            labels=["generation"],
            unit="seconds",
        )
        for generation, seconds in enumerate(self.seconds):
            family.add_metric([str(generation)], seconds)
        yield family


_timer: GcTime | None = None


def install(thresholds: tuple[int, int, int]) -> Callable[[], None]:
    """Once a service is set up, before it serves: what exists now lives as long as the
    process, so it is frozen out of every collection; then the thresholds (``Settings``).
    Returns what undoes both, for a service run inside another process (the tests)."""
    global _timer
    before = gc.get_threshold()
    gc.collect()  # setup's own garbage goes first, rather than be frozen with the rest
    gc.freeze()
    gc.set_threshold(*thresholds)
    if _timer is None:
        _timer = GcTime()
        gc.callbacks.append(_timer)
        REGISTRY.register(_timer)

    def undo() -> None:
        gc.unfreeze()
        gc.set_threshold(*before)

    return undo
