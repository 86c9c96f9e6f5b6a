"""`make bench` is not run by `make test` (it takes its own stack and minutes), and mypy does
not check bench/ (its gRPC-aio clients are typed as sync iterators by the stubs), so a moved
name broke it unseen once (decide_all). Every bench module must at least import."""

from __future__ import annotations

import importlib
import pkgutil

import bench


def test_every_bench_module_imports() -> None:
    names = [m.name for m in pkgutil.iter_modules(bench.__path__)]
    assert {"__main__", "notify", "inboxes", "fanout", "scale"} <= set(names)
    for name in names:
        importlib.import_module(f"bench.{name}")
