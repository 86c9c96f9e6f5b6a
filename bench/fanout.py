"""Fan-out: N WatchAuction streams on one stream_svc process across a burst of bids (on one
auction, or spread over many).

The watchers run in their own process (bench.watchers); this side creates the auction,
measures stream_svc's resident memory before and after the streams open (memory per
watcher), places the burst, and hands the final version to the watchers to await.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import grpc

from bench import procfs
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def burst(
    settings: Settings, token: str, auction_ids: list[str], bidders: int, per_bidder: int
) -> dict[str, int]:
    """Rising bids from concurrent bidders (mostly accepted, some overtaken), each bid on the
    next of the auctions; each auction's final version."""
    metadata = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(settings.target("bid")) as channel:
        stub = pb_grpc.BidServiceStub(channel)

        finals = dict.fromkeys(auction_ids, 0)

        async def bidder(k: int) -> None:
            for i in range(per_bidder):
                auction_id = auction_ids[(i * bidders + k) % len(auction_ids)]
                reply = await stub.PlaceBid(
                    pb.PlaceBidRequest(
                        auction_id=auction_id,
                        amount=1000 + 10 * (i * bidders + k),
                        request_id=uuid.uuid4().hex,
                    ),
                    metadata=metadata,
                )
                finals[auction_id] = max(finals[auction_id], reply.auction_version)

        await asyncio.gather(*(bidder(k) for k in range(bidders)))
        return finals


def run(
    settings: Settings,
    stream_pid: int,
    auction_ids: str | list[str],
    token: str,
    watchers: int,
    bidders: int = 10,
    per_bidder: int = 30,
    while_watching: Callable[[], dict[str, object]] | None = None,
) -> dict[str, object]:
    """``while_watching``: figures taken once every stream is open, merged into the summary."""
    ids = [auction_ids] if isinstance(auction_ids, str) else auction_ids
    rss_before = rss_bytes(stream_pid)
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.watchers", settings.target("stream"), ",".join(ids), str(watchers)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("the watchers did not all get their first event")
        rss_watching = rss_bytes(stream_pid)
        during = while_watching() if while_watching else {}
        cpu_watching = procfs.cpu_seconds(Path(f"/proc/{stream_pid}/stat"))
        finals = asyncio.run(burst(settings, token, ids, bidders, per_bidder))
        child.stdin.write(json.dumps(finals) + "\n")
        child.stdin.flush()
        summary: dict[str, object] = json.loads(child.stdout.readline())
        # stream_svc's CPU from the first bid of the burst until every watcher has the last.
        summary["stream_svc_cpu_s_burst"] = procfs.cpu_seconds(Path(f"/proc/{stream_pid}/stat")) - cpu_watching
    finally:
        child.kill()
        child.wait()
    summary.update(
        {
            **during,
            "bids": bidders * per_bidder,
            "final_version": max(finals.values()),
            "stream_svc_rss_before_mb": rss_before / 2**20,
            "stream_svc_rss_watching_mb": rss_watching / 2**20,
            "memory_per_watcher_kb": (rss_watching - rss_before) / max(1, int(summary["watchers"])) / 1024,  # type: ignore[call-overload]
        }
    )
    return summary
