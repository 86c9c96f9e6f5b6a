"""Notifications: delivery from the decision to 1,000 connected users, and what it costs.

The users' streams run in their own process (``bench.inboxes``). The driver makes every
notification an OUTBID: on each of a few auctions, users bid one after another, each
above the last, so each accepted bid takes the lead from the user before (one notification
per bid). CPU is counted per process over the burst, from the first bid until the last
notification has arrived; it is the bids' and their notifications' together, so the figure
per notification that is the notification's alone is stream_svc's (it does nothing else
here), set beside its cost per watch event in the fan-out run.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import grpc

from bench import procfs
from bench.inboxes import user
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.auth import mint_dev_token
from gavel.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


async def chains(settings: Settings, auction_ids: list[str], users: int, per_auction: int) -> int:
    """Each auction's bids in turn by the next users (the auctions in parallel); returns how
    many bids took the lead from someone (each one notification)."""
    tokens = [mint_dev_token(user(i), settings.jwt_secret) for i in range(users)]
    async with grpc.aio.insecure_channel(settings.target("bid")) as channel:
        stub = pb_grpc.BidServiceStub(channel)

        async def chain(k: int, auction_id: str) -> int:
            took = 0
            for i in range(per_auction + 1):
                who = (k * per_auction + i) % users
                reply = await stub.PlaceBid(
                    pb.PlaceBidRequest(auction_id=auction_id, amount=1000 + 100 * i, request_id=uuid.uuid4().hex),
                    metadata=(("authorization", f"Bearer {tokens[who]}"),),
                )
                took += i > 0 and reply.status == pb.BID_STATUS_ACCEPTED
            return took

        return sum(await asyncio.gather(*(chain(k, a) for k, a in enumerate(auction_ids))))


def run(settings: Settings, pids: dict[str, int], auction_ids: list[str], users: int) -> dict[str, object]:
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.inboxes", settings.target("stream"), settings.jwt_secret, str(users)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    names = ("bid_svc", "nats", "stream_svc")
    try:
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("the users' streams did not all go live")
        before = {p: procfs.cpu_seconds(Path(f"/proc/{pids[p]}/stat")) for p in names}
        per_auction = users // len(auction_ids)
        expected = asyncio.run(chains(settings, auction_ids, users, per_auction))
        child.stdin.write(f"{expected}\n")
        child.stdin.flush()
        summary: dict[str, object] = json.loads(child.stdout.readline())
        spent = {p: procfs.cpu_seconds(Path(f"/proc/{pids[p]}/stat")) - before[p] for p in names}
    finally:
        child.kill()
        child.wait()
    delivered = max(1, int(summary["deliveries"]))  # type: ignore[call-overload]
    summary["bids"] = (per_auction + 1) * len(auction_ids)
    summary["cpu_ms_per_notification"] = {p: 1000 * s / delivered for p, s in spent.items()}
    return summary
