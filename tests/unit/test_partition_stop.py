"""Stopping a partition cannot hang its worker's lease round, even on tasks that swallow their
cancellation (Python 3.11's ``wait_for`` does, when the cancellation lands as its inner future
completes; nats-py's fetch runs on it). A hung stop once froze a worker's lease loop: it
kept serving PlaceBid and never decided another bid."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque

from bid_svc.worker import _Lane, _Partition


async def test_stop_returns_though_its_tasks_swallow_their_cancellation() -> None:
    partition = _Partition(worker=None, number=7)  # type: ignore[arg-type]  # stop needs no worker
    release = asyncio.Event()
    no_message = asyncio.Event()  # never set: a fetch on an idle partition
    fetching, stuck_started = asyncio.Event(), asyncio.Event()

    async def fetch_loop() -> None:
        """Like the fetcher: swallows every cancellation, but checks ``stopped`` each time round."""
        fetching.set()
        while not partition.stopped:
            try:
                await no_message.wait()
            except asyncio.CancelledError:
                pass

    async def stuck() -> None:
        """Swallows its cancellation and checks nothing: only a bounded wait gets past it."""
        stuck_started.set()
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                pass

    partition.fetcher = asyncio.create_task(fetch_loop())
    lane = _Lane(uuid.uuid4(), queue=deque([("msg", "command")]), task=asyncio.create_task(stuck()))  # type: ignore[list-item]
    partition.lanes[lane.auction_id] = lane
    await fetching.wait()
    await stuck_started.wait()  # both are inside the await that the cancellation will hit
    try:
        stopping = asyncio.create_task(partition.stop())
        await asyncio.wait({stopping}, timeout=30)  # a hang guard that does not cancel (that could hang too)
        assert stopping.done(), "stop is waiting on a task that swallowed its cancellation"
        stopping.result()

        assert partition.fetcher.done() and not partition.running
        assert not lane.task.done(), "the straggler is still there: stop did not wait for it"
        assert not partition.lanes and not lane.queue, "nothing is left for a straggler to decide"
    finally:
        release.set()
        await lane.task
