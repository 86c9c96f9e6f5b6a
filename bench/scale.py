"""``python -m bench.scale``: what an open auction costs, from a thousand to a million of them.

Two bench stacks side by side: one holds the smallest N (1,000 by default) and stays up;
on the other the number of open auctions is raised step by step (100,000, then 1,000,000).
At each N the same runs are measured as ``make bench`` measures them (ghz, CPU per operation
of every process, the client included): PlaceBid on auctions drawn uniformly from all N, so
no cache hides the size, and CreateAuction, each run taken in turns with the same run on the
small stack (``alternated``). PlaceBid runs flat out (the issue's ratios) and again paced at
one offered load for every N; the raw point read a cold bid needs is measured alone (a bound
on the ratio: ``ratios``). Then the memory every process holds and the disk Cassandra and
NATS use, per open auction. After the largest N, the closer (10,000 auctions ending in one
minute among them) and the watchers (10,000 WatchAuction streams over 1,000 auctions on one
stream_svc).

Why in turns: this machine's speed drifts by more than the effect measured. The same 1k
level, measured twice on one day a few minutes apart, cost 16.2 and 30.7 ms of CPU per bid;
levels measured one after the other compared different minutes of the machine as much as
different N. A ratio taken from runs interleaved within the same minutes compares N alone.

The load itself is a bulk import (``AuctionStore.import_many``): the very rows CreateAuction
writes, without its compare-and-set. Each level's ratios against the smallest go to
``bench/scale.json``, and ``docs/capacity.md`` is regenerated from them (``bench.capacity``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
from cassandra.cluster import Session

from bench import capacity, fanout, jvm, procfs
from bench.fanout import rss_bytes
from bench.runs import GHZ_DEFAULT, bench_settings, children_cpu_s, delta, ghz, measure, summary
from devstack import components
from devstack.stack import Stack, running
from gavel import bus, cql
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.auction_store import AuctionStore
from gavel.auth import mint_dev_token
from gavel.domain.auction import Auction, Item, SoftClose
from gavel.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "scale.json"
SIZES = (1_000, 100_000, 1_000_000)
#: Distinct auctions one bid run draws from (uniformly from all N, without replacement): more
#: than a run places bids, so above it every bid lands on an auction no cache has seen.
SAMPLE = 20_000
SELLERS = 10_000
#: PlaceBid runs per level, of which the median is the level's figure.
REPEATS = 3
#: The paced bid runs' offered load, as a share of the smallest N's rate run flat out: below
#: what the largest N sustains (0.77x the smallest's, measured), so both keep up with it.
PACED_FRACTION = 0.5
BIDDER = "scale-bidder"
#: Cassandra's local JMX port on the bench stack, for nodetool (``Bench.settle``); the second
#: stack's is 1000 above, like its other ports. Below the ephemeral range, like them.
JMX_PORT = 27199
#: The issue's goals for the ratios: ceilings.
GOALS = {"bid_cost_1m_vs_1k": 1.1, "create_cost_1m_vs_1k": 1.1, "bid_p99_1m_vs_1k": 1.2, "close_lag_p99_s": 5.0}


def lot_id(i: int) -> uuid.UUID:
    """The i-th loaded auction's id: derived, so a run draws a sample without keeping a million ids."""
    return uuid.UUID(bytes=hashlib.blake2b(f"gavel-scale-{i}".encode(), digest_size=16).digest(), version=4)


#: The reserve of the lots that have one: above every bid the bench places (a timestamp in
#: ms, ~1.8e12), so no bid at any N crosses it. Crossing a reserve happens once in an
#: auction's life (a RESERVE_MET notification): among a million auctions every bid drawn is
#: an auction's first and would cross it, among a thousand almost none is, and the levels
#: would compare notifications, not N (measured: 29% of the bids at 100k published one, 0 at 1k).
RESERVE_OUT_OF_REACH = 10**14


