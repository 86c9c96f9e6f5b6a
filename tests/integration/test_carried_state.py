"""A bid carries the auction as the API read it (``commands``), and a worker that knows nothing
of the auction decides from it instead of reading it again: a bid on a cold auction costs one
read. The compare-and-set judges a carried state like any other: a stale one costs a lost
compare-and-set and a re-read, never a wrong outcome.

The commands are appended to the log here, as PlaceBid appends them, so that what they carry
is the test's to choose; the auctions are created through the API, so no worker has seen them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import httpx
import nats
from cassandra.cluster import Session

from bid_svc.ledger import Ledger
from gavel import bus, commands
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.auction_store import AuctionStore
from gavel.clock import utcnow
from gavel.domain.auction import Auction, Item
from gavel.domain.bidding import PlaceBid, decide_bid
from gavel.settings import Settings
from tests.integration.bidding import create_auction, watching


async def _conflicts(settings: Settings) -> float:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{settings.bid_metrics_port}/metrics")).text
    return sum(
        float(line.split()[1]) for line in text.splitlines() if line.startswith("gavel_bid_cas_conflicts_total ")
    )


@asynccontextmanager
async def _log(settings: Settings) -> AsyncIterator[tuple[nats.NATS, str, asyncio.Queue[pb.Bid]]]:
    nc = await nats.connect(settings.nats_url)
    inbox, replies = nc.new_inbox(), asyncio.Queue[pb.Bid]()

    async def on_reply(msg: nats.aio.msg.Msg) -> None:
        await replies.put(pb.Bid.FromString(msg.data))

    await nc.subscribe(inbox, cb=on_reply)
    try:
        yield nc, inbox, replies
    finally:
        await nc.close()


async def _bid(settings: Settings, state: Auction, bidder: str, amount: int) -> pb.Bid:
    """Appends a bid carrying ``state`` and returns its decision, as the worker answers it."""
    async with _log(settings) as (nc, inbox, replies):
        command = commands.PlaceBidCommand(
            auction_id=state.auction_id,
            bid_id=uuid.uuid4(),
            bidder_id=bidder,
            amount=amount,
            placed_at=utcnow(),
            reply_to=inbox,
            state=state,
        )
        subject = bus.bid_subject(bus.partition_of(state.auction_id, settings.bid_partitions))
        await nc.jetstream().publish(subject, commands.encode(command), headers={"Nats-Msg-Id": str(command.bid_id)})
        return await asyncio.wait_for(replies.get(), 30)


async def test_a_stale_carried_state_loses_its_compare_and_set_and_the_truth_decides(
    stack: object, settings: Settings, token_for, cql_session: Session, store: AuctionStore
) -> None:
    lot = await create_auction(settings, token_for("seller-carried"), starting_price=100)
    stale = await store.get(uuid.UUID(lot.auction_id))
    assert stale is not None and stale.version == 0
    # A bid decided behind the workers' back: the truth moves on, the carried state does not.
    [(truth, outcome)] = decide_bid(stale, PlaceBid(uuid.uuid4(), stale.auction_id, "early", 500, utcnow()))
    assert await Ledger(cql_session, store).commit(stale, truth, [outcome])
    conflicts = await _conflicts(settings)

    # From the stale state (no bids), 300 would lead; from the truth (a maximum of 500) it is outbid.
    answer = await _bid(settings, stale, "late", 300)

    assert (answer.status, answer.reject_reason) == (pb.BID_STATUS_REJECTED, pb.BID_REJECT_REASON_OUTBID)
    assert answer.auction_version == truth.version + 1  # recorded after the early bid (its proxy answer follows)
    assert await _conflicts(settings) == conflicts + 1
    expected = decide_bid(truth, PlaceBid(uuid.UUID(answer.bid_id), truth.auction_id, "late", 300, utcnow()))[-1][0]
    final = await store.get(stale.auction_id)
    assert final is not None and (final.version, final.highest_bidder_id, final.highest_bid) == (
        expected.version,
        "early",
        expected.highest_bid,
    )


async def test_a_fresh_carried_state_is_decided_on_without_reading_the_auction(
    stack: object, settings: Settings, token_for, store: AuctionStore
) -> None:
    lot = await create_auction(settings, token_for("seller-carried"), starting_price=100)
    current = await store.get(uuid.UUID(lot.auction_id))
    assert current is not None
    # Marked so the event shows which state the worker decided from: the compare-and-set
    # writes only the auction's changing columns, so the mark never reaches Cassandra.
    marked = replace(current, item=Item("as the API read it"))
    conflicts = await _conflicts(settings)

    async with watching(settings, lot.auction_id) as events:
        answer = await _bid(settings, marked, "bidder-carried", 150)
        seen = await events.until(lambda a: a.version >= answer.auction_version)

    assert answer.status == pb.BID_STATUS_ACCEPTED
    assert seen.item.name == "as the API read it"
    assert await _conflicts(settings) == conflicts
    stored = await store.get(current.auction_id)
    assert stored is not None and stored.item == current.item and stored.highest_bidder_id == "bidder-carried"
