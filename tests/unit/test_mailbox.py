"""A watcher's mailbox: never a version twice or backwards, only the newest pending (conflation)."""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import given
from hypothesis import strategies as st

from gavel.api.auction.v1 import auction_pb2 as pb
from stream_svc.fanout import Mailbox


def event(version: int) -> pb.AuctionEvent:
    return pb.AuctionEvent(auction=pb.Auction(version=version))


@given(st.lists(st.lists(st.integers(0, 50), max_size=8), max_size=12))
def test_sent_versions_strictly_increase_and_end_on_the_newest(bursts: list[list[int]]) -> None:
    """Bursts of offers (any order, repeats) between takes: what is taken strictly increases,
    and after each take nothing newer than what was taken is left behind."""

    async def run() -> None:
        mailbox = Mailbox()
        taken: list[int] = []
        offered: list[int] = []
        for burst in bursts:
            for version in burst:
                mailbox.offer(event(version))
            offered += burst
            got = await mailbox.take(timeout=0)
            if got is not None:
                taken.append(got.auction.version)
            if offered:
                assert max(taken, default=-1) == max(offered), "the newest offered state is what the watcher has"
        assert all(a < b for a, b in itertools.pairwise(taken))

    asyncio.run(run())


def test_take_times_out_empty_and_wakes_on_offer() -> None:
    async def run() -> None:
        mailbox = Mailbox()
        assert await mailbox.take(timeout=0.01) is None
        waiting = asyncio.create_task(mailbox.take(timeout=30))
        await asyncio.sleep(0)  # a yield: the task is now parked in take()
        mailbox.offer(event(3))
        assert (await waiting).auction.version == 3
        mailbox.offer(event(3))
        mailbox.offer(event(2))
        assert await mailbox.take(timeout=0) is None, "nothing older or equal is sent again"

    asyncio.run(run())
