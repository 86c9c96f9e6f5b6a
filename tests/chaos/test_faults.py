"""Faults, against the real stack, under bid load over many auctions.

In turn: ``kill -9`` of the bid service, NATS, Cassandra and the stream service, each
restarted in place as it was; a bid worker paused (SIGSTOP) past its lease while a second
worker runs, then let go on; and a clean restart of the whole stack (what ``make up`` after
a stop does). After each: every acknowledged bid has exactly one recorded outcome, a retried
request gets the same bid and outcome, each auction's accepted amounts strictly increase in
version order and its highest bid is the last accepted one, the history lists every bid
``GetBid`` reports decided, watchers reconnect and end on the final version, and a new bid
is accepted. The figures of each fault are printed at the end of the run."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from devstack.stack import Stack
from gavel import bus
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.settings import Settings
from tests.chaos.load import DECIDED, BidLoad, Watcher, until_available
from tests.chaos.report import FaultFigures, record
from tests.integration.bid_log import commands_per_partition, consumer_creations, partitions
from tests.integration.bidding import (
    all_bids,
    as_others_see,
    bearer,
    bid_stub,
    check_history,
    create_auction,
    extra_worker,
    get_auction,
    new_bidders,
    placed,
)

AUCTIONS = 12
#: Answered bids before the fault, and decided ones sent after recovery, per fault.
BEFORE, AFTER = 60, 30


@dataclass
class Moments:
    """What a fault reports back: when it struck, and when the component answered again."""

    struck: float = 0.0
    answering: float = 0.0
    replayed: int | None = None  # commands the new consumers replay after a takeover
    replay_bound: int | None = None  # what was unacknowledged at the stop, or arrived since
    #: Run (last first) when the test ends, whatever happened: what the fault left running.
    cleanups: list[Callable[[], None]] = field(default_factory=list)


Inject = Callable[[Stack, Settings, Path, Moments], Awaitable[None]]


async def _kill_and_restart(stack: Stack, name: str, moments: Moments) -> None:
    moments.struck = time.monotonic()
    stack.processes[name].signal(signal.SIGKILL)
    await asyncio.to_thread(stack.restart, name)
    moments.answering = time.monotonic()


def _kill(name: str) -> Inject:
    async def inject(stack: Stack, settings: Settings, tmp_path: Path, moments: Moments) -> None:
        await _kill_and_restart(stack, name, moments)

    return inject


async def _pause_worker_past_its_lease(stack: Stack, settings: Settings, tmp_path: Path, moments: Moments) -> None:
    """A second worker takes half the partitions; it is stopped (SIGSTOP) until the first
    worker has taken every one of them over, then let go on: it finds its leases gone (what
    it was deciding when it stopped loses the compare-and-set), takes its share back, and
    decides bids beside the first worker until the test ends."""
    worker, _ = extra_worker(settings, "paused", 30, tmp_path)
    half = settings.bid_partitions // 2
    moments.cleanups.append(worker.stop)
    moments.cleanups.append(lambda: worker.signal(signal.SIGCONT))  # runs first: a stopped process ignores TERM
    async with consumer_creations(settings) as creations:
        worker.start()
        moved = await creations.until(half)
    async with consumer_creations(settings) as creations:
        moments.struck = time.monotonic()
        worker.signal(signal.SIGSTOP)
        await creations.until(moved, timeout=settings.lease_ttl * 6)
        moments.answering = time.monotonic()
    async with consumer_creations(settings) as creations:
        worker.signal(signal.SIGCONT)
        await creations.until(half, timeout=settings.lease_ttl * 6)  # it is deciding again


async def _restart_the_stack(stack: Stack, settings: Settings, tmp_path: Path, moments: Moments) -> None:
    """A clean stop of everything, then a start (``make up`` again): the takeover replays only
    what was unacknowledged at the stop or arrived since (it once replayed 79k of 100k
    commands, for two minutes)."""
    before, counts_before = await partitions(settings), await commands_per_partition(settings)
    moments.struck = time.monotonic()
    await asyncio.to_thread(stack.stop)
    started = time.time()
    await asyncio.to_thread(stack.start)
    moments.answering = time.monotonic()
    # The worker recreates every partition's consumer shortly after it serves: await the rest.
    async with consumer_creations(settings) as creations:
        taken = {n for n, p in (await partitions(settings)).items() if p.info.created.timestamp() >= started}
        await creations.until(set(range(settings.bid_partitions)) - taken)
    after, counts_after = await partitions(settings), await commands_per_partition(settings)
    moments.replayed = sum(p.replay for p in after.values())
    moments.replay_bound = (
        sum(p.unacknowledged for p in before.values()) + sum(counts_after.values()) - sum(counts_before.values())
    )
    assert moments.replayed <= moments.replay_bound, "the restart replayed commands that had been acknowledged"


FAULTS: dict[str, Inject] = {
    "kill -9 bid_svc": _kill("bid_svc"),
    "kill -9 nats": _kill("nats"),
    "kill -9 cassandra": _kill("cassandra"),
    "kill -9 stream_svc": _kill("stream_svc"),
    "SIGSTOP a worker past its lease": _pause_worker_past_its_lease,
    "clean restart of the stack": _restart_the_stack,
}


@contextlib.asynccontextmanager
async def _watchers(settings: Settings, auctions: list[str]) -> AsyncIterator[dict[str, Watcher]]:
    async with grpc.aio.insecure_channel(settings.target("stream")) as channel:
        watchers = {a: Watcher(channel, a) for a in auctions}
        for w in watchers.values():
            w.start()
        try:
            yield watchers
        finally:
            await asyncio.gather(*(w.stop() for w in watchers.values()))


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_no_acknowledged_bid_is_lost(
    fault: str, stack: Stack, settings: Settings, token_for, tmp_path: Path
) -> None:
    seller = token_for(f"seller-{uuid.uuid4().hex[:6]}")
    auctions = [
        (await until_available(lambda: create_auction(settings, seller, starting_price=100))).auction_id
        for _ in range(AUCTIONS)
    ]
    assert len({bus.partition_of(uuid.UUID(a), settings.bid_partitions) for a in auctions}) > 1
    load = BidLoad(settings, auctions, [token_for(b) for b in new_bidders(20)])
    moments = Moments()
    stop = asyncio.Event()

    try:
        async with _watchers(settings, auctions) as watchers:
            running = asyncio.create_task(load.run(stop))
            try:
                await load.until(lambda b: len(b.acknowledged) >= BEFORE)
                for watcher in watchers.values():  # every watcher on a live stream when the fault strikes
                    await watcher.until(lambda _: True)
                await FAULTS[fault](stack, settings, tmp_path, moments)
                await load.until(lambda b: len(b.decided_after(moments.answering)) >= AFTER)
            finally:
                stop.set()
                await running  # each bidder finishes (answers) the request it has in flight

            acknowledged = load.acknowledged
            assert len(acknowledged) == len(load.sent), "every request was answered in the end"
            by_auction = Counter(s.request.auction_id for s in acknowledged)
            for auction_id in auctions:  # settled: each auction has decided every bid it was sent
                await watchers[auction_id].until(lambda x, n=by_auction[auction_id]: x.bid_count >= n)
            finals = {a: await until_available(lambda a=a: get_auction(settings, a)) for a in auctions}

            async with bid_stub(settings) as stub:
                lost = 0
                for auction_id in auctions:
                    replies = {
                        s.reply.bid_id: s for s in acknowledged if s.request.auction_id == auction_id and s.reply
                    }
                    decided = {}
                    for bid_id in replies:
                        try:
                            decided[bid_id] = await stub.GetBid(pb.GetBidRequest(auction_id=auction_id, bid_id=bid_id))
                        except grpc.aio.AioRpcError as exc:
                            assert exc.code() == grpc.StatusCode.NOT_FOUND
                            lost += 1
                    history = await all_bids(stub, auction_id)
                    bids = placed(history)
                    assert {b.bid_id for b in bids} == set(decided), "the history lists exactly the decided bids"
                    differ = [(decided[b.bid_id], b) for b in bids if decided[b.bid_id] != b]
                    assert not differ, f"the history says what GetBid says; GetBid, history: {differ}"
                    check_history(history, finals[auction_id])
                    for bid_id, sent in replies.items():
                        if sent.reply.status in DECIDED:
                            assert decided[bid_id] == as_others_see(sent.reply), "the answer was the recorded outcome"
                assert lost == 0

                # Retried requests (the same request_id) are the same bid with the same outcome.
                sample = [s for s in acknowledged if s.attempts > 1] + random.sample(acknowledged, 20)
                for sent in sample:
                    again = await stub.PlaceBid(sent.request, metadata=bearer(sent.token))
                    assert again.bid_id == sent.reply.bid_id
                    assert as_others_see(again) == await stub.GetBid(
                        pb.GetBidRequest(auction_id=again.auction_id, bid_id=again.bid_id)
                    )

                # Watchers end on the final version, having never seen one go down.
                for auction_id, watcher in watchers.items():
                    assert watcher.latest is not None and watcher.latest.version == finals[auction_id].version
                    assert watcher.versions == sorted(watcher.versions), (
                        f"{auction_id}: a watcher saw a version go down"
                    )

                # And the auction house is open again.
                lot = random.choice(auctions)
                fresh = await stub.PlaceBid(
                    # Above every maximum the load placed (at most 10**6): it takes the lead.
                    pb.PlaceBidRequest(auction_id=lot, amount=10**7, request_id=uuid.uuid4().hex),
                    metadata=bearer(token_for(new_bidders(1)[0])),
                )
                if fresh.status == pb.BID_STATUS_PENDING:  # acknowledged, decided after PlaceBid's wait
                    await watchers[lot].until(lambda x, v=finals[lot].version: x.version > v)
                    fresh = await stub.GetBid(pb.GetBidRequest(auction_id=lot, bid_id=fresh.bid_id))
                assert fresh.status == pb.BID_STATUS_ACCEPTED
    finally:
        for cleanup in reversed(moments.cleanups):
            cleanup()

    decided_again = min(s.answered_at for s in load.decided_after(moments.struck))
    record(
        FaultFigures(
            fault=fault,
            acknowledged=len(acknowledged),
            lost=lost,
            retried=sum(1 for s in acknowledged if s.attempts > 1),
            pending_answers=sum(1 for s in acknowledged if s.reply.status == pb.BID_STATUS_PENDING),
            answering_again_s=moments.answering - moments.struck,
            decided_again_s=decided_again - moments.struck,
            reconnects=sum(w.connections - 1 for w in watchers.values()),
            replayed=moments.replayed,
            replay_bound=moments.replay_bound,
        )
    )
