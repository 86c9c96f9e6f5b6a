"""kill -9 of a bid worker in the middle of a bid storm: its partitions move to the other
worker within seconds, every acknowledged bid gets exactly one recorded outcome, and every
auction's history still satisfies the invariants. A worker that finds a lease gone (it was
too slow to renew) gives the partition up and takes it back."""

from __future__ import annotations

import asyncio
import random
import signal
import uuid
from collections import Counter
from contextlib import AsyncExitStack

import nats
from nats.js.kv import KeyValue

from gavel import bus
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.settings import Settings
from tests.integration.bidding import (
    all_bids,
    bearer,
    bid_stub,
    check_history,
    check_leader_chain,
    create_auction,
    extra_worker,
    get_auction,
    new_bidders,
    placed,
    watching,
)


async def _owns(settings: Settings, worker_id: str, share: int) -> set[int]:
    """Returns, from a watch on the lease bucket, once ``worker_id`` holds ``share`` partitions."""
    nc = await nats.connect(settings.nats_url)
    try:
        kv = await nc.jetstream().key_value("bid_leases")
        owners: dict[str, bytes] = {}
        async for entry in await kv.watchall():
            if entry is None:
                continue
            owners[entry.key] = entry.value if entry.operation is None else b""
            mine = {int(k) for k, v in owners.items() if v == worker_id.encode()}
            if len(mine) >= share:
                return mine
    finally:
        await nc.close()
    raise AssertionError("lease watch ended")


async def _partitions_of(settings: Settings, worker_id: str) -> set[int]:
    nc = await nats.connect(settings.nats_url)
    try:
        kv = await nc.jetstream().key_value("bid_leases")
        owned = set()
        for key in await kv.keys():
            entry = await kv.get(key)
            if entry.value == worker_id.encode():
                owned.add(int(key))
        return owned
    finally:
        await nc.close()


async def _rewritten_after_delete(kv: KeyValue, key: str, owner: bytes) -> None:
    """Deletes ``key`` (as the TTL would) and returns once ``owner`` has written it again."""
    watcher = await kv.watch(key)
    try:
        await kv.delete(key)
        deleted = False
        async for entry in watcher:
            if entry is None:
                continue  # the end of the initial values
            if entry.operation is not None:
                deleted = True
            elif deleted and entry.value == owner:
                return
    finally:
        await watcher.stop()


async def test_a_lease_lost_while_busy_is_taken_back_and_its_bids_decided(
    stack: object, settings: Settings, token_for
) -> None:
    lot = await create_auction(settings, token_for(f"seller-{uuid.uuid4().hex[:6]}"), starting_price=100)
    partition = str(bus.partition_of(uuid.UUID(lot.auction_id), settings.bid_partitions))
    alice, bob = (token_for(b) for b in new_bidders(2))
    async with bid_stub(settings) as stub, watching(settings, lot.auction_id) as events:
        first = await stub.PlaceBid(
            pb.PlaceBidRequest(auction_id=lot.auction_id, amount=150, request_id=uuid.uuid4().hex),
            metadata=bearer(alice),
        )
        await events.until(lambda a: a.bid_count == 1, timeout=30)  # a live worker owns the partition

        nc = await nats.connect(settings.nats_url)
        try:
            kv = await nc.jetstream().key_value("bid_leases")
            owner = (await kv.get(partition)).value
            await asyncio.wait_for(_rewritten_after_delete(kv, partition, owner), 30)
        finally:
            await nc.close()

        second = await stub.PlaceBid(
            pb.PlaceBidRequest(auction_id=lot.auction_id, amount=200, request_id=uuid.uuid4().hex), metadata=bearer(bob)
        )
        final = await events.until(lambda a: a.bid_count == 2, timeout=30)
        history = await all_bids(stub, lot.auction_id)
    assert (final.highest_bid, final.highest_bidder_id) == (175, second.bidder_id)  # 150 + 25
    assert {b.bid_id for b in history} == {first.bid_id, second.bid_id}


async def test_killed_worker_hands_over_and_no_acknowledged_bid_is_lost(
    stack: object, settings: Settings, token_for, cql_session: object, tmp_path
) -> None:
    doomed, second = extra_worker(settings, "doomed", 10, tmp_path)
    doomed.start()
    try:
        # Two workers: each settles on half the partitions.
        owned = await asyncio.wait_for(_owns(settings, second.worker_id, settings.bid_partitions // 2), 60)

        # Half the auctions on the doomed worker's partitions, half on the survivor's.
        seller = token_for(f"seller-{uuid.uuid4().hex[:6]}")
        doomed_lots: list[str] = []
        other_lots: list[str] = []
        while len(doomed_lots) < 6 or len(other_lots) < 6:
            auction_id = (await create_auction(settings, seller)).auction_id
            side = (
                doomed_lots if bus.partition_of(uuid.UUID(auction_id), settings.bid_partitions) in owned else other_lots
            )
            if len(side) < 6:
                side.append(auction_id)
        ids = doomed_lots + other_lots
        tokens = [token_for(b) for b in new_bidders(50)]
        replies: list[pb.Bid] = []
        midway = asyncio.Event()

        async with bid_stub(settings) as stub, AsyncExitStack() as watches:
            events = {i: await watches.enter_async_context(watching(settings, i)) for i in ids}

            async def bidder(token: str) -> None:
                for _ in range(20):
                    request = pb.PlaceBidRequest(
                        auction_id=random.choice(ids), amount=random.randint(50, 10**6), request_id=uuid.uuid4().hex
                    )
                    replies.append(await stub.PlaceBid(request, metadata=bearer(token)))
                    if len(replies) >= 300:
                        midway.set()

            killed_partitions: set[int] = set()

            async def killer() -> None:
                await midway.wait()
                killed_partitions.update(await _partitions_of(settings, second.worker_id))
                doomed.signal(signal.SIGKILL)

            await asyncio.gather(killer(), *(bidder(t) for t in tokens))
            assert not doomed.alive()
            orphaned = [i for i in ids if bus.partition_of(uuid.UUID(i), settings.bid_partitions) in killed_partitions]
            assert len(orphaned) >= 6, "the killed worker must have owned the doomed auctions' partitions"
            assert len(replies) == 1000  # every PlaceBid was acknowledged by the log

            # Await every auction's last decision: its bid count reaches what was acknowledged.
            acked = Counter(r.auction_id for r in replies)
            for auction_id in ids:
                await events[auction_id].until(lambda a, n=acked[auction_id]: a.bid_count >= n, timeout=60)

            for auction_id in ids:
                history = await all_bids(stub, auction_id)
                sent = {r.bid_id for r in replies if r.auction_id == auction_id}
                assert {b.bid_id for b in placed(history)} == sent  # exactly one recorded outcome each
                check_history(history, await get_auction(settings, auction_id))
                check_leader_chain(cql_session, auction_id)
            pending = [r for r in replies if r.status == pb.BID_STATUS_PENDING]
            for reply in pending:  # PENDING answers were later decided, and GetBid says how
                decided = await stub.GetBid(pb.GetBidRequest(auction_id=reply.auction_id, bid_id=reply.bid_id))
                assert decided.status in (pb.BID_STATUS_ACCEPTED, pb.BID_STATUS_REJECTED)
    finally:
        doomed.stop()
