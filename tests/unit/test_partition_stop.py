"""Stopping a partition cannot hang its worker's lease round, even on a task that swallows its
cancellation (Python 3.11's ``wait_for`` does, when the cancellation lands as its inner future
completes; nats-py's fetch runs on it). A hung stop once froze a worker's lease loop: it
kept serving PlaceBid and never decided another bid."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque

from bid_svc.worker import _Lane, _Partition


async def test_a_task_that_swallowed_its_cancellation_ends_at_its_next_check() -> None:
    partition = _Partition(worker=None, number=7)  # type: ignore[arg-type]  # stop needs no worker
    checks = 0

    async def fetch_loop() -> None:
        nonlocal checks
        swallowed = False
        while not partition.stopped:
            checks += 1
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed = True  # what wait_for does when its inner future is already done

    partition.fetcher = asyncio.create_task(fetch_loop())
    lane = _Lane(uuid.uuid4(), queue=deque([("msg", "command")]))  # type: ignore[list-item]
    partition.lanes[lane.auction_id] = lane
    await asyncio.sleep(0)

    await asyncio.wait_for(partition.stop(), timeout=5)

    assert partition.fetcher.done() and not partition.running
    assert checks >= 1
    assert not partition.lanes and not lane.queue, "nothing is left for a straggler to decide"
