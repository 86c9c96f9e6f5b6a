"""``make profile``: where a bid's CPU goes, per process, under the bench's PlaceBid load.

On a bench stack of its own: ghz drives PlaceBid over many auctions (as ``make bench``'s
``path_many_direct``) while py-spy samples bid_svc (its API and its worker share the process
locally; only the thread holding the GIL, so the shares are of Python's CPU, not of threads
waiting) and JFR samples Cassandra, both for the same window. Written to ``build/profile/``:
``bid_svc.svg`` (a flame graph), ``bid_svc.txt`` (functions by share of samples, self and
total), ``cassandra.jfr`` and ``cassandra.txt`` (the hottest frames of JFR's execution
samples), and ``nats.json`` (the server's /varz before and after: messages, bytes, CPU), and
``cassandra_requests.json`` (Cassandra's requests per bid by table, from its virtual tables),
``nats.pprof`` and ``nats.txt`` (the NATS server's own CPU profile, by its Go profiler).
Figures are shares of one process's samples, so they hold on a noisy machine too.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

from cassandra.cluster import Session

from bench.__main__ import bid_data, create_lots
from bench.runs import bench_settings, ghz
from devstack.stack import running
from gavel import cql
from gavel.auction_store import AuctionStore
from gavel.auth import mint_dev_token

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


def jfr_top(recording: Path, n: int = 25) -> list[str]:
    """The top frames of JFR's execution samples (``jfr print``, from the JDK)."""
    jfr = shutil.which("jfr")
    if jfr is None:
        return ["(no jfr tool on PATH)"]
    printed = subprocess.run(
        [jfr, "print", "--events", "jdk.ExecutionSample", "--stack-depth", "1", str(recording)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    frames = collections.Counter(
        line.strip().split("line:")[0].strip()
        for line in printed.splitlines()
        if line.strip() and line.startswith(" " * 4) and "(" in line
    )
    total = sum(frames.values()) or 1
    return [f"{total} samples; share  frame"] + [f"{100 * c / total:5.1f}  {f}" for f, c in frames.most_common(n)]


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


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.profile")
    parser.add_argument("--ghz", default=str(Path.home() / ".cache/gavel/bin/ghz"))
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    settings = bench_settings(Path(tempfile.mkdtemp(prefix="gavel-profile-")))
    # The server's Go profiler, for this stack only (one port past its monitor).
    prof_port = settings.nats_monitor_port + 1
    with running(settings, nats_config=f"\nprof_port: {prof_port}\n") as stack:
        session = cql.connect(settings, settings.cassandra_keyspace)
        lots = asyncio.run(create_lots(settings, AuctionStore(session), 500))
        token = mint_dev_token("bench-bidder", settings.jwt_secret)
        target = f"127.0.0.1:{settings.bid_port}"
        ghz(args.ghz, target, token, bid_data(lots), args.concurrency, 10)  # warm
        pids = {name: p.pid for name, p in stack.processes.items()}
        secs = args.seconds
        collapsed = OUT / "bid_svc.collapsed"
        spy = [str(PY_SPY), "record", "--pid", str(pids["bid_svc"]), "--duration", str(secs), "--rate", "200", "--gil"]
        spies = [
            subprocess.Popen([*spy, "--format", "raw", "--output", str(collapsed)], stdout=subprocess.DEVNULL),
            subprocess.Popen([*spy, "--output", str(OUT / "bid_svc.svg")], stdout=subprocess.DEVNULL),
        ]
        recording = OUT / "cassandra.jfr"
        jcmd = shutil.which("jcmd")
        if jcmd:
            subprocess.run([jcmd, str(pids["cassandra"]), "JFR.start", "name=gavel"], check=True, capture_output=True)
        nats_profile = OUT / "nats.pprof"
        nats_url = f"http://127.0.0.1:{prof_port}/debug/pprof/profile?seconds={secs}"
        nats_sampler = threading.Thread(
            target=lambda: nats_profile.write_bytes(urllib.request.urlopen(nats_url, timeout=secs + 30).read())
        )
        nats_sampler.start()
        before = varz(settings.nats_monitor_port)
        requests_before = cassandra_requests(session)
        ran: list[dict[str, object]] = []
        load = threading.Thread(
            target=lambda: ran.append(ghz(args.ghz, target, token, bid_data(lots), args.concurrency, secs))
        )
        load.start()
        load.join()
        after = varz(settings.nats_monitor_port)
        requests_after = cassandra_requests(session)
        if jcmd:
            for command in (["JFR.dump", "name=gavel", f"filename={recording}"], ["JFR.stop", "name=gavel"]):
                subprocess.run([jcmd, str(pids["cassandra"]), *command], check=True, capture_output=True)
        nats_sampler.join()
        for spy_process in spies:
            spy_process.wait(timeout=60)
        session.cluster.shutdown()
    (OUT / "bid_svc.txt").write_text("\n".join(top(collapsed)) + "\n")
    if recording.exists():
        (OUT / "cassandra.txt").write_text("\n".join(jfr_top(recording)) + "\n")
    if nats_profile.exists():
        (OUT / "nats.txt").write_text("\n".join(go_top(nats_profile)) + "\n")
    bids = int(ran[0]["ops"]) if ran else 0  # type: ignore[call-overload]
    per_bid = {k: (int(after[k]) - int(before[k])) / max(1, bids) for k in before if k not in ("connections", "cpu")}  # type: ignore[call-overload]
    requests = {
        k: (n - requests_before.get(k, 0)) / max(1, bids)
        for k, n in sorted(requests_after.items())
        if n > requests_before.get(k, 0)
    }
    (OUT / "cassandra_requests.json").write_text(json.dumps({"bids": bids, "per_bid": requests}, indent=2) + "\n")
    (OUT / "nats.json").write_text(
        json.dumps({"bids": bids, "per_bid": per_bid, "before": before, "after": after}, indent=2) + "\n"
    )
    print((OUT / "bid_svc.txt").read_text())
    if (OUT / "cassandra.txt").exists():
        print((OUT / "cassandra.txt").read_text())
    if (OUT / "nats.txt").exists():
        print((OUT / "nats.txt").read_text())
    print(f"cassandra requests per bid ({bids} bids):")
    for k, v in requests.items():
        print(f"  {v:6.3f}  {k}")
    print(f"nats per bid ({bids} bids): " + ", ".join(f"{k} {v:.2f}" for k, v in per_bid.items()))


if __name__ == "__main__":
    main()
