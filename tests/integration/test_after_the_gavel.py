"""What follows the gavel on the real stack (payment windows of seconds): the sale moves to the
next bidders at their maxima and ends unsold, a paid sale stays paid whatever deadline comes
after, and cancellation and retraction are refused outside their rules with the rule named."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc
import nats
import pytest
from cassandra.cluster import Session

from gavel import bus, commands
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.auction_store import AuctionStore
from gavel.errors import precondition_failures
from gavel.messages import from_timestamp
from gavel.settings import Settings
from tests.integration.bidding import all_bids, bearer, bid_stub, create_auction, place, watching
from tests.integration.sales import (
    auction_call,
    bid_maxima,
    get_sale,
    lot_with_window,
    pay,
    sale_moves,
    until_past,
    until_walked_past,
)
from tests.local_stack import RETRACT_RECENT_S

AWAITING, PAID, UNSOLD = pb.SALE_STATUS_AWAITING_PAYMENT, pb.SALE_STATUS_PAID, pb.SALE_STATUS_UNSOLD


def users(*names: str) -> dict[str, str]:
    tag = uuid.uuid4().hex[:6]
    return {n: f"{n}-{tag}" for n in names}


async def refused(call: object, code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    assert caught.value.code() == code, caught.value.details()
    return caught.value


async def test_an_unpaid_winner_moves_the_sale_to_each_next_bidder_then_unsold(
    stack: object, settings: Settings, token_for, store: AuctionStore
) -> None:
    u = users("seller", "winner", "second", "third", "stranger")
    tokens = {n: token_for(v) for n, v in u.items()}
    lot = (await lot_with_window(settings, tokens["seller"], window_s=2, ends_in_s=4)).auction_id
    async with watching(settings, lot) as events:
        # third leads at the start, second outbids, the winner outbids both: 750 = 700 + 50.
        await bid_maxima(settings, tokens, lot, {"third": 500, "second": 700, "winner": 900})
        final = await events.until(lambda a: a.sale.status == UNSOLD, timeout=60)
    closed = await events.until(lambda a: a.HasField("closed_at"))
    assert closed.winner_id == u["winner"]
    assert sale_moves(events) == [(AWAITING, 0, 750), (AWAITING, 1, 700), (AWAITING, 2, 500), (UNSOLD, 2, 0)]
    offers = {e.auction.sale.offer: e.auction.sale for e in events.events if e.auction.sale.status == AWAITING}
    window = timedelta(seconds=2)
    assert from_timestamp(offers[0].pay_by) == from_timestamp(closed.closed_at) + window
    assert from_timestamp(offers[1].pay_by) >= from_timestamp(offers[0].pay_by) + window  # from the offer on
    # Only the winner owed the item: their unpaid item is counted, lapsed offers are not.
    assert await store.unpaid_items(u["winner"]) == 1
    assert (await store.unpaid_items(u["second"]), await store.unpaid_items(u["third"])) == (0, 0)
    sale = await get_sale(settings, lot, tokens["seller"])
    assert (sale.status, sale.offer, sale.buyer_id) == (UNSOLD, 2, "")
    assert final.sale.status == UNSOLD
    for outsider in ("winner", "stranger"):  # passed over, or never in it
        await refused(get_sale(settings, lot, tokens[outsider]), grpc.StatusCode.PERMISSION_DENIED)


async def test_a_paid_sale_stays_paid_and_a_later_deadline_changes_nothing(
    stack: object, settings: Settings, token_for, store: AuctionStore, cql_session: Session
) -> None:
    u = users("seller", "winner", "second")
    tokens = {n: token_for(v) for n, v in u.items()}
    lot = (await lot_with_window(settings, tokens["seller"], window_s=3, ends_in_s=3)).auction_id
    async with watching(settings, lot) as events:
        await bid_maxima(settings, tokens, lot, {"second": 700, "winner": 900})
        offered = await events.until(lambda a: a.sale.status == AWAITING, timeout=60)
        seller_view = await get_sale(settings, lot, tokens["seller"])
        assert (seller_view.buyer_id, seller_view.buyer_unpaid_items) == (u["winner"], 0)
        await refused(pay(settings, lot, tokens["second"]), grpc.StatusCode.PERMISSION_DENIED)  # not theirs
        paid = await pay(settings, lot, tokens["winner"], "pay-1")
        assert (paid.status, paid.buyer_id, paid.price) == (PAID, u["winner"], 750)
        again = await pay(settings, lot, tokens["winner"], "pay-1")  # the same payment, retried
        assert again == paid
        other = await refused(pay(settings, lot, tokens["winner"], "pay-2"), grpc.StatusCode.FAILED_PRECONDITION)
        assert precondition_failures(other) == [("ALREADY_PAID", f"auctions/{lot}")]
        # A deadline for the paid offer, straight into the log, then a command behind it
        # whose refusal shows the deadline was decided first (one partition, one order).
        deadline = commands.SaleDeadlineCommand(
            auction_id=uuid.UUID(lot), offer=0, pay_by=from_timestamp(offered.sale.pay_by)
        )
        nc = await nats.connect(settings.nats_url)
        try:
            partition = bus.partition_of(deadline.auction_id, settings.bid_partitions)
            await nc.jetstream().publish(bus.bid_subject(partition), commands.encode(deadline))
        finally:
            await nc.close()
        decline = pb.DeclineOfferRequest(auction_id=lot)
        await refused(
            auction_call(settings, "DeclineOffer", decline, tokens["winner"]), grpc.StatusCode.FAILED_PRECONDITION
        )
        # And the closer's own deadline, once it has walked past pay_by.
        await until_walked_past(cql_session, "closer-deadlines", from_timestamp(offered.sale.pay_by))
        await refused(
            auction_call(settings, "DeclineOffer", decline, tokens["winner"]), grpc.StatusCode.FAILED_PRECONDITION
        )
    sale = await get_sale(settings, lot, tokens["winner"])
    assert (sale.status, sale.offer, sale.paid_at) == (PAID, 0, paid.paid_at)
    assert [m for m in sale_moves(events) if m[0] != PAID] == [(AWAITING, 0, 750)]  # it never moved on
    assert await store.unpaid_items(u["winner"]) == 0


async def test_cancel_and_retract_inside_and_outside_their_rules(stack: object, settings: Settings, token_for) -> None:
    u = users("seller", "ann", "bob", "stranger")
    tokens = {n: token_for(v) for n, v in u.items()}

    def cancel(lot: str, who: str) -> object:
        return auction_call(
            settings, "CancelAuction", pb.CancelAuctionRequest(auction_id=lot, reason="test"), tokens[who]
        )

    async def retract(lot: str, bid_id: str, who: str) -> pb.Bid:
        async with bid_stub(settings) as stub:
            request = pb.RetractBidRequest(auction_id=lot, bid_id=bid_id, reason="typo")
            return await stub.RetractBid(request, metadata=bearer(tokens[who]))

    def rule(error: grpc.aio.AioRpcError) -> str:
        [(name, _)] = precondition_failures(error)
        return name

    # Within the last 12 hours (GAVEL_CANCEL_MIN_REMAINING): the time rules bite.
    soon = await create_auction(settings, tokens["seller"], ends_in=timedelta(hours=1))
    async with bid_stub(settings) as stub:
        first = await place(stub, tokens["ann"], soon.auction_id, 500)
        raised = await place(stub, tokens["ann"], soon.auction_id, 800)
        assert first.status == raised.status == pb.BID_STATUS_ACCEPTED
    await refused(cancel(soon.auction_id, "stranger"), grpc.StatusCode.PERMISSION_DENIED)
    late = await refused(cancel(soon.auction_id, "seller"), grpc.StatusCode.FAILED_PRECONDITION)
    assert rule(late) == "CANCEL_TOO_LATE"
    await refused(retract(soon.auction_id, first.bid_id, "bob"), grpc.StatusCode.PERMISSION_DENIED)  # not his
    # A bid of the last GAVEL_RETRACT_RECENT takes all of Ann's bids back: as if never placed.
    taken = await retract(soon.auction_id, first.bid_id, "ann")
    assert taken.retracted and taken.bid_id == first.bid_id
    async with bid_stub(settings) as stub:
        history = await all_bids(stub, soon.auction_id)
        assert {b.bid_id: b.retracted for b in history} == {first.bid_id: True, raised.bid_id: True}
        now = await auction_call(
            settings, "GetAuction", pb.GetAuctionRequest(auction_id=soon.auction_id), tokens["bob"]
        )
        assert isinstance(now, pb.Auction) and (now.highest_bidder_id, now.highest_bid) == ("", 0)
        bobs = await place(stub, tokens["bob"], soon.auction_id, 300)
        assert bobs.status == pb.BID_STATUS_ACCEPTED and bobs.amount == 100  # alone: the starting price
    await until_past(from_timestamp(bobs.placed_at) + timedelta(seconds=RETRACT_RECENT_S))
    old = await refused(retract(soon.auction_id, bobs.bid_id, "bob"), grpc.StatusCode.FAILED_PRECONDITION)
    assert rule(old) == "RETRACT_TOO_LATE"

    # More than 12 hours left: any one bid may go, and the seller may cancel despite bids.
    later = await create_auction(settings, tokens["seller"], ends_in=timedelta(days=2))
    async with bid_stub(settings) as stub:
        anns = await place(stub, tokens["ann"], later.auction_id, 900)
        bobs = await place(stub, tokens["bob"], later.auction_id, 600)  # outbid: still a maximum
        taken = await retract(later.auction_id, bobs.bid_id, "bob")
        assert taken.retracted
        history = {
            b.bid_id: b.retracted for b in await all_bids(stub, later.auction_id) if b.kind == pb.BID_KIND_MANUAL
        }
        assert history == {anns.bid_id: False, bobs.bid_id: True}  # only that one
        async with watching(settings, later.auction_id) as events:
            cancelled = await cancel(later.auction_id, "seller")
            assert isinstance(cancelled, pb.Auction) and cancelled.status == pb.AUCTION_STATUS_CANCELLED
            seen = await events.until(lambda a: a.status == pb.AUCTION_STATUS_CANCELLED)
            assert seen.winner_id == "" and not seen.HasField("sale")
        again = await cancel(later.auction_id, "seller")  # a repeat answers the same
        assert isinstance(again, pb.Auction) and again.status == pb.AUCTION_STATUS_CANCELLED
        after = await place(stub, tokens["bob"], later.auction_id, 2000)
        assert after.reject_reason == pb.BID_REJECT_REASON_AUCTION_CANCELLED
    # No bid leads: cancelled any time before the end; after the end, never.
    quiet = await create_auction(settings, tokens["seller"], ends_in=timedelta(hours=1))
    done = await cancel(quiet.auction_id, "seller")
    assert isinstance(done, pb.Auction) and done.status == pb.AUCTION_STATUS_CANCELLED
    short = await create_auction(settings, tokens["seller"], ends_in=timedelta(seconds=2))
    await until_past(from_timestamp(short.end_date))
    ended = await refused(cancel(short.auction_id, "seller"), grpc.StatusCode.FAILED_PRECONDITION)
    assert rule(ended) == "AUCTION_ENDED"
    assert datetime.now(UTC) > from_timestamp(short.end_date)
