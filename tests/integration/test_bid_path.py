"""The bid path end to end against the real Cassandra and NATS: PlaceBid → log → worker → CAS."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import timedelta

import grpc
import pytest

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.errors import field_violations
from gavel.settings import Settings
from tests.integration.bidding import (
    all_bids,
    as_others_see,
    bearer,
    bid_stub,
    check_history,
    check_leader_chain,
    create_auction,
    get_auction,
    new_bidders,
    placed,
    watching,
)


async def _bid_storm(settings: Settings, token_for, auction_ids: list[str], tasks: int, per_task: int) -> list[pb.Bid]:
    """``tasks`` concurrent bidders, each placing ``per_task`` random bids over the auctions."""
    tokens = [token_for(b) for b in new_bidders(tasks)]
    async with bid_stub(settings) as stub:

        async def bidder(token: str) -> list[pb.Bid]:
            replies = []
            for _ in range(per_task):
                request = pb.PlaceBidRequest(
                    auction_id=random.choice(auction_ids),
                    amount=random.randint(50, 1_000_000),
                    request_id=uuid.uuid4().hex,
                )
                replies.append(await stub.PlaceBid(request, metadata=bearer(token)))
            return replies

        results = await asyncio.gather(*(bidder(t) for t in tokens))
    return [reply for replies in results for reply in replies]


@pytest.mark.parametrize("auctions", [1, 25], ids=["one-hot-auction", "many-auctions"])
async def test_concurrent_bidders_agree_on_every_outcome(
    stack: object, settings: Settings, token_for, cql_session: object, auctions: int
) -> None:
    seller = token_for(f"seller-{uuid.uuid4().hex[:6]}")
    lots = [await create_auction(settings, seller) for _ in range(auctions)]
    ids = [a.auction_id for a in lots]
    replies = await _bid_storm(settings, token_for, ids, tasks=50, per_task=20)

    assert len(replies) == 1000
    assert all(r.status in (pb.BID_STATUS_ACCEPTED, pb.BID_STATUS_REJECTED) for r in replies), (
        "every call gets an outcome"
    )
    async with bid_stub(settings) as stub:
        for auction_id in ids:
            history = await all_bids(stub, auction_id)
            mine = [r for r in replies if r.auction_id == auction_id]
            assert {b.bid_id for b in placed(history)} == {r.bid_id for r in mine}  # every acknowledged bid, once
            by_id = {b.bid_id: b for b in placed(history)}
            for r in mine:  # the answer is the recorded outcome, with the bidder's own maximum
                assert r.max_amount > 0 and by_id[r.bid_id] == as_others_see(r)
            check_history(history, await get_auction(settings, auction_id))
            check_leader_chain(cql_session, auction_id)


async def test_retry_with_the_same_request_id_is_the_same_bid(stack: object, settings: Settings, token_for) -> None:
    auction = await create_auction(settings, token_for("seller-retry"))
    token = token_for("bidder-retry")
    request = pb.PlaceBidRequest(auction_id=auction.auction_id, amount=500, request_id="retry-1")
    async with bid_stub(settings) as stub:
        first = await stub.PlaceBid(request, metadata=bearer(token))
        again = await stub.PlaceBid(request, metadata=bearer(token))
        history = await all_bids(stub, auction.auction_id)
    assert first.status == pb.BID_STATUS_ACCEPTED
    assert again == first
    assert [b.bid_id for b in history] == [first.bid_id]


async def test_rules_and_reasons(stack: object, settings: Settings, token_for) -> None:
    auction = await create_auction(settings, token_for("seller-rules"), starting_price=1000)
    alice, bob = token_for("alice"), token_for("bob")
    async with bid_stub(settings) as stub:

        async def place(token: str, amount: int) -> pb.Bid:
            return await stub.PlaceBid(
                pb.PlaceBidRequest(auction_id=auction.auction_id, amount=amount), metadata=bearer(token)
            )

        low = await place(alice, 999)
        first = await place(alice, 3000)  # a maximum: the price is the starting price
        below = await place(bob, 1049)
        tie = await place(bob, 3000)  # alice's maximum answers; the earlier keeps the lead
        own = await place(alice, 3000)
        higher = await place(bob, 5000)
        history = await all_bids(stub, auction.auction_id)
    assert (low.status, low.reject_reason) == (pb.BID_STATUS_REJECTED, pb.BID_REJECT_REASON_BELOW_STARTING_PRICE)
    assert first.status == pb.BID_STATUS_ACCEPTED and (first.amount, first.max_amount) == (1000, 3000)
    assert below.reject_reason == pb.BID_REJECT_REASON_BELOW_MIN_BID  # 1000 + 50
    assert (tie.reject_reason, tie.highest_bid) == (pb.BID_REJECT_REASON_OUTBID, 3000)
    assert own.reject_reason == pb.BID_REJECT_REASON_NOT_ABOVE_OWN_MAX
    assert higher.status == pb.BID_STATUS_ACCEPTED and higher.highest_bid == 3100  # 3000 + 100
    assert [low.auction_version, first.auction_version, below.auction_version, tie.auction_version] == [1, 2, 3, 4]
    assert [own.auction_version, higher.auction_version] == [6, 7]  # 5: alice's proxy answer to bob's tie
    proxy = next(b for b in history if b.auction_version == 5)
    assert (proxy.kind, proxy.bidder_alias, proxy.amount, proxy.max_amount) == (pb.BID_KIND_PROXY, "Bidder 1", 3000, 0)
    assert proxy.bidder_id == "" and first.bidder_alias == "Bidder 1" and tie.bidder_alias == "Bidder 2"


async def test_bad_bids_change_nothing(stack: object, settings: Settings, token_for) -> None:
    seller_token = token_for("seller-bad")
    auction = await create_auction(settings, seller_token)
    async with bid_stub(settings) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await stub.PlaceBid(pb.PlaceBidRequest(auction_id=auction.auction_id, amount=500))
        assert anonymous.value.code() is grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await stub.PlaceBid(pb.PlaceBidRequest(auction_id="nope", amount=0), metadata=bearer(token_for("x")))
        assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert {v.field for v in field_violations(bad.value)} == {"auction_id", "amount"}
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stub.PlaceBid(
                pb.PlaceBidRequest(auction_id=str(uuid.uuid4()), amount=500), metadata=bearer(token_for("x"))
            )
        assert missing.value.code() is grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as own:
            await stub.PlaceBid(
                pb.PlaceBidRequest(auction_id=auction.auction_id, amount=500), metadata=bearer(seller_token)
            )
        assert own.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert await all_bids(stub, auction.auction_id) == []


async def test_bid_before_start_and_closing_with_the_winner(stack: object, settings: Settings, token_for) -> None:
    early = await create_auction(
        settings, token_for("seller-early"), starts_in=timedelta(hours=1), ends_in=timedelta(hours=2)
    )
    auction = await create_auction(settings, token_for("seller-close"), ends_in=timedelta(seconds=3))
    async with bid_stub(settings) as stub, watching(settings, auction.auction_id) as events:
        too_early = await stub.PlaceBid(
            pb.PlaceBidRequest(auction_id=early.auction_id, amount=500), metadata=bearer(token_for("carol"))
        )
        winning = await stub.PlaceBid(
            pb.PlaceBidRequest(auction_id=auction.auction_id, amount=700), metadata=bearer(token_for("carol"))
        )
        # The closer appends the close at the end time; the event says so.
        ended = await events.until(lambda a: a.status == pb.AUCTION_STATUS_ENDED and a.winner_id != "", timeout=30)
        late = await stub.PlaceBid(
            pb.PlaceBidRequest(auction_id=auction.auction_id, amount=9000), metadata=bearer(token_for("dave"))
        )
    assert too_early.reject_reason == pb.BID_REJECT_REASON_AUCTION_NOT_STARTED
    assert winning.status == pb.BID_STATUS_ACCEPTED
    assert ended.winner_id == "carol" and ended.highest_bid == 100  # alone: the starting price
    assert (late.status, late.reject_reason) == (pb.BID_STATUS_REJECTED, pb.BID_REJECT_REASON_AUCTION_ENDED)
    assert late.highest_bid == 100


async def test_auction_without_bids_closes_without_a_winner(stack: object, settings: Settings, token_for) -> None:
    auction = await create_auction(settings, token_for("seller-empty"), ends_in=timedelta(seconds=2))
    async with watching(settings, auction.auction_id) as events:
        ended = await events.until(lambda a: a.status == pb.AUCTION_STATUS_ENDED, timeout=30)
    assert ended.winner_id == "" and ended.version == 1
