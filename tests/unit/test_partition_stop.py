"""Stopping a partition cannot hang its worker's lease round, even on tasks that swallow their
cancellation (Python 3.11's ``wait_for`` does, when the cancellation lands as its inner future
completes; nats-py runs on it). A hung stop once froze a worker's lease loop: it kept serving
PlaceBid and never decided another bid."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque

from nats.aio.msg import Msg

from bid_svc.partition import Group, Lane, Partition


class _NoDecisions:
    """Stopping decides nothing: any call is a failure of the test."""

    async def decide(self, number: int, lane: Lane, group: Group) -> None:
        raise AssertionError("stop decided a group")

    async def dead_letter(self, number: int, msg: Msg, reason: str) -> None:
        raise AssertionError("stop dead-lettered a command")


async def _no_failure(number: int, group: Group, exc: Exception) -> None:
    raise AssertionError("stop reported a failure")


async def test_stop_returns_though_its_tasks_swallow_their_cancellation() -> None:
    # stop needs no NATS: it is never started
    partition = Partition(7, None, None, _NoDecisions(), _no_failure)  # type: ignore[arg-type]
    release = asyncio.Event()
    no_message = asyncio.Event()  # never set: a lane waiting on an idle backend
    careful_started, stuck_started = asyncio.Event(), asyncio.Event()

    async def careful() -> None:
        """Like a lane: swallows every cancellation, but checks ``stopped`` each time round."""
        careful_started.set()
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

    checking = asyncio.create_task(careful())
    straggler = asyncio.create_task(stuck())
    lanes = [
        Lane(uuid.uuid4(), queue=deque([("msg", "command")]), task=task)  # type: ignore[list-item]
        for task in (checking, straggler)
    ]
    partition.lanes = {lane.auction_id: lane for lane in lanes}
    await careful_started.wait()
    await stuck_started.wait()  # both are inside the await that the cancellation will hit
    try:
        stopping = asyncio.create_task(partition.stop())
        await asyncio.wait({stopping}, timeout=30)  # a hang guard that does not cancel (that could hang too)
        assert stopping.done(), "stop is waiting on a task that swallowed its cancellation"
        stopping.result()

        assert checking.done() and not partition.running
        assert not straggler.done(), "the straggler is still there: stop did not wait for it"
        assert not partition.lanes and not any(lane.queue for lane in lanes), (
            "nothing is left for a straggler to decide"
        )
    finally:
        release.set()
        await straggler
