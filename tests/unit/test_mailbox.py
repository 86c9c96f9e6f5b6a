"""A watcher's mailbox: never a version twice or backwards, only the newest pending (conflation)."""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY, generate_latest

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.auth import Principal
from stream_svc.fanout import TALLY, Board, Mailbox


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


@given(st.lists(st.lists(st.tuples(st.booleans(), st.integers(0, 50)), max_size=8), max_size=12))
def test_board_and_own_offers_together_only_go_up(bursts: list[list[tuple[bool, int]]]) -> None:
    """Events posted to the auction's board (shared) and offered to the watcher alone (its
    snapshot), in any mix: a take returns the newest of all of them not sent yet, so what is
    taken strictly increases and nothing newer is left behind."""

    async def run() -> None:
        board = Board()
        mailbox = Mailbox(None, board)
        taken: list[int] = []
        seen = -1
        for burst in bursts:
            for shared, version in burst:
                if shared:
                    board.post(event(version))
                else:
                    mailbox.offer(event(version))
                seen = max(seen, version)
            got = await mailbox.take(timeout=0)
            if got is not None:
                taken.append(got.auction.version)
            assert max(taken, default=-1) == seen, "the newest state is what the watcher has"
        assert all(a < b for a, b in itertools.pairwise(taken))

    asyncio.run(run())


def test_a_post_wakes_every_waiting_watcher_with_one_shared_public_view() -> None:
    """One event, many watchers: each waiting watcher is woken with it, the anonymous ones all
    get the same masked object (made once), and a watcher it concerns gets a view of its own."""

    async def run() -> None:
        board = Board()
        anonymous = [Mailbox(None, board) for _ in range(3)]
        leader = Mailbox(Principal("u-lead"), board)
        waiting = [asyncio.create_task(m.take(timeout=30)) for m in [*anonymous, leader]]
        await asyncio.sleep(0)  # a yield: every task is now parked in take()
        board.post(pb.AuctionEvent(auction=pb.Auction(version=4, highest_bidder_id="u-lead")))
        views = await asyncio.gather(*waiting)
        assert all(v.auction.version == 4 for v in views)
        assert views[0] is views[1] is views[2], "the public view is made once"
        assert views[0].auction.highest_bidder_id == "" and not views[0].auction.you_lead
        assert views[3].auction.you_lead and views[3] is not views[0]

    asyncio.run(run())


def test_a_watcher_back_from_sending_takes_only_the_newest_and_counts_the_skipped() -> None:
    async def run() -> None:
        board = Board()
        mailbox = Mailbox(None, board)
        before = TALLY.conflated
        for version in (1, 2, 3, 5):
            board.post(event(version))
        board.post(event(4))  # older than the newest: kept out
        got = await mailbox.take(timeout=0)
        assert got is not None and got.auction.version == 5
        assert TALLY.conflated - before == 3, "three posted events were never sent to it"
        assert await mailbox.take(timeout=0) is None

    asyncio.run(run())


def test_a_new_watcher_starts_from_the_newest_event_the_board_has() -> None:
    async def run() -> None:
        board = Board()
        board.post(event(7))
        late = Mailbox(None, board)
        late.offer(event(6))  # its snapshot, read a moment before event 7 was seen
        got = await late.take(timeout=0)
        assert got is not None and got.auction.version == 7
        assert await late.take(timeout=0) is None

    asyncio.run(run())


def test_the_tally_is_scraped_as_counters() -> None:
    """Kept as plain integers, read by Prometheus under the counters' names."""
    TALLY.delivered += 2
    text = generate_latest(REGISTRY).decode()
    samples = dict(x.split() for x in text.splitlines() if x.startswith("gavel_stream_events_"))
    assert float(samples["gavel_stream_events_delivered_total"]) == TALLY.delivered
    assert float(samples["gavel_stream_events_conflated_total"]) == TALLY.conflated
    assert "# TYPE gavel_stream_events_delivered_total counter" in text
