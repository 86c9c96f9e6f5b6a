"""A command the log holds twice is decided once, even when both copies reach the worker in
one group: JetStream redelivers what was unacknowledged when NATS restarts (the copy
arrives while the first is still undecided), and a bid appended again after the duplicate
window is a second entry with the same ``bid_id``. The copies here are the second kind
(appended without a ``Nats-Msg-Id``), behind a bid from another bidder, in one burst, so
the lane is busy while they queue. Folded twice, a bid was decided twice in one
compare-and-set: two versions for it and two history rows (a fault test saw it after a
``kill -9`` of NATS)."""

from __future__ import annotations

import asyncio
import uuid

import nats

from gavel import bus, commands
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.clock import utcnow
from gavel.settings import Settings
from tests.integration.bidding import all_bids, as_others_see, bid_stub, create_auction, get_auction, placed

COPIES = 20


async def test_a_bid_in_the_log_many_times_is_decided_once(stack: object, settings: Settings, token_for) -> None:
    lot = await create_auction(settings, token_for("seller-repeats"), starting_price=100)
    auction_id = uuid.UUID(lot.auction_id)
    nc = await nats.connect(settings.nats_url)
    try:
        inbox, replies = nc.new_inbox(), asyncio.Queue[pb.Bid]()

        async def on_reply(msg: nats.aio.msg.Msg) -> None:
            await replies.put(pb.Bid.FromString(msg.data))

        await nc.subscribe(inbox, cb=on_reply)
        first, repeated = (
            commands.PlaceBidCommand(
                auction_id=auction_id,
                bid_id=uuid.uuid4(),
                bidder_id=bidder,
                amount=amount,
                placed_at=utcnow(),
                reply_to=inbox,
            )
            for bidder, amount in (("bidder-first", 150), ("bidder-repeated", 200))
        )
        subject = bus.bid_subject(bus.partition_of(auction_id, settings.bid_partitions))
        js = nc.jetstream()
        await asyncio.gather(*(js.publish(subject, commands.encode(c)) for c in [first] + [repeated] * COPIES))
        answers = [await asyncio.wait_for(replies.get(), 30) for _ in range(1 + COPIES)]
    finally:
        await nc.close()

    mine = [a for a in answers if a.bid_id == str(repeated.bid_id)]
    assert len(mine) == COPIES and all(a == mine[0] for a in mine), "every copy is answered with the one outcome"
    assert mine[0].status == pb.BID_STATUS_ACCEPTED
    final = await get_auction(settings, lot.auction_id)
    assert (final.bid_count, final.version) == (2, 2), "two bids, two decisions"
    async with bid_stub(settings) as stub:
        history = placed(await all_bids(stub, lot.auction_id))
        recorded = await stub.GetBid(pb.GetBidRequest(auction_id=lot.auction_id, bid_id=str(repeated.bid_id)))
    assert [b.bid_id for b in history].count(str(repeated.bid_id)) == 1, "the history lists the bid once"
    assert recorded == as_others_see(mine[0]) == next(b for b in history if b.bid_id == str(repeated.bid_id))
