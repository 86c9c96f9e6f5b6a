"""The capacity model for 10M concurrent auctions, written to ``docs/capacity.md`` from the
scale bench's figures (``bench/scale.json``) and, where it has them, the path bench's
(``bench/results.json``). ``make bench-scale`` regenerates it; ``python -m bench.capacity``
rewrites it from the stored figures.

Every input is either an assumption (named below, with its reason) or a figure the bench
measured (named by its key in the JSON). The arithmetic is deliberately plain: cores = rate ×
CPU per operation ÷ target utilisation, replicated work × the replication factor.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "capacity.md"
SCALE = ROOT / "bench" / "scale.json"
PATH = ROOT / "bench" / "results.json"

#: Assumptions, each a knob of the model.
ASSUMPTIONS: dict[str, tuple[float, str]] = {
    "open_auctions": (10_000_000, "the seed's headline"),
    "auction_days": (7, "a typical listing length; also how long the bid log keeps commands"),
    "bids_per_auction": (15, "bids an auction gets over its life (peers report 10-20 on average)"),
    "last_hour_spike": (100, "an auction in its last hour is bid on this many times its average rate (peers: 100x)"),
    "peak_bids_per_s": (10_000, "the peak the system is sized for (the issue's figure)"),
    "watchers_last_hour": (20, "WatchAuction streams on an auction in its last hour"),
    "watchers_other": (0.1, "streams on any other open auction, on average"),
    "node_cores": (8, "cores per node of each kind"),
    "target_utilisation": (0.6, "CPU a node may use at the peak, leaving room for a lost node and GC"),
    "replication": (3, "Cassandra RF 3, JetStream R3: every replica does the write's work"),
}


def _a(name: str) -> float:
    return ASSUMPTIONS[name][0]


def model(scale: dict[str, Any], path: dict[str, Any] | None) -> dict[str, Any]:
    levels = scale["levels"]
    top = levels[max(levels, key=int)]
    n_top = int(max(levels, key=int))
    bid_cpu: dict[str, float] = top["bids"]["cpu_s_per_1000"]  # ms per bid, by process
    create_cpu: dict[str, float] = top["creates"]["cpu_s_per_1000"]
    per_auction_disk = top["disk"]["cassandra_bytes"] / n_top
    bids_on_disk = top["disk"]["nats_bids_bytes"]
    total_bids = top["disk"].get("nats_bids_messages") or sum(v["bids"]["ops"] for v in levels.values())
    rate_bids = _a("peak_bids_per_s")
    rate_creates = _a("open_auctions") / (_a("auction_days") * 86400)
    rf = _a("replication")
    util = _a("target_utilisation")

    def cores(ms_per_op: float, rate: float, replicated: bool = False) -> float:
        return ms_per_op / 1000 * rate * (rf if replicated else 1) / util

    need = {
        "bid_svc (API and workers)": cores(bid_cpu.get("bid_svc", 0), rate_bids)
        + cores(create_cpu.get("bid_svc", 0), rate_creates),
        "auction_svc": cores(create_cpu.get("auction_svc", 0), rate_creates)
        + cores(bid_cpu.get("auction_svc", 0), rate_bids),
        "cassandra": cores(bid_cpu.get("cassandra", 0), rate_bids, True)
        + cores(create_cpu.get("cassandra", 0), rate_creates, True),
        "nats": cores(bid_cpu.get("nats", 0), rate_bids, True),
        "envoy": cores(bid_cpu.get("envoy", 0), rate_bids),
    }
    last_hour = _a("open_auctions") / (_a("auction_days") * 24)
    streams = last_hour * _a("watchers_last_hour") + (_a("open_auctions") - last_hour) * _a("watchers_other")
    w = scale.get("watchers") or {}
    stream_mem_gb = streams * w.get("memory_per_watcher_kb", 0) / 2**20
    deliveries_per_s = rate_bids * _a("watchers_last_hour")
    if w.get("stream_svc_cpu_ms_per_delivery"):
        need["stream_svc"] = cores(w["stream_svc_cpu_ms_per_delivery"], deliveries_per_s)
    nodes = {k: max(3 if k in ("cassandra", "nats") else 2, math.ceil(v / _a("node_cores"))) for k, v in need.items()}
    bid_bytes = bids_on_disk / max(1, total_bids)
    bids_kept = rate_bids / _a("last_hour_spike") * 86400 * _a("auction_days")  # an average day, kept a week
    worker_ms = bid_cpu.get("bid_svc", 0) / 2  # the API and the worker share bid_svc's CPU (measured together)
    workers = math.ceil(rate_bids * worker_ms / 1000 / util)
    partitions = 2 ** math.ceil(math.log2(max(64, 4 * workers)))
    hot = (path or {}).get("hot_backlog", {}).get("per_s")
    spike_per_auction = _a("bids_per_auction") / (_a("auction_days") * 24) * _a("last_hour_spike") / 3600
    first = max(need, key=lambda k: need[k])
    return {
        "measured_at_open_auctions": n_top,
        "rates": {"bids_per_s": rate_bids, "creates_per_s": rate_creates, "deliveries_per_s": deliveries_per_s},
        "cores": need,
        "nodes": nodes,
        "cassandra_disk_gb": _a("open_auctions") * per_auction_disk * rf / 1e9,
        "nats_disk_gb": bids_kept * bid_bytes * rf / 1e9,
        "bid_bytes_in_log": bid_bytes,
        "auction_bytes_in_cassandra": per_auction_disk,
        "streams": streams,
        "stream_memory_gb": stream_mem_gb,
        "workers": workers,
        "partitions": partitions,
        "hot_auction_bids_per_s": hot,
        "spike_bids_per_s_per_auction": spike_per_auction,
        "first_bottleneck": first,
    }


def render(scale: dict[str, Any], path: dict[str, Any] | None) -> str:
    m = model(scale, path)
    r = scale.get("ratios", {})
    lines = [
        "# Capacity model: 10M concurrent auctions",
        "",
        f"Generated by `make bench-scale` (`python -m bench.capacity`) on {datetime.now(UTC):%Y-%m-%d} from"
        f" `bench/scale.json` (measured {scale.get('when', '?')[:16]}, up to"
        f" {m['measured_at_open_auctions']:,} open auctions on one 2-core machine)"
        + (f" and `bench/results.json` (`make bench`, {path.get('when', '?')[:16]})." if path else "."),
        "Do not edit by hand: change the assumptions in `bench/capacity.py` or measure again.",
        "",
        "## Headline",
        "",
        f"- **Peak {m['rates']['bids_per_s']:,.0f} bids/s** needs about"
        f" {sum(m['cores'].values()):,.0f} cores in all; **the first bottleneck is {m['first_bottleneck']}**"
        f" ({m['cores'][m['first_bottleneck']]:,.0f} cores, {m['nodes'][m['first_bottleneck']]} nodes of"
        f" {_a('node_cores'):.0f}).",
        f"- Cassandra holds {_a('open_auctions'):,.0f} open auctions in"
        f" {m['cassandra_disk_gb']:,.1f} GB at RF {_a('replication'):.0f}"
        f" ({m['auction_bytes_in_cassandra']:,.0f} B per auction, bids included, measured);"
        f" the bid log keeps a week of commands in {m['nats_disk_gb']:,.1f} GB at R3"
        f" ({m['bid_bytes_in_log']:,.0f} B per command).",
        f"- Log partitions: **{m['partitions']}** (at least 4 per worker needed at the peak:"
        f" {m['workers']} workers), a deployment setting (`GAVEL_BID_PARTITIONS`).",
        f"- Watchers: {m['streams']:,.0f} concurrent streams need {m['stream_memory_gb']:,.1f} GB of stream_svc"
        " memory at the measured cost per watcher.",
    ]
    if m["hot_auction_bids_per_s"]:
        lines.append(
            f"- One hot auction decides {m['hot_auction_bids_per_s']:,.0f} bids/s (group commit, measured);"
            f" the last-hour spike asks {m['spike_bids_per_s_per_auction']:.3f} bids/s of an average auction,"
            " so a single auction is a bottleneck only far above the average (a celebrity lot)."
        )
    lines += [
        "",
        "## Measured flat cost (the scale bench)",
        "",
        "| ratio | value | goal |",
        "|---|---|---|",
    ]
    goals = {
        "bid_cost_1m_vs_1k": "≤ 1.1",
        "create_cost_1m_vs_1k": "≤ 1.1",
        "bid_p99_1m_vs_1k": "≤ 1.2",
        "close_lag_p99_s": "≤ 5 s",
    }
    lines += [f"| `{k}` | {v:.2f} | {goals.get(k, '')} |" for k, v in r.items()]
    lines += [
        "",
        "## Cores and nodes at the peak",
        "",
        "| component | cores | nodes | from (ms CPU per op at the largest N) |",
        "|---|---|---|---|",
    ]
    top = scale["levels"][max(scale["levels"], key=int)]
    for k, v in m["cores"].items():
        proc = k.split(" ")[0]
        ms = top["bids"]["cpu_s_per_1000"].get(proc, 0.0)
        w = scale.get("watchers") or {}
        source = (
            f"{ms:.2f} ms per bid"
            if proc != "stream_svc"
            else f"{w.get('stream_svc_cpu_ms_per_delivery', 0):.3f} ms per delivery (the watchers run's burst)"
        )
        if proc in ("cassandra", "nats"):
            source += f", x{_a('replication'):.0f} replicas"
        lines.append(f"| {k} | {v:,.1f} | {m['nodes'][k]} | {source} |")
    lines += ["", "## Assumptions", "", "| name | value | why |", "|---|---|---|"]
    lines += [f"| `{k}` | {v:,g} | {why} |" for k, (v, why) in ASSUMPTIONS.items()]
    lines += [
        "",
        "## Inputs (measured)",
        "",
        "Per-process CPU is `levels.<N>.bids.cpu_s_per_1000` (ms per bid) and `.creates.cpu_s_per_1000`"
        " of the largest level; disk is `levels.<N>.disk` after a flush; memory per watcher is"
        " `watchers.memory_per_watcher_kb`; the hot auction's rate is `hot_backlog.per_s` of `make bench`.",
        "The machine measured on is shared and has 2 cores: a node of the kind modelled runs each process"
        " alone, so these CPU figures are, if anything, high (contention inflates CPU per operation).",
        "",
    ]
    return "\n".join(lines)


def write(scale: dict[str, Any]) -> None:
    path = json.loads(PATH.read_text()) if PATH.exists() else None
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render(scale, path))


if __name__ == "__main__":
    write(json.loads(SCALE.read_text()))
