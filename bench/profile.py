"""``make profile``: where a bid's CPU goes, per process, under the bench's PlaceBid load.

On a bench stack of its own: ghz drives PlaceBid over many auctions (as ``make bench``'s
``path_many_direct``) while py-spy samples bid_svc (its API and its worker share the process
locally; only the thread holding the GIL, so the shares are of Python's CPU, not of threads
waiting) and JFR samples Cassandra, both for the same window. Written to ``build/profile/``:
``bid_svc.svg`` (a flame graph), ``bid_svc.txt`` (functions by share of samples, self and
total), ``cassandra.jfr`` and ``cassandra.txt`` (the hottest frames of JFR's execution
samples), and ``nats.json`` (the server's /varz before and after: messages, bytes, CPU), and
``cassandra_requests.json`` (Cassandra's requests per bid by table, from its virtual tables),
``nats.pprof`` and ``nats.txt`` (the NATS server's own CPU profile, by its Go profiler), and
``cpu.json`` (CPU ms per bid by process, Cassandra's by thread pool, bid_svc's garbage
collector by generation). Figures are shares of one process's samples, so they hold on a
noisy machine too.

``--auctions N`` loads N open auctions as ``make bench-scale`` does and bids over all of
them, so two runs (``--out`` apart) show what a bid on an auction no cache knows costs
beyond one among a few: how the garbage collector's share was found (``gavel.gc_policy``).
``--no-jfr``: starting a JFR recording deoptimises Cassandra's compiled code (about a
thousand deoptimisations at the start), and the recompiling then more than doubled
Cassandra's CPU per bid (11.1 ms against 4.2 without, same load): compare CPU figures only
between runs without it.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cassandra.cluster import Session

from bench import procfs, scale
from bench.__main__ import bid_data, create_lots
from bench.runs import bench_settings, delta, ghz, measure
from devstack.stack import Stack, running
from gavel import cql
from gavel.auction_store import AuctionStore
from gavel.auth import mint_dev_token
from gavel.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "profile"
PY_SPY = Path(sys.executable).parent / "py-spy"


def top(collapsed: Path, n: int = 25) -> list[str]:
    """From py-spy's collapsed stacks ("frame;frame;... count"): each function's share of
    the samples as the innermost frame (self) and anywhere on the stack (total)."""
    own: collections.Counter[str] = collections.Counter()
    anywhere: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        k = int(count)
        samples += k
        own[frames[-1]] += k
        for frame in set(frames):
            anywhere[frame] += k
    rows = [f"{samples} samples; self% total%  function (file:line)"]
    rows += [f"{100 * c / samples:5.1f} {100 * anywhere[f] / samples:6.1f}  {f}" for f, c in own.most_common(n)]
    rows.append("")
    rows.append("by total (anywhere on the stack):")
    rows += [f"{100 * c / samples:6.1f}  {f}" for f, c in anywhere.most_common(n)]
    return rows


def jfr_samples(printed: str) -> list[tuple[str, list[str]]]:
    """``jfr print``'s execution samples as (thread pool, frames innermost first): the pool is
    the thread's name without its number ("MutationStage-3" -> "MutationStage")."""
    samples: list[tuple[str, list[str]]] = []
    thread, in_stack = "", False
    frames: list[str] = []
    for line in printed.splitlines():
        text = line.strip()
        if text.startswith("sampledThread = "):
            thread = procfs.pool(text.split('"')[1])
        elif text == "stackTrace = [":
            frames, in_stack = [], True
        elif in_stack and text == "]":
            samples.append((thread, frames))
            in_stack = False
        elif in_stack and "(" in text:
            frames.append(text.split(" line:")[0])
    return samples


