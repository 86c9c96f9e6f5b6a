"""The auction rules on the real stack: private maxima, one sale, soft close, the reserve."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.message import Message

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.messages import duration, from_timestamp, timestamp
from gavel.settings import Settings
from tests.integration.bidding import (
    all_bids,
    bearer,
    bid_stub,
    check_history,
    create_auction,
    get_auction,
    watching,
)
from tests.integration.watchers import watch


def numbers(message: Message) -> Iterator[int]:
    """Every integer anywhere in a message, nested ones included."""
    for _field, value in message.ListFields():
        for v in value if not isinstance(value, Message | str | bytes | int | float) else [value]:
            if isinstance(v, Message):
                yield from numbers(v)
            elif isinstance(v, int) and not isinstance(v, bool):
                yield v


async def _seller_listing(settings: Settings, seller: str, token: str | None) -> list[pb.Auction]:
    async with grpc.aio.insecure_channel(settings.target("auction")) as channel:
        page = await pb_grpc.AuctionServiceStub(channel).ListAuctions(
            pb.ListAuctionsRequest(seller_id=seller), metadata=bearer(token) if token else None
        )
    return list(page.auctions)


async def test_a_maximum_and_the_reserve_reach_no_one_else(stack: object, settings: Settings, token_for) -> None:
    """Alice's maximum (7,777) and the reserve (9,001) are values no price here can take, so
    finding either number in anything another user reads is a leak."""
    seller = f"seller-{uuid.uuid4().hex[:6]}"
    alice, bob = f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    tokens = {u: token_for(u) for u in (seller, alice, bob)}
    secret_max, reserve = 7_777, 9_001
    auction = await create_auction(settings, tokens[seller], reserve_price=reserve)
    assert auction.reserve_price == reserve and auction.has_reserve  # the seller's own answer
    lot = auction.auction_id
    async with (
        bid_stub(settings) as stub,
        watching(settings, lot) as events,
        watch(settings.target("stream"), lot) as stream,
    ):
        led = await stub.PlaceBid(
            pb.PlaceBidRequest(auction_id=lot, amount=secret_max, request_id="a1"), metadata=bearer(tokens[alice])
        )
        outbid = await stub.PlaceBid(
            pb.PlaceBidRequest(auction_id=lot, amount=500, request_id="b1"), metadata=bearer(tokens[bob])
        )
        await stream.until_version(outbid.auction_version + 1)
        await events.until(lambda a: a.version == outbid.auction_version + 1)

        assert led.max_amount == secret_max and led.amount == 100  # she sees her maximum; the price is the start
        assert outbid.reject_reason == pb.BID_REJECT_REASON_OUTBID and outbid.highest_bid == 550  # 500 + 50
        reads: dict[str, list[Message]] = {"anonymous": [], bob: [outbid], seller: []}
        for reader, token in (("anonymous", None), (bob, tokens[bob]), (seller, tokens[seller])):
            meta = bearer(token) if token else None
            reads[reader].append(await get_auction(settings, lot, token))
            reads[reader] += await all_bids(stub, lot, token)
            reads[reader].append(await stub.GetBid(pb.GetBidRequest(auction_id=lot, bid_id=led.bid_id), metadata=meta))
            reads[reader] += await _seller_listing(settings, seller, token)
        reads[bob] += (await stub.ListMyBids(pb.ListMyBidsRequest(), metadata=bearer(tokens[bob]))).bids
        reads["anonymous"] += list(events.events) + list(stream.events)
        for reader, seen in reads.items():
            assert [m for m in seen if secret_max in set(numbers(m))] == [], f"{reader} saw alice's maximum"
            if reader != seller:
                assert [m for m in seen if reserve in set(numbers(m))] == [], f"{reader} saw the reserve"
        seller_view = reads[seller][0]
        assert isinstance(seller_view, pb.Auction)
        assert seller_view.reserve_price == reserve and not seller_view.reserve_met
        # Alice herself sees her maximum on her own bids, and nothing of the reserve.
        mine = await all_bids(stub, lot, tokens[alice])
        assert {b.max_amount for b in mine if b.bidder_id == alice} == {secret_max}
        assert (await get_auction(settings, lot, tokens[alice])).reserve_price == 0


async def test_buy_now_racing_bids_sells_once(stack: object, settings: Settings, token_for, service_token) -> None:
    """Bids below the reserve leave Buy It Now open, so the race is real: buyers and bidders
    at once, and the log's order decides. Exactly one sale, and nothing accepted after it."""
    auction = await create_auction(
        settings, token_for(f"seller-{uuid.uuid4().hex[:6]}"), reserve_price=3_000, buy_now_price=5_000
    )
    lot = auction.auction_id
    buyers = [token_for(f"buyer-{i}-{uuid.uuid4().hex[:4]}") for i in range(6)]
    bidders = [token_for(f"bidder-{i}-{uuid.uuid4().hex[:4]}") for i in range(6)]
    async with bid_stub(settings) as stub, watching(settings, lot) as events:
        calls = [stub.BuyNow(pb.BuyNowRequest(auction_id=lot, request_id="buy"), metadata=bearer(t)) for t in buyers]
        calls += [
            stub.PlaceBid(
                pb.PlaceBidRequest(auction_id=lot, amount=amount, request_id=uuid.uuid4().hex), metadata=bearer(t)
            )
            for amount in (500, 1_200, 2_900)
            for t in bidders
        ]
        replies = await asyncio.gather(*calls)
        final_state = await events.until(lambda a: a.HasField("closed_at"))
        history = await all_bids(stub, lot, service_token)  # a service sees who bought
        public = await all_bids(stub, lot, "")
    assert all(r.status != pb.BID_STATUS_PENDING for r in replies)
    sales = [b for b in history if b.kind == pb.BID_KIND_BUY_NOW and b.status == pb.BID_STATUS_ACCEPTED]
    assert len(sales) == 1, "one sale, always"
    [sale] = sales
    later = [b for b in history if b.auction_version > sale.auction_version]
    assert all(b.status == pb.BID_STATUS_REJECTED for b in later)
    assert {b.reject_reason for b in later} <= {
        pb.BID_REJECT_REASON_AUCTION_ENDED,
        pb.BID_REJECT_REASON_BUY_NOW_UNAVAILABLE,
    }
    assert all(
        b.reject_reason == pb.BID_REJECT_REASON_BUY_NOW_UNAVAILABLE for b in later if b.kind == pb.BID_KIND_BUY_NOW
    )
    final = await get_auction(settings, lot, service_token)
    assert final.version == max(b.auction_version for b in history)  # every call was decided
    assert final_state.winner_id == sale.bidder_id  # the event that closed it named the buyer
    assert (final.winner_id, final.highest_bidder_id, final.highest_bid) == (sale.bidder_id, sale.bidder_id, 5_000)
    assert final.status == pb.AUCTION_STATUS_ENDED and final.buy_now_price == 0
    check_history(public, final)
    assert [b.bidder_alias for b in public] == [b.bidder_alias for b in history]
    assert not any(b.bidder_id for b in public), "an anonymous reader sees aliases only"


