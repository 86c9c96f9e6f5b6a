"""Every service's garbage-collector policy: its thresholds, what it freezes, its time metric."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterator

import pytest
from prometheus_client import REGISTRY

from gavel import gc_policy
from gavel.settings import Settings


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


@pytest.fixture
def undo() -> Iterator[list[Callable[[], None]]]:
    """What the test installs is undone after it, as ``serve`` undoes it when it returns."""
    gc.unfreeze()
    installed: list[Callable[[], None]] = []
    yield installed
    for u in installed:
        u()


def test_the_thresholds_are_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().gc_thresholds[0] > 700  # above Python's default: see gavel.gc_policy
    monkeypatch.setenv("GAVEL_GC_THRESHOLDS", "[5000, 20, 30]")
    assert Settings().gc_thresholds == (5000, 20, 30)
    monkeypatch.setenv("GAVEL_GC_THRESHOLDS", "[0, 10, 10]")
    with pytest.raises(ValueError, match="greater than 0"):
        Settings()


def test_install_freezes_what_setup_kept_collects_its_garbage_and_can_be_undone(undo: list[Callable[[], None]]) -> None:
    thresholds = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    kept = [[i] for i in range(1000)]  # what a service's setup leaves behind
    garbage = weakref.ref(_Node())  # and what it dropped
    undo.append(gc_policy.install((12_345, 11, 12)))
    assert gc.get_threshold() == (12_345, 11, 12)
    assert gc.get_freeze_count() >= len(kept)
    assert garbage() is None
    undo.pop()()
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("generation", [0, 1, 2])
def test_the_time_in_each_generation_is_counted(undo: list[Callable[[], None]], generation: int) -> None:
    undo.append(gc_policy.install((10_000, 10, 10)))
    labels = {"generation": str(generation)}
    before = REGISTRY.get_sample_value("gavel_python_gc_seconds_total", labels) or 0.0
    for _ in range(3):
        gc.collect(generation)
    after = REGISTRY.get_sample_value("gavel_python_gc_seconds_total", labels)
    assert after is not None and after > before