def jfr_top(recording: Path, n: int = 25) -> list[str]:
    """JFR's execution samples (``jfr print``, from the JDK): shares by thread pool (what kind
    of work: requests, mutations, reads, compaction, flushing), by frame as the innermost
    (self), and by Cassandra frame anywhere on the stack (total), as ``top`` does for py-spy."""
    jfr = shutil.which("jfr")
    if jfr is None:
        return ["(no jfr tool on PATH)"]
    printed = subprocess.run(
        [jfr, "print", "--events", "jdk.ExecutionSample", "--stack-depth", "64", str(recording)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    samples = jfr_samples(printed)
    total = len(samples) or 1
    pools = collections.Counter(thread for thread, _ in samples)
    own = collections.Counter(frames[0] for _, frames in samples if frames)
    anywhere = collections.Counter(
        f for _, frames in samples for f in set(frames) if f.startswith("org.apache.cassandra")
    )
    rows = [f"{len(samples)} samples; share  thread pool"]
    rows += [f"{100 * c / total:5.1f}  {t}" for t, c in pools.most_common(n)]
    rows += ["", "self (innermost frame):"] + [f"{100 * c / total:5.1f}  {f}" for f, c in own.most_common(n)]
    rows += ["", "total (Cassandra frames anywhere on the stack):"]
    rows += [f"{100 * c / total:5.1f}  {f}" for f, c in anywhere.most_common(2 * n)]
    return rows


def go_top(profile: Path, n: int = 30) -> list[str]:
    """NATS's hottest functions by cumulative share (``go tool pprof``, from the Go toolchain
    that builds ghz): where the server's CPU goes, e.g. its consumers' state files."""
    go = shutil.which("go")
    if go is None:
        return ["(no go tool on PATH)"]
    printed = subprocess.run(
        [go, "tool", "pprof", "-top", "-cum", f"-nodecount={n}", str(profile)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return printed.splitlines()


def varz(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/varz", timeout=5) as reply:
        data: dict[str, object] = json.load(reply)
    return {k: data[k] for k in ("in_msgs", "out_msgs", "in_bytes", "out_bytes", "cpu", "connections") if k in data}


#: Cassandra's own request counters (virtual tables), by keyspace and table: what one bid
#: costs it in requests, including the Paxos rounds' writes to ``system.paxos``.
REQUEST_TABLES = (
    "coordinator_read_latency",
    "coordinator_write_latency",
    "coordinator_scan_latency",
    "local_read_latency",
    "local_write_latency",
    "local_scan_latency",
)


def cassandra_requests(session: Session) -> dict[str, int]:
    """``table keyspace.table`` -> requests so far (the tables with any)."""
    counts: dict[str, int] = {}
    for view in REQUEST_TABLES:
        for row in session.execute(f"SELECT keyspace_name, table_name, count FROM system_views.{view}"):
            if row.count:
                counts[f"{view} {row.keyspace_name}.{row.table_name}"] = row.count
    return counts


def _bids(
    settings: Settings, stack: Stack, session: Session, store: AuctionStore, args: argparse.Namespace
) -> Callable[[], list[dict[str, object]]]:
    """The auctions bid on, made ready and warmed up: ``make bench``'s 500 (ten seconds of
    bids), or ``--auctions`` loaded, settled and warmed as ``make bench-scale`` does (until
    Cassandra's JIT is quiet), each run then bidding over a fresh uniform sample."""
    if not args.auctions:
        lots = asyncio.run(create_lots(settings, store, 500))
        target = f"127.0.0.1:{settings.bid_port}"
        token = mint_dev_token("bench-bidder", settings.jwt_secret)
        ghz(args.ghz, target, token, bid_data(lots), args.concurrency, 10)  # warm
        return lambda: bid_data(lots)
    asyncio.run(scale.load(store, 0, args.auctions, datetime.now(UTC)))
    bench = scale.Bench(settings, stack, session, store, args.ghz, args.concurrency, args.seconds)
    bench.settle()
    rng = random.Random(20261207)
    print("warmed up:", scale.warm_up(bench, args.auctions, rng), flush=True)
    return lambda: scale.rising_bids(args.auctions, rng)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.profile")
    parser.add_argument("--ghz", default=str(Path.home() / ".cache/gavel/bin/ghz"))
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--auctions",
        type=int,
        default=0,
        help="open auctions loaded as make bench-scale loads them, each run's bids over a sample drawn"
        " uniformly from all of them (what a bid on an auction no cache knows costs); default: 500"
        " created, as make bench's",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--no-jfr",
        dest="jfr",
        action="store_false",
        help="no JFR recording: starting one deoptimises Cassandra's compiled code, whose recompiling"
        " then weighs on the CPU figures (the thread pools' CPU is read from /proc either way)",
    )
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    settings = bench_settings(Path(tempfile.mkdtemp(prefix="gavel-profile-"))).model_copy(
        update={"cassandra_jmx_port": scale.JMX_PORT}  # nodetool settles a load (``--auctions``)
    )
    # The server's Go profiler, for this stack only (one port past its monitor).
    prof_port = settings.nats_monitor_port + 1
    with running(settings, nats_config=f"\nprof_port: {prof_port}\n") as stack:
        session = cql.connect(settings, settings.cassandra_keyspace)
        store = AuctionStore(session)
        token = mint_dev_token("bench-bidder", settings.jwt_secret)
        target = f"127.0.0.1:{settings.bid_port}"
        data = _bids(settings, stack, session, store, args)
        pids = {name: p.pid for name, p in stack.processes.items()}
        secs = args.seconds
        collapsed = out / "bid_svc.collapsed"
        spy = [str(PY_SPY), "record", "--pid", str(pids["bid_svc"]), "--duration", str(secs), "--rate", "200", "--gil"]
        spies = [
            subprocess.Popen([*spy, "--format", "raw", "--output", str(collapsed)], stdout=subprocess.DEVNULL),
            subprocess.Popen([*spy, "--output", str(out / "bid_svc.svg")], stdout=subprocess.DEVNULL),
        ]
        recording = out / "cassandra.jfr"
        jcmd = shutil.which("jcmd") if args.jfr else None
        if jcmd:
            subprocess.run([jcmd, str(pids["cassandra"]), "JFR.start", "name=gavel"], check=True, capture_output=True)
        nats_profile = out / "nats.pprof"
        nats_url = f"http://127.0.0.1:{prof_port}/debug/pprof/profile?seconds={secs}"
        nats_sampler = threading.Thread(
            target=lambda: nats_profile.write_bytes(urllib.request.urlopen(nats_url, timeout=secs + 30).read())
        )
        nats_sampler.start()
        before = varz(settings.nats_monitor_port)
        requests_before = cassandra_requests(session)
        threads_before = procfs.threads(pids["cassandra"])
        ran, metrics = measure(pids, settings, lambda: ghz(args.ghz, target, token, data(), args.concurrency, secs))
        pools = procfs.pools_per_op(pids["cassandra"], threads_before, int(ran["ops"]))
        after = varz(settings.nats_monitor_port)
        requests_after = cassandra_requests(session)
        if jcmd:
            for command in (["JFR.dump", "name=gavel", f"filename={recording}"], ["JFR.stop", "name=gavel"]):
                subprocess.run([jcmd, str(pids["cassandra"]), *command], check=True, capture_output=True)
        nats_sampler.join()
        for spy_process in spies:
            spy_process.wait(timeout=60)
        session.cluster.shutdown()
    (out / "bid_svc.txt").write_text("\n".join(top(collapsed)) + "\n")
    if recording.exists():
        (out / "cassandra.txt").write_text("\n".join(jfr_top(recording)) + "\n")
    if nats_profile.exists():
        (out / "nats.txt").write_text("\n".join(go_top(nats_profile)) + "\n")
    bids = int(ran["ops"])
    per_bid = {k: (int(after[k]) - int(before[k])) / max(1, bids) for k in before if k not in ("connections", "cpu")}  # type: ignore[call-overload]
    requests = {
        k: (n - requests_before.get(k, 0)) / max(1, bids)
        for k, n in sorted(requests_after.items())
        if n > requests_before.get(k, 0)
    }
    (out / "cassandra_requests.json").write_text(json.dumps({"bids": bids, "per_bid": requests}, indent=2) + "\n")
    (out / "nats.json").write_text(
        json.dumps({"bids": bids, "per_bid": per_bid, "before": before, "after": after}, indent=2) + "\n"
    )
    cpu = ran["cpu_s_per_1000"]
    gc_ms = {k: 1000 * v / max(1, bids) for k, v in delta(*metrics, "gavel_python_gc_seconds_total").items()}
    (out / "cpu.json").write_text(
        json.dumps(
            {"bids": bids, "cpu_ms_per_bid": cpu, "cassandra_pools_ms_per_op": pools, "bid_svc_gc_ms_per_bid": gc_ms},
            indent=2,
        )
        + "\n"
    )
    print((out / "bid_svc.txt").read_text())
    if (out / "cassandra.txt").exists():
        print((out / "cassandra.txt").read_text())
    if (out / "nats.txt").exists():
        print((out / "nats.txt").read_text())
    print(f"cassandra requests per bid ({bids} bids):")
    for k, v in requests.items():
        print(f"  {v:6.3f}  {k}")
    print(
        "CPU ms per bid (py-spy's own in no figure; it stops bid_svc at each sample): "
        + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
    )
    print(
        "bid_svc's garbage collector, ms per bid by generation: " + ", ".join(f"{k} {v:.3f}" for k, v in gc_ms.items())
    )
    print("Cassandra's CPU ms per bid by thread pool: " + ", ".join(f"{k} {v:.2f}" for k, v in pools.items()))
    print(f"nats per bid ({bids} bids): " + ", ".join(f"{k} {v:.2f}" for k, v in per_bid.items()))


if __name__ == "__main__":
    main()