async def test_soft_close_extends_to_the_hard_end_and_closes_once(stack: object, settings: Settings, token_for) -> None:
    """Every bid is in the (hour-long) window; each that changes the price or the leader moves
    the end to its receive time + 2 s, until the hard end caps it. Bids that change nothing
    move nothing. The auction then closes once, at its last end, with the last leader."""
    hard_after = timedelta(seconds=4)
    now = datetime.now(UTC)
    end = now + timedelta(seconds=3)
    soft = pb.SoftClose(
        window=duration(timedelta(hours=1)),
        extension=duration(timedelta(seconds=2)),
        hard_end=timestamp(end + hard_after),
    )
    auction = await create_auction(
        settings, token_for(f"seller-{uuid.uuid4().hex[:6]}"), ends_in=timedelta(seconds=3), soft_close=soft
    )
    lot = auction.auction_id
    hard_end = from_timestamp(auction.soft_close.hard_end)
    names = [f"alice-{uuid.uuid4().hex[:4]}", f"bob-{uuid.uuid4().hex[:4]}"]
    tokens = [token_for(n) for n in names]
    async with bid_stub(settings) as stub, watch(settings.target("stream"), lot) as stream:
        end_date, moves, amount, turn, leader = from_timestamp(auction.end_date), 0, 0, 0, ""
        minimum = auction.min_next_bid
        while end_date < hard_end:
            amount = max(amount + 1, minimum)  # above the other's maximum: takes the lead
            bid = await stub.PlaceBid(
                pb.PlaceBidRequest(auction_id=lot, amount=amount, request_id=uuid.uuid4().hex),
                metadata=bearer(tokens[turn]),
            )
            assert bid.status == pb.BID_STATUS_ACCEPTED, bid
            expected = min(hard_end, max(end_date, from_timestamp(bid.placed_at) + timedelta(seconds=2)))
            state = await get_auction(settings, lot)
            assert from_timestamp(state.end_date) >= expected  # a later bid may have moved it further already
            moves += from_timestamp(state.end_date) > end_date
            end_date, leader, turn = from_timestamp(state.end_date), names[turn], 1 - turn
            minimum = state.min_next_bid
            # A bid that changes nothing (below the minimum) moves nothing.
            refused = await stub.PlaceBid(
                pb.PlaceBidRequest(auction_id=lot, amount=101, request_id=uuid.uuid4().hex),
                metadata=bearer(tokens[turn]),
            )
            assert refused.reject_reason == pb.BID_REJECT_REASON_BELOW_MIN_BID
            assert from_timestamp((await get_auction(settings, lot)).end_date) == end_date
        await stream.until(lambda w: w.events[-1].auction.HasField("closed_at"), timeout=30)
    closes = [e.auction for e in stream.events if e.auction.HasField("closed_at")]
    assert len(closes) == 1, "closed once"
    [closed] = closes
    assert moves >= 2 and end_date == hard_end
    assert from_timestamp(closed.end_date) == hard_end and from_timestamp(closed.original_end_date) < hard_end
    assert from_timestamp(closed.closed_at) >= hard_end  # at its last end, not an earlier one
    assert closed.winner_id == "" and closed.highest_bidder_alias  # an anonymous watcher: the alias only
    assert (await get_auction(settings, lot, tokens[names.index(leader)])).winner_id == leader


async def test_closing_below_the_reserve_has_no_winner(stack: object, settings: Settings, token_for) -> None:
    auction = await create_auction(
        settings, token_for(f"seller-{uuid.uuid4().hex[:6]}"), ends_in=timedelta(seconds=2), reserve_price=5_000
    )
    bidder = f"carol-{uuid.uuid4().hex[:4]}"
    async with bid_stub(settings) as stub, watching(settings, auction.auction_id) as events:
        bid = await stub.PlaceBid(
            pb.PlaceBidRequest(auction_id=auction.auction_id, amount=4_999), metadata=bearer(token_for(bidder))
        )
        closed = await events.until(lambda a: a.HasField("closed_at"), timeout=30)
    assert bid.status == pb.BID_STATUS_ACCEPTED
    assert (closed.highest_bidder_id, closed.reserve_met, closed.has_reserve) == (bidder, False, True)
    assert closed.winner_id == "" and closed.status == pb.AUCTION_STATUS_ENDED