def lot(i: int, now: datetime, end: datetime | None = None) -> Auction:
    """A mix like a marketplace's: ends spread over the next week, a third with a reserve
    (``RESERVE_OUT_OF_REACH``), a fifth with Buy It Now (above the reserve, as creation
    requires), half with soft close; 10,000 sellers."""
    end = end or now + timedelta(hours=2) + timedelta(seconds=(i * 7919) % (7 * 24 * 3600))
    price = 100 + (i * 37) % 100_000
    reserve = RESERVE_OUT_OF_REACH if i % 3 == 0 else 0
    return Auction(
        auction_id=lot_id(i),
        seller_id=f"scale-seller-{i % SELLERS}",
        item=Item(f"Lot {i}", "A loaded lot: condition as pictured, ships in two days.", ""),
        start_date=now - timedelta(minutes=5),
        end_date=end,
        starting_price=price,
        currency="USD",
        created_at=now,
        reserve_price=reserve,
        buy_now_price=(reserve or price) * 10 if i % 5 == 0 else 0,
        soft_close=SoftClose(timedelta(minutes=2), timedelta(minutes=2), end + timedelta(days=1)) if i % 2 else None,
        original_end_date=end,
    )


async def load(store: AuctionStore, start: int, stop: int, now: datetime) -> None:
    for chunk in range(start, stop, 5_000):
        await store.import_many([lot(i, now) for i in range(chunk, min(chunk + 5_000, stop))])


def rising_bids(n: int, rng: random.Random) -> list[dict[str, object]]:
    """ghz's PlaceBid messages over a sample drawn uniformly from the N loaded auctions, each
    bid's amount the time it is sent (so each beats the one before it: ``Bench.bid_run``)."""
    ids = [lot_id(i) for i in rng.sample(range(n), min(n, SAMPLE))]
    return [{"auction_id": str(a), "amount": "{{.TimestampUnixMilli}}"} for a in ids]


