"""What every bench run shares: the bench stack's settings, CPU accounting per process, bid_svc's
metrics, latency summaries and the ghz runner. ``python -m bench`` (the bid path) and
``python -m bench.scale`` (cost against the number of open auctions) both measure with these,
so their figures are comparable.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench import procfs
from gavel.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
#: Where ``make`` puts ghz (GHZ in the Makefile, pinned there).
GHZ_DEFAULT = Path.home() / ".cache" / "gavel" / "bin" / "ghz-v0.121.0"


def bench_settings(data_dir: Path, offset: int = 0) -> Settings:
    """The bench stack's settings; ``offset`` moves every port, for a second stack beside it
    (the scale bench measures two side by side). Every port, offset 1000 included, is below
    Linux's ephemeral range (32768 and up): there a client socket of anything else on the
    machine may hold it as its own end, and a bench's Cassandra once failed to start on
    49042 ("Address already in use") with nothing listening there."""
    o = offset
    return Settings(
        auction_port=25051 + o,
        bid_port=25052 + o,
        stream_port=25053 + o,
        auction_metrics_port=29101 + o,
        bid_metrics_port=29102 + o,
        stream_metrics_port=29103 + o,
        envoy_port=28080 + o,
        envoy_admin_port=29901 + o,
        cassandra_port=29042 + o,
        cassandra_storage_port=27000 + o,
        nats_url=f"nats://127.0.0.1:{24222 + o}",
        nats_port=24222 + o,
        nats_monitor_port=28222 + o,
        data_dir=data_dir,
        log_level="WARNING",
        # One bench user drives thousands of PlaceBid a second through Envoy: the gateway's
        # limits must stay out of what is measured (Envoy still evaluates them on every call).
        gateway_writes_per_user=1_000_000,
        gateway_writes_per_address=1_000_000,
        gateway_reads_per_user=1_000_000,
        gateway_reads_per_address=1_000_000,
        gateway_watches_per_user=1_000_000,
        gateway_watches_per_address=1_000_000,
        # The fan-out run holds a thousand watchers from one address.
        stream_max_watches_per_address=1_000_000,
    )


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU used so far by each stack process, by this process (the raw baselines' client) and
    by its finished children (ghz): every run pays for its own client too, on the same cores."""
    out = {name: procfs.cpu_seconds(Path(f"/proc/{pid}/stat")) for name, pid in pids.items()}
    me = resource.getrusage(resource.RUSAGE_SELF)
    out["bench"] = me.ru_utime + me.ru_stime
    out["ghz"] = children_cpu_s()
    return out


def children_cpu_s() -> float:
    """CPU seconds of this process's finished children (ghz, nodetool)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


def scrape(settings: Settings) -> dict[str, float]:
    """bid_svc's Prometheus metrics, ``name{labels}`` → value (ghz only sees gRPC OK)."""
    text = httpx.get(f"http://127.0.0.1:{settings.bid_metrics_port}/metrics").text
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("gavel_") and " " in line
    }


def delta(before: dict[str, float], after: dict[str, float], prefix: str) -> dict[str, float]:
    return {k[len(prefix) :]: v - before.get(k, 0.0) for k, v in after.items() if k.startswith(prefix)}


def measure(
    pids: dict[str, int], settings: Settings, run: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], tuple[dict[str, float], dict[str, float]]]:
    """One run, with the CPU every process (clients included) spent per 1000 ops added to its
    result; and bid_svc's metrics before and after it, for ``delta``."""
    cpu_before, metrics_before = cpu_seconds(pids), scrape(settings)
    result = run()
    cpu_after, metrics_after = cpu_seconds(pids), scrape(settings)
    result["cpu_s_per_1000"] = {
        name: 1000 * (cpu_after[name] - cpu_before[name]) / max(1, result["ops"]) for name in cpu_after
    }
    return result, (metrics_before, metrics_after)


#: The fractions a latency distribution is kept at (bench/report.py draws them as a CDF).
CDF_FRACTIONS = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)


def cdf(latencies_s: list[float]) -> list[tuple[float, float]]:
    """(milliseconds, fraction at or below) at CDF_FRACTIONS."""
    ordered = sorted(latencies_s)
    return [(1000 * ordered[min(len(ordered) - 1, int(f * len(ordered)))], f) for f in CDF_FRACTIONS]


def summary(latencies: list[float], elapsed: float) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "ops": len(ordered),
        "per_s": len(ordered) / elapsed,
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p99_ms": 1000 * ordered[int(len(ordered) * 0.99)],
        "mean_ms": 1000 * statistics.fmean(ordered),
        "cdf_ms": cdf(ordered),
    }


def ghz(
    ghz_bin: str,
    target: str,
    token: str,
    data: list[dict[str, object]],
    concurrency: int,
    seconds: float,
    call: str = "auction.v1.BidService.PlaceBid",
    rps: float | None = None,
) -> dict[str, Any]:
    """One ghz run; ``data`` is round-robined (ghz templates such as ``{{newUUID}}`` apply),
    passed in a file: a sample of many auctions does not fit on a command line. ``rps``: an
    offered load of that many calls a second (ghz's constant schedule) rather than as many as
    ``concurrency`` calls in flight allow."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as messages:
        json.dump(data, messages)
        messages.flush()
        out = subprocess.run(
            [
                ghz_bin,
                "--insecure",
                "--protoset",
                str(ROOT / "build" / "gavel.binpb"),
                "--call",
                call,
                "-c",
                str(concurrency),
                "-z",
                f"{seconds}s",
                "--connections",
                str(min(4, concurrency)),  # ghz needs at least one call in flight per connection
                "-m",
                json.dumps({"authorization": f"Bearer {token}"}),
                "-D",
                messages.name,
                "--format",
                "json",
                "--skipFirst",
                str(concurrency),
                *(["--rps", str(max(1, round(rps)))] if rps else []),
                target,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    report = json.loads(out.stdout)
    percentiles = {p["percentage"]: p["latency"] / 1e6 for p in report.get("latencyDistribution") or []}
    return {
        "ops": report["count"],
        "per_s": report["rps"],
        "p50_ms": percentiles.get(50, float("nan")),
        "p99_ms": percentiles.get(99, float("nan")),
        "mean_ms": report["average"] / 1e6,
        "status": report.get("statusCodeDistribution", {}),
        # ghz's distribution (10th to 99th percentile) between its fastest and slowest call.
        "cdf_ms": [
            (report["fastest"] / 1e6, 0.0),
            *((ms, pct / 100) for pct, ms in sorted(percentiles.items())),
            (report["slowest"] / 1e6, 1.0),
        ],
    }
