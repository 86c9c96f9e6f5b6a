"""A takeover redelivers what was not acknowledged, and nothing older.

Measured once on a local stack that had decided ~100k bids: after a restart the partitions'
new consumers held 79k commands, and the worker replayed them for two minutes while new bids
waited. A consumer that has acknowledged nothing since its creation reports an ack floor of 0,
so every takeover of a quiet partition started again at the beginning of the log. Here the
bid service is restarted twice (the second restart finds the consumers the first one created,
most of them quiet), and partitions are moved to a second worker and back; each time, what
the new consumers replay is bounded by what was unacknowledged before, plus whatever arrived
since."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

from devstack.stack import Stack
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.services import BID
from gavel.settings import Settings
from tests.integration.bid_log import Partition, commands_per_partition, consumer_creations, partitions, quiescent
from tests.integration.bidding import bearer, bid_stub, create_auction, extra_worker, new_bidders


async def _bid_on_many_partitions(settings: Settings, token_for, auctions: int = 40) -> None:
    """One accepted bid on each of ``auctions`` new auctions (spread over most partitions)."""
    seller = token_for(f"seller-{uuid.uuid4().hex[:6]}")
    (bidder,) = (token_for(b) for b in new_bidders(1))
    async with bid_stub(settings) as stub:
        for _ in range(auctions):
            lot = await create_auction(settings, seller, starting_price=100)
            reply = await stub.PlaceBid(
                pb.PlaceBidRequest(auction_id=lot.auction_id, amount=150, request_id=uuid.uuid4().hex),
                metadata=bearer(bidder),
            )
            assert reply.status == pb.BID_STATUS_ACCEPTED


async def _new_bid_is_decided(settings: Settings, token_for) -> None:
    """Decided within PlaceBid's own wait (not PENDING): the worker is not busy replaying."""
    lot = await create_auction(settings, token_for(f"seller-{uuid.uuid4().hex[:6]}"), starting_price=100)
    async with bid_stub(settings) as stub:
        reply = await stub.PlaceBid(
            pb.PlaceBidRequest(auction_id=lot.auction_id, amount=200, request_id=uuid.uuid4().hex),
            metadata=bearer(token_for(new_bidders(1)[0])),
        )
    assert reply.status == pb.BID_STATUS_ACCEPTED


def _check_bounded(
    before: dict[int, Partition],
    counts_before: dict[int, int],
    after: dict[int, Partition],
    counts_after: dict[int, int],
    taken: set[int],
) -> None:
    for number in taken:
        arrived = counts_after.get(number, 0) - counts_before.get(number, 0)
        allowed = (before[number].unacknowledged if number in before else 0) + arrived
        assert after[number].replay <= allowed, (
            f"partition {number}: the new consumer replays {after[number].replay} commands; only {allowed}"
            f" were unacknowledged or new (log holds {counts_after.get(number, 0)})"
        )


async def _restart_bid_service(stack: Stack, settings: Settings) -> None:
    before = await quiescent(settings)
    counts_before = await commands_per_partition(settings)
    async with consumer_creations(settings) as creations:
        stack.processes[BID.module].stop()
        stack.start_service(BID)
        taken = await creations.until(settings.bid_partitions)
        after = await partitions(settings)
    _check_bounded(before, counts_before, after, await commands_per_partition(settings), taken)


async def test_a_restart_replays_only_what_was_unacknowledged(stack: Stack, settings: Settings, token_for) -> None:
    await _bid_on_many_partitions(settings, token_for)
    assert sum((await commands_per_partition(settings)).values()) >= 40
    await _restart_bid_service(stack, settings)
    await _new_bid_is_decided(settings, token_for)
    # The second restart meets consumers that the first created and that have acknowledged
    # little or nothing since: the case that used to replay the whole log.
    await _restart_bid_service(stack, settings)
    await _new_bid_is_decided(settings, token_for)


async def test_moving_partitions_between_workers_replays_only_what_was_unacknowledged(
    stack: Stack, settings: Settings, token_for, tmp_path: Path
) -> None:
    await _bid_on_many_partitions(settings, token_for, auctions=20)
    worker, _ = extra_worker(settings, "second", 20, tmp_path)
    half = settings.bid_partitions // 2
    try:
        before, counts_before = await quiescent(settings), await commands_per_partition(settings)
        async with consumer_creations(settings) as creations:
            worker.start()
            moved = await creations.until(half)
            after = await partitions(settings)
        _check_bounded(before, counts_before, after, await commands_per_partition(settings), moved)
        await _new_bid_is_decided(settings, token_for)

        before, counts_before = await quiescent(settings), await commands_per_partition(settings)
        async with consumer_creations(settings) as creations:
            worker.signal(signal.SIGTERM)  # releases its leases; the first worker takes them back
            await creations.until(moved)
            after = await partitions(settings)
        _check_bounded(before, counts_before, after, await commands_per_partition(settings), moved)
        await _new_bid_is_decided(settings, token_for)
    finally:
        worker.stop()