@dataclass
class Bench:
    """The stack and what each run needs of it."""

    settings: Settings
    stack: Stack
    session: Session
    store: AuctionStore
    ghz_bin: str
    concurrency: int
    seconds: float
    #: CPU seconds of the nodetool JVMs this bench has run (see ``measured``).
    nodetool_cpu_s: float = 0.0

    @property
    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.stack.processes.items()}

    def measured(self, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """One run (``runs.measure``), with its CPU ms per op in all and bid_svc's counters. The
        CPU counted includes flushing what the run wrote and the compactions that sets off
        (``settle``): that work is the run's too, and left uncounted it lands in whichever
        later run happens to be measuring.

        The nodetool that asks for the flush is a JVM of its own, started for each call (about
        two seconds of CPU): a child of this process, like ghz, so it came out in ghz's figure,
        a fixed cost per run that weighed more on a run with fewer operations. It is the
        bench's instrument, not Gavel's cost or the client's: kept apart (``nodetool``) and
        left out of the CPU per op.

        Cassandra's CPU is also split by thread pool (``cassandra_pools_ms_per_op``: its
        request workers, commit log, flushing, compaction, GC, the JIT; ``procfs.threads``), and
        bid_svc's counters include its garbage collector's seconds (``gavel.gc_policy``): what
        a level's extra CPU went to."""

        def settled() -> dict[str, Any]:
            result = run()
            result["settle_s"] = self.settle(everything=True)
            return result

        tool_before = self.nodetool_cpu_s
        threads_before = procfs.threads(self.pids["cassandra"])
        result, metrics = measure(self.pids, self.settings, settled)
        result["cassandra_pools_ms_per_op"] = procfs.pools_per_op(self.pids["cassandra"], threads_before, result["ops"])
        cpu = result["cpu_s_per_1000"]
        cpu["nodetool"] = 1000 * (self.nodetool_cpu_s - tool_before) / max(1, result["ops"])
        cpu["ghz"] -= cpu["nodetool"]  # measure counts every finished child as ghz
        result["cpu_ms_per_op"] = sum(v for k, v in cpu.items() if k not in ("envoy", "nodetool"))
        result["bid_svc_counters"] = {
            k: v
            for k, v in delta(*metrics, "gavel_").items()
            if v and any(w in k for w in ("decisions", "conflicts", "answers", "notifications", "python_gc"))
        }
        return result

    def bids(self, n: int, rng: random.Random, rps: float | None = None) -> dict[str, Any]:
        """PlaceBid at N: the median of ``REPEATS`` runs, each over a fresh sample."""
        return median_run([self.bid_run(n, rng, rps) for _ in range(REPEATS)])

    def bid_run(self, n: int, rng: random.Random, rps: float | None = None) -> dict[str, Any]:
        """One ghz run of PlaceBid over auctions drawn uniformly from all N. Every bid beats the
        one before it (its amount is the time it is sent, in ms), so the outcomes are the same
        at every N (accepted) and a level compares the same work, not a mix that shifts with N
        (random amounts are mostly refused among a thousand auctions, accepted among a million).
        ``rps``: paced at that offered load (``PACED_FRACTION``); else as fast as it goes."""
        data = rising_bids(n, rng)
        token = mint_dev_token(BIDDER, self.settings.jwt_secret)
        target = self.settings.target("bid")
        return self.measured(lambda: ghz(self.ghz_bin, target, token, data, self.concurrency, self.seconds, rps=rps))

    def read_run(self, n: int, rng: random.Random) -> dict[str, Any]:
        """The one read a bid on an auction no cache knows needs (``AuctionStore.get``, the
        API's own, through the same driver), alone: as many as ``concurrency`` in flight
        allows, over auctions drawn uniformly from all N. Its CPU per read (Cassandra's and
        this client's) is what the issue's design question prices: the least a cold bid can
        cost over a warm one (``ratios``' ``bound_bid_cost_*``)."""
        ids = [lot_id(i) for i in rng.sample(range(n), min(n, SAMPLE))]
        return self.measured(lambda: asyncio.run(_reads(self.store, ids, self.concurrency, self.seconds / 3)))

    def creates(self) -> dict[str, Any]:
        day = datetime.now(UTC) + timedelta(days=3)
        data: list[dict[str, object]] = [
            {
                "item": {"name": "Created lot {{.RequestNumber}}", "description": "Created through the API."},
                "end_date": (day + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "starting_price": 100 + h,
                "currency": "USD",
                "request_id": "{{newUUID}}",
            }
            for h in range(48)
        ]
        token = mint_dev_token("scale-creator", self.settings.jwt_secret)
        target = self.settings.target("auction")
        return self.measured(
            lambda: ghz(
                self.ghz_bin,
                target,
                token,
                data,
                self.concurrency,
                self.seconds / 2,
                call="auction.v1.AuctionService.CreateAuction",
            )
        )

    def memory(self) -> dict[str, Any]:
        """Resident memory of each process, and the per-auction structures' sizes (gauges)."""
        rss = {name: rss_bytes(pid) / 2**20 for name, pid in self.pids.items()}
        gauges = {
            name: value
            for service in components.SERVICES
            for name, value in _gauges(self.settings, service.metrics_port(self.settings)).items()
            if name in ("gavel_bid_known_auctions", "gavel_bid_sellers_known", "gavel_stream_topics")
        }
        return {"rss_mb": rss, "entries": gauges}

    def nodetool(self, *args: str) -> None:
        """Cassandra's nodetool, over the bench stack's local JMX port."""
        home = components.cassandra_home(self.settings)
        # The module exports Cassandra's own JVM needs, which nodetool's classes need too.
        jvm_options = (components.HERE / "cassandra" / "jvm.options").read_text().split()
        before = children_cpu_s()
        subprocess.run(
            [
                "java",
                *[o for o in jvm_options if o.startswith("--add-")],
                "-cp",
                f"{home / 'lib'}/*",
                "org.apache.cassandra.tools.NodeTool",
                "-p",
                str(self.settings.cassandra_jmx_port),
                *args,
            ],
            check=True,
            capture_output=True,
        )
        self.nodetool_cpu_s += children_cpu_s() - before

    def settle(self, deadline_s: float = 900, *, everything: bool = False) -> float:
        """After a load: its memtables flushed and the compactions it set off finished, so a
        level measures bids among N auctions, not the bulk load's compaction debt (which a
        system that grew to N over weeks paid as it went). Cassandra announces no end of
        compaction; its ``sstable_tasks`` table is polled until empty. Returns the seconds.
        ``everything``: every keyspace flushed, not only Gavel's (the Paxos state too)."""
        started = time.monotonic()
        self.nodetool("flush", *([] if everything else [self.settings.cassandra_keyspace]))
        while time.monotonic() - started < deadline_s:
            if not self.session.execute("SELECT kind FROM system_views.sstable_tasks").current_rows:
                break
            time.sleep(1.0)
        return time.monotonic() - started

    def disk(self) -> dict[str, float]:
        """Bytes on disk: Cassandra's keyspace once its memtables are flushed, by table; the
        bid log in JetStream."""
        self.nodetool("flush", self.settings.cassandra_keyspace)
        keyspace = self.settings.data_dir / "cassandra" / "data" / self.settings.cassandra_keyspace
        tables = {
            table.name.split("-")[0]: sum(f.stat().st_size for f in table.rglob("*") if f.is_file())
            for table in keyspace.iterdir()
        }
        return {
            "cassandra_bytes": float(sum(tables.values())),
            **{f"cassandra_{name}_bytes": float(size) for name, size in tables.items() if size},
            **asyncio.run(_stream_size(self.settings)),
        }


def _gauges(settings: Settings, port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith("gavel_") and "{" not in line.split(" ")[0]
    }


async def _stream_size(settings: Settings) -> dict[str, float]:
    """The bid log's bytes on disk and the commands it holds."""
    nc = await nats.connect(settings.nats_url)
    try:
        info = await nc.jetstream().stream_info(bus.BIDS_STREAM)
        return {"nats_bids_bytes": float(info.state.bytes), "nats_bids_messages": float(info.state.messages)}
    finally:
        await nc.close()


async def _reads(store: AuctionStore, ids: list[uuid.UUID], concurrency: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds

    async def loop(offset: int) -> None:
        i = offset
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            # A read that found nothing would cost less than the one a bid makes.
            assert await store.get(ids[i % len(ids)]) is not None
            latencies.append(time.perf_counter() - t)
            i += concurrency

    await asyncio.gather(*(loop(i) for i in range(concurrency)))
    return summary(latencies, time.perf_counter() - started)


# --- the closer at scale --------------------------------------------------------------------


async def closer_at_scale(
    settings: Settings, store: AuctionStore, first: int, ending: int, window: timedelta = timedelta(minutes=1)
) -> dict[str, Any]:
    """``ending`` auctions with ends spread evenly over one ``window`` (by default the next
    whole minute at least 20 s away), loaded among the others; every close is awaited as the
    event the worker publishes. Lag is ``closed_at - end_date`` as decided; a second close
    decision of one auction would show as a second closing version."""
    now = datetime.now(UTC)
    if window == timedelta(minutes=1):
        minute = (now + timedelta(seconds=80)).replace(second=0, microsecond=0)
    else:
        minute = now + window
    ends = {lot_id(i): minute + window * k / ending for k, i in enumerate(range(first, first + ending))}
    closing: dict[uuid.UUID, set[int]] = {a: set() for a in ends}
    closed_at: dict[uuid.UUID, datetime] = {}
    all_closed = asyncio.Event()
    nc = await nats.connect(settings.nats_url)

    async def on_event(msg: nats.aio.msg.Msg) -> None:
        event = pb.AuctionEvent.FromString(msg.data)
        a = uuid.UUID(event.auction.auction_id)
        if a in closing and event.auction.HasField("closed_at"):
            closing[a].add(event.auction.version)
            closed_at[a] = event.auction.closed_at.ToDatetime(tzinfo=UTC)
            if len(closed_at) == ending:
                all_closed.set()

    await nc.subscribe("auction.*", cb=on_event)
    await nc.flush()
    started = time.monotonic()
    await store.import_many([lot(i, now, end=ends[lot_id(i)]) for i in range(first, first + ending)])
    loaded = time.monotonic() - started
    timed_out = False
    try:
        await asyncio.wait_for(all_closed.wait(), (minute - datetime.now(UTC)).total_seconds() + 300)
    except TimeoutError:
        timed_out = True
    await nc.close()
    lags = sorted((closed_at[a] - ends[a]).total_seconds() for a in closed_at)
    stored = await store.get_many(list(ends))
    return {
        "auctions_ending": ending,
        "load_s": loaded,
        "closed": len(closed_at),
        "left_open": sum(1 for a in ends if stored[a].closed_at is None),
        "closed_twice": sum(1 for versions in closing.values() if len(versions) > 1),
        "timed_out": timed_out,
        "lag_p50_s": lags[len(lags) // 2] if lags else None,
        "lag_p99_s": lags[int(len(lags) * 0.99)] if lags else None,
        "lag_max_s": lags[-1] if lags else None,
    }


# --- watchers at scale ----------------------------------------------------------------------


async def _subscriptions(settings: Settings, name: str) -> int:
    """Subscriptions NATS holds for the named client connection (its /connz)."""
    async with httpx.AsyncClient() as client:
        connz = (await client.get(f"http://127.0.0.1:{settings.nats_monitor_port}/connz", params={"subs": 1})).json()
    return sum(c.get("subscriptions", 0) for c in connz.get("connections", []) if c.get("name") == name)


def watchers_at_scale(settings: Settings, stack: Stack, auctions: list[str], watchers: int) -> dict[str, Any]:
    """One bid on each auction while ``watchers`` streams watch them (bench.fanout)."""
    token = mint_dev_token(BIDDER, settings.jwt_secret)
    pid = stack.processes["stream_svc"].pid
    result = fanout.run(
        settings,
        pid,
        auctions,
        token,
        watchers,
        bidders=20,
        per_bidder=max(1, len(auctions) // 20),
        while_watching=lambda: {"stream_svc_nats_subscriptions": asyncio.run(_subscriptions(settings, "stream_svc"))},
    )
    # From the burst's first bid until every watcher has its last (opening the streams apart).
    result["stream_svc_cpu_ms_per_delivery"] = (
        1000 * float(result["stream_svc_cpu_s_burst"]) / max(1, int(result["deliveries"]))  # type: ignore[arg-type,call-overload]
    )
    return result


# --- the whole run --------------------------------------------------------------------------


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run by CPU per op, with every run's figure beside it: one compaction that
    happens to land in one run does not make the level."""
    ordered = sorted(runs, key=lambda r: r["cpu_ms_per_op"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["cpu_ms_per_op_runs"] = [r["cpu_ms_per_op"] for r in ordered]
    return chosen


Run = Callable[[], dict[str, Any]]


def alternated(ours: Run, theirs: Run, repeats: int = REPEATS) -> tuple[dict[str, Any], dict[str, Any]]:
    """``repeats`` runs of each in turns (ours, theirs, ours, ...), and the median of each:
    both medians come from the same minutes of the machine."""
    mine: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    for _ in range(repeats):
        mine.append(ours())
        other.append(theirs())
    return median_run(mine), median_run(other)


@dataclass
class Baseline:
    """The smallest level's stack, up beside the one that grows."""

    bench: Bench
    n: int


def level(
    bench: Bench, n: int, rng: random.Random, baseline: Baseline | None = None, paced: float | None = None
) -> dict[str, Any]:
    """One level's figures; with ``baseline``, its bid and create runs taken in turns with the
    baseline's (kept as ``baseline_bids`` / ``baseline_creates``: what its ratios divide by).
    Bids twice: as fast as they go (``bids``: the rate), and paced at ``paced`` bids a second
    (``paced_bids``: the cost and the latency); without ``paced``, at ``PACED_FRACTION`` of
    the smallest N's rate just measured."""
    started = time.monotonic()
    out: dict[str, Any] = {"open_auctions": n}
    if baseline is None:
        out["bids"] = bench.bids(n, rng)
        rate = paced or PACED_FRACTION * out["bids"]["per_s"]
        out["paced_bids"] = bench.bids(n, rng, rate)
        out["creates"] = bench.creates()
        out["reads"] = median_run([bench.read_run(n, rng) for _ in range(REPEATS)])
    else:
        base = baseline.bench
        out["bids"], out["baseline_bids"] = alternated(
            lambda: bench.bid_run(n, rng), lambda: base.bid_run(baseline.n, rng)
        )
        rate = paced or PACED_FRACTION * out["baseline_bids"]["per_s"]
        out["paced_bids"], out["baseline_paced_bids"] = alternated(
            lambda: bench.bid_run(n, rng, rate), lambda: base.bid_run(baseline.n, rng, rate)
        )
        out["creates"], out["baseline_creates"] = alternated(bench.creates, base.creates)
        out["reads"], out["baseline_reads"] = alternated(
            lambda: bench.read_run(n, rng), lambda: base.read_run(baseline.n, rng)
        )
    out["paced_rps"] = rate
    out["memory"] = bench.memory()
    out["disk"] = bench.disk()
    out["measured_s"] = time.monotonic() - started
    return out


def ratios(levels: dict[int, dict[str, Any]], closer: dict[str, Any] | None) -> dict[str, float]:
    """The largest level against the smallest: against the baseline runs taken in turns with
    it, where it has them (``level``).

    The issue's ratios are the flat-out runs', as ``make bench`` measures. Beside them:

    - ``_paced_``: the same offered load at both N. Flat out, the smaller N also runs faster,
      and a bid's CPU falls with the rate (more bids share each wakeup, flush and batch:
      bid_svc's CPU per bid was 2.32 ms flat out and 3.67 ms at half that rate on the same
      stack, ghz's 0.75 and 1.52), so the flat-out ratio measures the rate as much as N. Its
      latency, though, is queueing: at the 1,000 stack's half rate the largest N runs much
      nearer its own limit.
    - ``bound_bid_cost_``: the least the ratio can be while a bid on an auction no cache
      knows makes one point read: (the small N's bid + the large N's raw read) ÷ the small
      N's bid, the read measured alone (``Bench.read_run``: Cassandra's CPU and the client's).
    """
    large = levels[max(levels)]
    small = levels[min(levels)]
    bids = large.get("baseline_bids", small["bids"])
    paced = large.get("baseline_paced_bids", small.get("paced_bids"))
    creates = large.get("baseline_creates", small["creates"])
    tag = _tag(max(levels)) + "_vs_" + _tag(min(levels))
    out = {
        f"bid_cost_{tag}": large["bids"]["cpu_ms_per_op"] / bids["cpu_ms_per_op"],
        f"create_cost_{tag}": large["creates"]["cpu_ms_per_op"] / creates["cpu_ms_per_op"],
        f"bid_p99_{tag}": large["bids"]["p99_ms"] / bids["p99_ms"],
        f"bid_rate_{tag}": large["bids"]["per_s"] / bids["per_s"],
        # Gavel's processes alone: the load generator does the same work per bid at every N,
        # so its own CPU per bid rising with N is this machine's, not Gavel's.
        f"bid_cost_servers_{tag}": _servers(large["bids"]) / _servers(bids),
    }
    if paced is not None and "paced_bids" in large:
        out[f"bid_cost_paced_{tag}"] = large["paced_bids"]["cpu_ms_per_op"] / paced["cpu_ms_per_op"]
        out[f"bid_p99_paced_{tag}"] = large["paced_bids"]["p99_ms"] / paced["p99_ms"]
        # Whether the larger N kept up with the offered load (else it was saturated after all).
        out[f"paced_rate_{tag}"] = large["paced_bids"]["per_s"] / paced["per_s"]
    if "reads" in large:
        out[f"bound_bid_cost_{tag}"] = (bids["cpu_ms_per_op"] + read_cost(large["reads"])) / bids["cpu_ms_per_op"]
    if closer is not None and closer["lag_p99_s"] is not None:
        out["close_lag_p99_s"] = closer["lag_p99_s"]
    return out


def read_cost(run: dict[str, Any]) -> float:
    """CPU ms per point read: Cassandra's and its client's (the stack's other processes idle)."""
    return float(run["cpu_s_per_1000"]["cassandra"] + run["cpu_s_per_1000"]["bench"])


#: The processes a run's CPU counts that are not Gavel's (the client, the bench itself).
CLIENTS = ("ghz", "bench", "envoy", "nodetool")


def _servers(run: dict[str, Any]) -> float:
    return sum(v for k, v in run["cpu_s_per_1000"].items() if k not in CLIENTS)


def _tag(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def warm_up(bench: Bench, n: int, rng: random.Random, max_rounds: int = 12) -> dict[str, float]:
    """Bids until Cassandra's JIT compiler has gone quiet (see bench.jvm), as ``make bench`` does."""
    pid = bench.pids["cassandra"]
    compiled = jvm.compiler_cpu_seconds(pid)
    for rounds in range(1, max_rounds + 1):  # noqa: B007
        bench.bid_run(n, rng)
        compiled, last = jvm.compiler_cpu_seconds(pid), compiled
        if compiled - last < 0.5:
            break
    return {"rounds": rounds, "compiler_s_last_round": compiled - last}


def _loaded(bench: Bench, start: int, stop: int, now: datetime) -> dict[str, float]:
    """Auctions ``start`` to ``stop`` imported, then flushed and compacted (``Bench.settle``)."""
    started = time.monotonic()
    asyncio.run(load(bench.store, start, stop, now))
    load_s = time.monotonic() - started
    return {"load_s": load_s, "settle_s": bench.settle(), "loaded_per_s": (stop - start) / load_s}


def run(
    settings: Settings,
    stack: Stack,
    ghz_bin: str,
    sizes: list[int],
    *,
    concurrency: int,
    seconds: float,
    ending: int,
    watchers: int,
    watched: int,
    warm: bool = True,
    closing_window: timedelta = timedelta(minutes=1),
    baseline: tuple[Settings, Stack] | None = None,
    save: Callable[[dict[str, Any]], None] = lambda results: None,
    paced_rps: float | None = None,
) -> dict[str, Any]:
    """Every part on a running stack; ``make test`` runs it with small figures. With
    ``baseline`` (a second stack), the smallest N is loaded there and every larger level, on
    ``stack``, is measured in turns with it (``level``); without, the levels follow each other
    on ``stack``. ``save`` gets the results after each part (a long run that fails late keeps
    what it measured). ``paced_rps``: the paced bid runs' offered load (else set by the first
    level, ``level``)."""
    sizes = sorted(sizes)

    def on(s: Settings, st: Stack) -> Bench:
        session = cql.connect(s, s.cassandra_keyspace)
        return Bench(s, st, session, AuctionStore(session), ghz_bin, concurrency, seconds)

    bench = on(settings, stack)
    base = Baseline(on(*baseline), sizes[0]) if baseline is not None and len(sizes) > 1 else None
    rng = random.Random(20261202)
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(),
        "concurrency": concurrency,
        "seconds": seconds,
        "paired": base is not None,
    }
    now = datetime.now(UTC)
    loaded, levels = 0, {}
    try:
        if base is not None:
            base_loaded = _loaded(base.bench, 0, base.n, now)
            if warm:
                results["warm_up_baseline"] = warm_up(base.bench, base.n, rng)
        for i, n in enumerate(sizes[1:] if base is not None else sizes):
            figures = _loaded(bench, loaded, n, now)
            loaded = n
            if i == 0 and warm:
                results["warm_up"] = warm_up(bench, n, rng)
            levels[n] = {**level(bench, n, rng, base, paced_rps), **figures}
            paced_rps = levels[n]["paced_rps"]  # one offered load for every level
            if base is not None:
                levels[base.n] = {
                    "open_auctions": base.n,
                    "bids": levels[n]["baseline_bids"],
                    "paced_bids": levels[n]["baseline_paced_bids"],
                    "reads": levels[n]["baseline_reads"],
                    "paced_rps": paced_rps,
                    "creates": levels[n]["baseline_creates"],
                    "memory": base.bench.memory(),
                    "disk": base.bench.disk(),
                    "paired_with": n,
                    **base_loaded,
                }
            results["levels"] = {str(k): levels[k] for k in sorted(levels)}
            save(results)
        closer = asyncio.run(closer_at_scale(settings, bench.store, loaded, ending, closing_window)) if ending else None
        results["closer"] = closer
        results["ratios"] = ratios(levels, closer)
        save(results)
        if watchers:
            watched_ids = [str(lot_id(i)) for i in range(watched)]
            results["watchers"] = watchers_at_scale(settings, stack, watched_ids, watchers)
        results["ratios"] = ratios(levels, closer)
    finally:
        for b in (bench, *([base.bench] if base is not None else [])):
            b.session.cluster.shutdown()
    return results


def table(r: dict[str, Any]) -> str:
    rows = [
        f"{'open auctions':>14}{'bid/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'cpu ms/bid':>11}"
        f"{'paced/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'cpu ms/bid':>11}"
        f"{'create/s':>9}{'p99 ms':>8}{'cpu ms/create':>14}{'bid_svc MiB':>12}{'disk B/auction':>15}"
    ]
    for n, v in r["levels"].items():
        b, c = v["bids"], v["creates"]
        p = v.get("paced_bids") or {k: float("nan") for k in ("per_s", "p50_ms", "p99_ms", "cpu_ms_per_op")}
        rows.append(
            f"{int(n):>14,}{b['per_s']:>8.0f}{b['p50_ms']:>8.1f}{b['p99_ms']:>8.1f}{b['cpu_ms_per_op']:>11.2f}"
            f"{p['per_s']:>8.0f}{p['p50_ms']:>8.1f}{p['p99_ms']:>8.1f}{p['cpu_ms_per_op']:>11.2f}"
            f"{c['per_s']:>9.0f}{c['p99_ms']:>8.1f}{c['cpu_ms_per_op']:>14.2f}"
            f"{v['memory']['rss_mb'].get('bid_svc', float('nan')):>12.0f}"
            f"{v['disk']['cassandra_bytes'] / int(n):>15.0f}"
        )
    if r.get("paired"):
        rows.append(
            f"(the {int(min(r['levels'], key=int)):,} row: a stack of its own, its runs taken in turns with the"
            f" {int(max(r['levels'], key=int)):,} row's; each larger level's ratios are against the runs taken with it)"
        )
    rows.append("")
    cl = r.get("closer")
    if cl:
        rows.append(
            f"closer: {cl['auctions_ending']:,} ending in one minute: {cl['closed']:,} closed, {cl['left_open']} left open,"
            f" {cl['closed_twice']} closed twice; lag p50 {cl['lag_p50_s']:.2f} s, p99 {cl['lag_p99_s']:.2f} s,"
            f" max {cl['lag_max_s']:.2f} s"
        )
    w = r.get("watchers")
    if w:
        rows.append(
            f"watchers: {w['watchers']:,} streams (of {w.get('watchers_asked', w['watchers']):,} asked) over {w['auctions']:,} auctions: {w['memory_per_watcher_kb']:.1f} KiB"
            f" per watcher, delivery p50 {w['latency_p50_ms']:.1f} ms p99 {w['latency_p99_ms']:.1f} ms,"
            f" stream_svc holds {w['stream_svc_nats_subscriptions']} NATS subscriptions;"
            f" all converged {w['all_ended_on_final_version']}, never down {w['never_went_down_or_repeated']}"
        )
    rows.append("")
    for name, value in r["ratios"].items():
        goal = GOALS.get(name)
        verdict = f"   (goal <= {goal}: {'met' if value <= goal else 'not met'})" if goal else ""
        rows.append(f"{name:<36}{value:>8.2f}{verdict}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.scale")
    parser.add_argument("--ghz", default=str(GHZ_DEFAULT))
    parser.add_argument("--sizes", default=",".join(str(n) for n in SIZES), help="open auctions at each level")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--paced-rps",
        type=float,
        default=None,
        help="the paced bid runs' load (default: a share of the smallest N's rate)",
    )
    parser.add_argument("--ending", type=int, default=10_000, help="auctions ending in one minute (closer run)")
    parser.add_argument("--watchers", type=int, default=10_000)
    parser.add_argument("--watched", type=int, default=1_000, help="auctions the watchers spread over")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--sequential", action="store_true", help="every level on one stack, one after another (not in turns)"
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    settings = bench_settings(Path(tempfile.mkdtemp(prefix="gavel-scale-"))).model_copy(
        update={"cassandra_jmx_port": JMX_PORT}
    )
    with running(settings) as stack, contextlib.ExitStack() as beside:
        baseline = None
        if not args.sequential and len(sizes) > 1:
            base_settings = bench_settings(Path(tempfile.mkdtemp(prefix="gavel-scale-base-")), 1000).model_copy(
                update={"cassandra_jmx_port": JMX_PORT + 1000}
            )
            baseline = (base_settings, beside.enter_context(running(base_settings)))
        results = run(
            settings,
            stack,
            args.ghz,
            sizes,
            baseline=baseline,
            concurrency=args.concurrency,
            seconds=args.seconds,
            ending=args.ending,
            watchers=args.watchers,
            watched=args.watched,
            save=lambda partial: args.out.write_text(json.dumps(partial, indent=2) + "\n"),
            paced_rps=args.paced_rps,
        )
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    if args.out == RESULTS:
        capacity.write(results)
        print(f"\n{capacity.DOC.relative_to(ROOT)} regenerated", file=sys.stderr)


if __name__ == "__main__":
    main()
