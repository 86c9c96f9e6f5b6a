"""WatchAuction against the real stack: the current state first, then every change, versions
only going up; one NATS subscription per auction per process; ended auctions close the stream."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from datetime import timedelta

import grpc
import httpx
import pytest

from gavel import bus
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.messages import duration
from gavel.services import STREAM
from gavel.settings import Settings
from tests.integration.bidding import as_others_see, bid_stub, create_auction, get_auction, new_bidders, place
from tests.integration.watchers import StreamWatch, watch


def check_stream(w: StreamWatch, final: pb.Auction) -> None:
    """What every watcher must have seen: versions strictly up, each bid event consistent
    with its state, and the final state last."""
    assert all(a < b for a, b in zip(w.versions, w.versions[1:], strict=False)), (
        f"versions went down or repeated: {w.versions}"
    )
    for event in w.events:
        if event.HasField("bid"):
            assert event.bid.auction_version == event.auction.version
            assert event.bid.max_amount == 0, "a stream shows no one's maximum"
            if event.bid.reject_reason != pb.BID_REJECT_REASON_OUTBID:  # its price is the proxy's, next
                assert event.bid.highest_bid == event.auction.highest_bid
    assert w.events[-1].auction == final


async def test_watch_starts_with_the_current_state_then_follows_every_bid(
    stack: object, settings: Settings, token_for
) -> None:
    lot = await create_auction(settings, token_for("seller-watch"), starting_price=100)
    alice, bob = (token_for(b) for b in new_bidders(2))
    async with bid_stub(settings) as stub:
        before = await place(stub, alice, lot.auction_id, 150)
        async with watch(settings.target("stream"), lot.auction_id) as w:
            await w.until(lambda w: len(w.events) >= 1)
            first = w.events[0].auction
            # A maximum of 150, alone: the price is the starting price.
            assert (first.version, first.highest_bid, first.item.name) == (before.auction_version, 100, "Test lot")
            replies = [
                await place(stub, token, lot.auction_id, amount)
                for token, amount in [(bob, 140), (bob, 200), (alice, 250), (bob, 250), (alice, 300)]
            ]
            await w.until_version(replies[-1].auction_version)
    assert [r.status for r in replies] == [pb.BID_STATUS_REJECTED] + [pb.BID_STATUS_ACCEPTED] * 2 + [
        pb.BID_STATUS_REJECTED,
        pb.BID_STATUS_ACCEPTED,
    ]
    check_stream(w, await get_auction(settings, lot.auction_id))
    seen = {e.bid.bid_id: e.bid for e in w.events if e.HasField("bid")}
    for r in replies:  # a bid on the stream is its recorded outcome, less the bidder's maximum
        if r.bid_id in seen:
            assert r.max_amount > 0 and seen[r.bid_id] == as_others_see(r)


async def test_many_watchers_all_end_on_the_final_state_of_a_bid_storm(
    stack: object, settings: Settings, token_for
) -> None:
    lot = await create_auction(settings, token_for("seller-storm"), starting_price=10)
    tokens = [token_for(b) for b in new_bidders(10)]
    async with contextlib.AsyncExitStack() as stack_of:
        watchers = [
            await stack_of.enter_async_context(watch(settings.target("stream"), lot.auction_id)) for _ in range(40)
        ]
        await asyncio.gather(*(w.until(lambda w: len(w.events) >= 1) for w in watchers))
        async with bid_stub(settings) as stub:

            async def bidder(token: str) -> None:
                for _ in range(20):
                    await place(stub, token, lot.auction_id, random.randint(10, 100_000))

            await asyncio.gather(*(bidder(t) for t in tokens))
        final = await get_auction(settings, lot.auction_id)
        assert final.bid_count == 200
        await asyncio.gather(*(w.until_version(final.version) for w in watchers))
    for w in watchers:
        check_stream(w, final)


async def test_one_nats_subscription_per_auction_shared_and_dropped_with_the_last_watcher(
    stack: object, settings: Settings, token_for
) -> None:
    lot = await create_auction(settings, token_for("seller-share"))
    subject = bus.auction_subject(lot.auction_id)

    async def subscriptions() -> int:
        async with httpx.AsyncClient() as http:
            reply = await http.get(f"http://127.0.0.1:{settings.nats_monitor_port}/connz", params={"subs": 1})
        return sum(
            c.get("subscriptions_list", []).count(subject)
            for c in reply.json()["connections"]
            if c.get("name") == STREAM.module
        )

    async with (
        watch(settings.target("stream"), lot.auction_id) as a,
        watch(settings.target("stream"), lot.auction_id) as b,
        watch(settings.target("stream"), lot.auction_id) as c,
    ):
        await asyncio.gather(*(w.until(lambda w: len(w.events) >= 1) for w in (a, b, c)))
        assert await subscriptions() == 1
    await eventually(lambda: subscriptions(), 0)


@pytest.mark.parametrize(
    ("auction_id", "code"),
    [
        (str(uuid.uuid4()), grpc.StatusCode.NOT_FOUND),
        ("not-a-uuid", grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
async def test_watching_what_does_not_exist_fails_clearly(
    stack: object, settings: Settings, auction_id: str, code: grpc.StatusCode
) -> None:
    async with watch(settings.target("stream"), auction_id) as w:
        await w.until(lambda w: w.ended is not None)
    assert (w.ended, w.events) == (code, [])


async def test_an_ended_auction_sends_its_final_state_and_closes_the_stream(
    stack: object, settings: Settings, token_for
) -> None:
    # A payment window of a second: with no one else to offer it to, the sale ends unsold, and
    # with it everything that can change (the stream follows the sale to its end).
    lot = await create_auction(
        settings,
        token_for("seller-end"),
        starting_price=100,
        ends_in=timedelta(seconds=3),
        payment_window=duration(timedelta(seconds=1)),
    )
    winner = f"winner-{uuid.uuid4().hex[:6]}"
    async with bid_stub(settings) as stub:
        accepted = await place(stub, token_for(winner), lot.auction_id, 500)
    assert accepted.status == pb.BID_STATUS_ACCEPTED
    async with (
        watch(settings.target("stream"), lot.auction_id, token_for(winner)) as live,
        watch(settings.target("stream"), lot.auction_id) as anyone,
    ):
        await live.until(lambda w: w.ended is not None)
        await anyone.until(lambda w: w.ended is not None)
    last = live.events[-1].auction
    # The winner is named to themself; anyone else sees the alias.
    public = anyone.events[-1].auction
    assert (public.winner_id, public.highest_bidder_id, public.highest_bidder_alias) == ("", "", "Bidder 1")
    assert last.you_lead and not public.you_lead
    assert (live.ended, last.status, last.winner_id, last.HasField("closed_at"), last.sale.status) == (
        grpc.StatusCode.OK,
        pb.AUCTION_STATUS_ENDED,
        winner,
        True,
        pb.SALE_STATUS_UNSOLD,
    )

    async with watch(settings.target("stream"), lot.auction_id) as late:
        await late.until(lambda w: w.ended is not None)
    assert late.ended == grpc.StatusCode.OK
    assert [e.auction for e in late.events] == [public]


# --- helpers -----------------------------------------------------------------------------


async def eventually(probe, expected: object, timeout: float = 10) -> None:
    """Polls an observable that offers no event to await (a monitoring endpoint)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (value := await probe()) != expected:
        assert loop.time() < deadline, f"still {value!r}, wanted {expected!r}"
        await asyncio.sleep(0.1)
