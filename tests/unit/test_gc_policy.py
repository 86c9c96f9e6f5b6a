"""Every service's garbage-collector policy: its thresholds, what it freezes, its time metric."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from gavel import gc_policy
from gavel.settings import Settings


@pytest.fixture
def restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_the_thresholds_are_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().gc_thresholds[0] > 700  # above Python's default: see gavel.gc_policy
    monkeypatch.setenv("GAVEL_GC_THRESHOLDS", "[5000, 20, 30]")
    assert Settings().gc_thresholds == (5000, 20, 30)
    monkeypatch.setenv("GAVEL_GC_THRESHOLDS", "[0, 10, 10]")
    with pytest.raises(ValueError, match="greater than 0"):
        Settings()


def test_install_freezes_what_setup_made_and_sets_the_thresholds(restored: None) -> None:
    kept = [[i] for i in range(1000)]  # what a service's setup leaves behind
    gc_policy.install((12_345, 11, 12))
    assert gc.get_threshold() == (12_345, 11, 12)
    assert gc.get_freeze_count() >= len(kept)


def test_the_time_in_each_generation_is_counted(restored: None) -> None:
    gc_policy.install((10_000, 10, 10))
    before = REGISTRY.get_sample_value("gavel_python_gc_seconds_total", {"generation": "2"}) or 0.0
    for _ in range(3):
        gc.collect()
    after = REGISTRY.get_sample_value("gavel_python_gc_seconds_total", {"generation": "2"})
    assert after is not None and after > before
