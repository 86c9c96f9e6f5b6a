"""``python -m bench.inboxes TARGET SECRET N``: N users' WatchMyNotifications streams in one
process (users ``bench-user-0`` … ``bench-user-<N-1>``), apart from the bench driver so that
their CPU is not the bidders'.

Protocol on stdin/stdout: prints ``ready`` once every stream is live (its first heartbeat);
then reads the number of notifications to expect from stdin, waits until they have all
arrived (or two minutes), and prints one JSON summary: deliveries, repeats, order per user,
and the latency from the decision (the notification's ``created_at``, stamped by the worker)
to its arrival here.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import grpc

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.auth import mint_dev_token


def user(i: int) -> str:
    return f"bench-user-{i}"


class Inbox:
    def __init__(self, token: str) -> None:
        self.token = token
        self.ids: list[int] = []
        self.latencies_ms: list[float] = []
        self.live = asyncio.Event()

    async def run(self, stub: pb_grpc.StreamServiceStub, got: asyncio.Condition) -> None:
        metadata = (("authorization", f"Bearer {self.token}"),)
        async for n in stub.WatchMyNotifications(pb.WatchMyNotificationsRequest(), metadata=metadata):
            if n.heartbeat:
                self.live.set()
                continue
            self.latencies_ms.append((time.time() - n.created_at.ToMicroseconds() / 1e6) * 1000)
            self.ids.append(int(n.notification_id))
            async with got:
                got.notify_all()


async def main(target: str, secret: str, n: int) -> None:
    channels = [grpc.aio.insecure_channel(target) for _ in range(max(1, n // 250))]
    inboxes = [Inbox(mint_dev_token(user(i), secret)) for i in range(n)]
    got = asyncio.Condition()
    tasks = [
        asyncio.create_task(box.run(pb_grpc.StreamServiceStub(channels[i % len(channels)]), got))
        for i, box in enumerate(inboxes)
    ]
    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(box.live.wait() for box in inboxes)), 120)
    opened_s = time.monotonic() - started
    print("ready", flush=True)
    expected = int(await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline))

    def delivered() -> int:
        return sum(len(box.ids) for box in inboxes)

    try:
        async with got:
            await asyncio.wait_for(got.wait_for(lambda: delivered() >= expected), 120)
    except TimeoutError:
        pass
    for task in tasks:
        task.cancel()
    latencies = sorted(x for box in inboxes for x in box.latencies_ms)
    print(
        json.dumps(
            {
                "users": n,
                "opened_s": opened_s,
                "expected": expected,
                "deliveries": len(latencies),
                "repeated": sum(len(box.ids) - len(set(box.ids)) for box in inboxes),
                "in_order": all(box.ids == sorted(box.ids) for box in inboxes),
                "latency_p50_ms": latencies[len(latencies) // 2] if latencies else None,
                "latency_p99_ms": latencies[int(len(latencies) * 0.99)] if latencies else None,
            }
        ),
        flush=True,
    )
    for channel in channels:
        await channel.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
