"""``python -m bench.watchers TARGET AUCTION_IDS N``: N WatchAuction streams in one process,
spread round-robin over the comma-separated auctions, apart from the bench driver so the
watchers' CPU is not the bidders'.

Protocol on stdin/stdout: prints ``ready`` once every stream has its first event; then reads
each auction's final version from stdin (one JSON object, id → version), waits until every
stream has reached its auction's, and prints one JSON
summary: per-stream checks (versions only up, ended on the final one) and the delivery
latency from the bid's receive time (``placed_at``, stamped by bid_svc) to its arrival here.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import sys
import time

import grpc

from bench.runs import cdf
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc


class Watcher:
    def __init__(self, auction_id: str) -> None:
        self.auction_id = auction_id
        self.versions: list[int] = []
        self.latencies_ms: list[float] = []
        self.changed = asyncio.Event()

    async def run(self, stub: pb_grpc.StreamServiceStub) -> None:
        async for event in stub.WatchAuction(pb.WatchAuctionRequest(auction_id=self.auction_id)):
            if event.heartbeat:
                continue
            if event.HasField("bid"):
                self.latencies_ms.append((time.time() - event.bid.placed_at.ToMicroseconds() / 1e6) * 1000)
            self.versions.append(event.auction.version)
            self.changed.set()


async def main(target: str, auction_ids: list[str], n: int) -> None:
    # A few channels (HTTP/2 connections), as many clients behind a few proxies would be.
    channels = [grpc.aio.insecure_channel(target) for _ in range(max(1, n // 250))]
    watchers = [Watcher(auction_ids[i % len(auction_ids)]) for i in range(n)]

    async def reach(w: Watcher, version: int) -> None:
        while not (w.versions and w.versions[-1] >= version):
            w.changed.clear()
            await w.changed.wait()

    # Opened in waves of 500, each awaited for its first events (clients arrive over time, not
    # all in one instant); a wave that does not open within a minute ends the opening, and the
    # summary says how many did.
    tasks: list[asyncio.Task[None]] = []
    started = time.monotonic()
    for wave in range(0, n, 500):
        for i in range(wave, min(wave + 500, n)):
            stub = pb_grpc.StreamServiceStub(channels[i % len(channels)])
            tasks.append(asyncio.create_task(watchers[i].run(stub)))
        try:
            await asyncio.wait_for(asyncio.gather(*(reach(w, 0) for w in watchers[wave : wave + 500])), 60)
        except TimeoutError:
            break
    opened_s = time.monotonic() - started
    watchers = [w for w in watchers if w.versions]
    failed = [repr(t.exception())[:200] for t in tasks if t.done() and not t.cancelled() and t.exception()]
    print("ready", flush=True)
    finals: dict[str, int] = json.loads(await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline))
    final = [finals[w.auction_id] for w in watchers]
    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(reach(w, final[i]) for i, w in enumerate(watchers))), 120)
    converged_s = time.monotonic() - started
    for task in tasks:
        task.cancel()
    latencies = sorted(x for w in watchers for x in w.latencies_ms)
    print(
        json.dumps(
            {
                "watchers": len(watchers),
                "watchers_asked": n,
                "opened_s": opened_s,
                "stream_errors": failed[:5],
                "auctions": len(auction_ids),
                "all_ended_on_final_version": all(w.versions[-1] == final[i] for i, w in enumerate(watchers)),
                "never_went_down_or_repeated": all(
                    all(a < b for a, b in itertools.pairwise(w.versions)) for w in watchers
                ),
                "events_per_watcher_mean": statistics.fmean(len(w.versions) for w in watchers),
                "deliveries": len(latencies),
                "latency_p50_ms": latencies[len(latencies) // 2] if latencies else None,
                "latency_p99_ms": latencies[int(len(latencies) * 0.99)] if latencies else None,
                "cdf_ms": cdf([ms / 1000 for ms in latencies]) if latencies else [],
                "converged_after_final_answer_s": converged_s,
            }
        ),
        flush=True,
    )
    for channel in channels:
        await channel.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])))
