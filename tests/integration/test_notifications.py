"""Notifications (issue 13) on the real stack: produced by the worker's decisions, kept in the
notification log, followed from a cursor, listed newest first."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, timedelta

import grpc
import nats
import pytest
from cassandra.cluster import Session

from bid_svc.ledger import Ledger
from gavel import bus, commands, notifications
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.auction_store import AuctionStore
from gavel.clock import utcnow
from gavel.domain.bidding import PlaceBid, decide_bid
from gavel.domain.notices import notices
from gavel.domain.takeback import decide_cancel
from gavel.settings import Settings
from tests.integration.bidding import bearer, bid_stub, create_auction, place
from tests.integration.inbox import follow, kept

OUTBID = pb.NOTIFICATION_KIND_OUTBID


@asynccontextmanager
async def auction_stub(settings: Settings) -> AsyncIterator[pb_grpc.AuctionServiceStub]:
    async with grpc.aio.insecure_channel(settings.target("auction")) as channel:
        yield pb_grpc.AuctionServiceStub(channel)


def names(*roles: str) -> list[str]:
    return [f"{r}-{uuid.uuid4().hex[:8]}" for r in roles]


async def test_outbid_while_away_arrives_once_after_the_cursor(stack: object, settings: Settings, token_for) -> None:
    seller, alice, bob, carol, erin = names("seller", "alice", "bob", "carol", "erin")
    t = {u: token_for(u) for u in (seller, alice, bob, carol, erin)}
    lot = (await create_auction(settings, t[seller], starting_price=100)).auction_id
    target = settings.target("stream")
    async with bid_stub(settings) as stub:
        async with follow(target, t[alice]) as live:
            await live.until(lambda f: f.heartbeats >= 1)  # live from here
            await place(stub, t[alice], lot, 200)
            await place(stub, t[bob], lot, 300)  # Alice loses the lead: told live
            await live.until_count(1)
        [first] = live.notifications
        assert (first.kind, first.auction_id) == (OUTBID, lot)
        assert first.auction.highest_bidder_alias == "Bidder 2" and not first.auction.highest_bidder_id
        assert "You were outbid" in first.text

        # Away: she takes the lead back (Bob is told), Carol takes it from her (she is told).
        await place(stub, t[alice], lot, 400)
        await place(stub, t[carol], lot, 500)
        async with follow(target, t[alice], after=first.notification_id) as back:
            await back.until_count(1)  # what she missed...
            await place(stub, t[alice], lot, 600)
            await place(stub, t[erin], lot, 700)
            await back.until_count(2)  # ...then live, after it
        missed, later = back.notifications
    assert [n.kind for n in back.notifications] == [OUTBID, OUTBID]
    assert int(first.notification_id) < int(missed.notification_id) < int(later.notification_id)
    assert first.auction.version < missed.auction.version < later.auction.version
    assert missed.auction.highest_bidder_alias == "Bidder 3"  # Carol, as Alice may see her

    # Kept, newest first, page by page; the others told once each.
    history = await kept(target, t[alice], page_size=2)
    assert [n.notification_id for n in history] == [n.notification_id for n in (later, missed, first)]
    assert [n.kind for n in await kept(target, t[bob])] == [OUTBID]
    assert [n.kind for n in await kept(target, t[carol])] == [OUTBID]
    assert await kept(target, t[erin]) == []  # leading: nothing to tell
    # A notification is a view of other users: aliases, never their ids.
    assert not any(u in str(n) for n in history for u in (bob, carol, erin))


async def test_a_challenger_answered_by_the_maximum_is_not_notified(
    stack: object, settings: Settings, token_for
) -> None:
    seller, alice, bob = names("seller", "alice", "bob")
    t = {u: token_for(u) for u in (seller, alice, bob)}
    lot = (await create_auction(settings, t[seller], starting_price=100)).auction_id
    target = settings.target("stream")
    async with follow(target, t[alice]) as leader, bid_stub(settings) as stub:
        await leader.until(lambda f: f.heartbeats >= 1)
        await place(stub, t[alice], lot, 1000)
        answered = await place(stub, t[bob], lot, 500)  # her maximum answers at once
        assert answered.reject_reason == pb.BID_REJECT_REASON_OUTBID  # he learns it here
        taken = await place(stub, t[bob], lot, 2000)
        assert taken.status == pb.BID_STATUS_ACCEPTED
        await leader.until_count(1)
    [told] = leader.notifications
    assert told.kind == OUTBID and told.auction.version == taken.auction_version
    # One auction's decisions are told in order: anything for Bob's first bid came before.
    assert await kept(target, t[bob]) == []


async def test_the_close_tells_the_winner_and_the_others(stack: object, settings: Settings, token_for) -> None:
    seller, alice, bob = names("seller", "alice", "bob")
    t = {u: token_for(u) for u in (seller, alice, bob)}
    lot = await create_auction(settings, t[seller], starting_price=100, ends_in=timedelta(seconds=3))
    target = settings.target("stream")
    async with follow(target, t[bob]) as winner, follow(target, t[alice]) as loser:
        await winner.until(lambda f: f.heartbeats >= 1)
        await loser.until(lambda f: f.heartbeats >= 1)
        async with bid_stub(settings) as stub:
            await place(stub, t[alice], lot.auction_id, 200)
            await place(stub, t[bob], lot.auction_id, 300)
        await winner.until(lambda f: any(n.kind == pb.NOTIFICATION_KIND_PAYMENT_DUE for n in f.notifications))
        await loser.until(lambda f: any(n.kind == pb.NOTIFICATION_KIND_LOST for n in f.notifications))
    assert [n.kind for n in winner.notifications] == [pb.NOTIFICATION_KIND_WON, pb.NOTIFICATION_KIND_PAYMENT_DUE]
    won = winner.notifications[0]
    assert won.auction.you_lead and won.auction.winner_id == bob and won.auction.HasField("closed_at")
    assert [n.kind for n in loser.notifications] == [OUTBID, pb.NOTIFICATION_KIND_LOST]
    assert not any(bob in str(n) for n in loser.notifications)


async def test_a_worker_that_died_before_telling_is_followed_by_one_that_tells(
    stack: object, settings: Settings, token_for, cql_session: Session, store: AuctionStore
) -> None:
    """What a worker that died between its compare-and-set and the notification log leaves
    behind: a decision, its outbox, and its command unacknowledged in the bid log. The worker
    that is given the command again finds it decided and sends the outbox: told once."""
    seller, alice, bob, carol = names("seller", "alice", "bob", "carol")
    t = {u: token_for(u) for u in (seller, alice, bob, carol)}
    lot = (await create_auction(settings, t[seller], starting_price=100)).auction_id
    auction_id = uuid.UUID(lot)
    target = settings.target("stream")
    async with follow(target, t[alice]) as live, bid_stub(settings) as stub:
        await live.until(lambda f: f.heartbeats >= 1)
        await place(stub, t[alice], lot, 200)

        before = await store.get(auction_id, serial=True)
        assert before is not None
        bid = PlaceBid(uuid.uuid4(), auction_id, bob, 500, utcnow())
        steps = decide_bid(before, bid)
        outbox = notifications.encode_outbox(notifications.build(notices(before, steps), utcnow()))
        [(after, outcome)] = steps
        assert await Ledger(cql_session, store).commit(before, after, [outcome], outbox)
        command = commands.PlaceBidCommand(
            auction_id=auction_id, bid_id=bid.bid_id, bidder_id=bob, amount=500, placed_at=bid.placed_at, state=before
        )
        nc = await nats.connect(settings.nats_url)
        try:
            await nc.jetstream().publish(
                bus.bid_subject(bus.partition_of(auction_id, settings.bid_partitions)), commands.encode(command)
            )
        finally:
            await nc.close()
        await live.until_count(1)
        # Then a cause of its own, after it: nothing came twice in between.
        await place(stub, t[alice], lot, 1000)
        await place(stub, t[carol], lot, 2000)
        await live.until_count(2)
    first, second = live.notifications
    assert (first.kind, first.auction.version) == (OUTBID, after.version)
    assert second.kind == OUTBID and second.auction.version > first.auction.version
    assert [n.notification_id for n in await kept(target, t[alice])] == [second.notification_id, first.notification_id]


async def test_a_cancel_decided_by_a_worker_that_died_is_told_by_the_next(
    stack: object, settings: Settings, token_for, cql_session: Session, store: AuctionStore
) -> None:
    """Not a bid (a request, a timer): decided again it is a no-op, so the outbox is what tells.
    The worker that is given it again has never seen the auction (as after a takeover)."""
    seller, wes = names("seller", "wes")
    t = {u: token_for(u) for u in (seller, wes)}
    lot = (await create_auction(settings, t[seller], starting_price=100)).auction_id
    auction_id = uuid.UUID(lot)
    async with auction_stub(settings) as auctions:
        await auctions.AddToWatchlist(pb.AddToWatchlistRequest(auction_id=lot), metadata=bearer(t[wes]))
    target = settings.target("stream")
    async with follow(target, t[wes]) as live:
        await live.until(lambda f: f.heartbeats >= 1)
        before = await store.get(auction_id, serial=True)
        assert before is not None
        cancel = commands.CancelAuctionCommand(
            auction_id=auction_id,
            command_id=uuid.uuid4(),
            received_at=utcnow(),
            seller_id=seller,
            min_remaining=settings.cancel_min_remaining,
        )
        steps = decide_cancel(before, cancel.to_domain())
        told = notices(before, steps, [wes])
        outbox = notifications.encode_outbox(notifications.build(told, utcnow()))
        [(after, outcome)] = steps
        assert await Ledger(cql_session, store).commit(before, after, [outcome], outbox)
        nc = await nats.connect(settings.nats_url)
        try:
            subject = bus.bid_subject(bus.partition_of(auction_id, settings.bid_partitions))
            await nc.jetstream().publish(subject, commands.encode(cancel))
        finally:
            await nc.close()
        await live.until_count(1)
    [cancelled] = live.notifications
    assert cancelled.kind == pb.NOTIFICATION_KIND_AUCTION_CANCELLED and cancelled.auction_id == lot
    assert cancelled.auction.status == pb.AUCTION_STATUS_CANCELLED
    assert [n.notification_id for n in await kept(target, t[wes])] == [cancelled.notification_id]


async def test_ending_soon_tells_each_bidder_and_watcher_once_at_the_lead_time(
    stack: object, settings: Settings, token_for
) -> None:
    lead = settings.notification_ending_soon
    seller, alice, wes = names("seller", "alice", "wes")
    t = {u: token_for(u) for u in (seller, alice, wes)}
    lot = await create_auction(settings, t[seller], starting_price=100, ends_in=lead + timedelta(seconds=4))
    end = lot.end_date.ToDatetime(tzinfo=UTC)
    async with auction_stub(settings) as auctions:
        await auctions.AddToWatchlist(pb.AddToWatchlistRequest(auction_id=lot.auction_id), metadata=bearer(t[wes]))
    target = settings.target("stream")
    async with follow(target, t[alice]) as bidder, follow(target, t[wes]) as watcher:
        await bidder.until(lambda f: f.heartbeats >= 1)
        await watcher.until(lambda f: f.heartbeats >= 1)
        async with bid_stub(settings) as stub:
            await place(stub, t[alice], lot.auction_id, 200)
        # The close comes after the timer: a second ending-soon would be between them.
        await bidder.until(lambda f: any(n.kind == pb.NOTIFICATION_KIND_PAYMENT_DUE for n in f.notifications))
        await watcher.until(lambda f: any(n.kind == pb.NOTIFICATION_KIND_LOST for n in f.notifications))
    soon = pb.NOTIFICATION_KIND_ENDING_SOON
    assert [n.kind for n in bidder.notifications] == [soon, pb.NOTIFICATION_KIND_WON, pb.NOTIFICATION_KIND_PAYMENT_DUE]
    assert [n.kind for n in watcher.notifications] == [soon, pb.NOTIFICATION_KIND_LOST]
    for told in (bidder.notifications[0], watcher.notifications[0]):
        at = told.created_at.ToDatetime(tzinfo=UTC)
        assert end - lead <= at < end, "told at the lead time, before the end"
        assert told.auction.status == pb.AUCTION_STATUS_OPEN and "ends soon" in told.text
    assert not any(alice in str(n) for n in watcher.notifications)


async def test_the_watchlist_lists_ending_soonest_first(stack: object, settings: Settings, token_for) -> None:
    seller, wes = names("seller", "wes")
    t = {u: token_for(u) for u in (seller, wes)}
    lots = [(await create_auction(settings, t[seller], ends_in=timedelta(hours=h))).auction_id for h in (3, 1, 2)]
    async with auction_stub(settings) as auctions:
        for lot in lots + lots[:1]:  # adding twice is adding once
            added = await auctions.AddToWatchlist(pb.AddToWatchlistRequest(auction_id=lot), metadata=bearer(t[wes]))
            assert added.auction_id == lot
        pages, token = [], ""
        while True:
            page = await auctions.ListWatchlist(
                pb.ListWatchlistRequest(page_size=2, page_token=token), metadata=bearer(t[wes])
            )
            pages.append([a.auction_id for a in page.auctions])
            token = page.next_page_token
            if not token:
                break
        assert pages == [[lots[1], lots[2]], [lots[0]]]
        for _ in range(2):  # removing twice is removing once
            await auctions.RemoveFromWatchlist(
                pb.RemoveFromWatchlistRequest(auction_id=lots[1]), metadata=bearer(t[wes])
            )
        left = await auctions.ListWatchlist(pb.ListWatchlistRequest(), metadata=bearer(t[wes]))
        assert [a.auction_id for a in left.auctions] == [lots[2], lots[0]]
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await auctions.AddToWatchlist(
                pb.AddToWatchlistRequest(auction_id=str(uuid.uuid4())), metadata=bearer(t[wes])
            )
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await auctions.ListWatchlist(pb.ListWatchlistRequest())
        assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await auctions.AddToWatchlist(pb.AddToWatchlistRequest(auction_id="nope"), metadata=bearer(t[wes]))
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_any_user_id_has_its_notifications(stack: object, settings: Settings, token_for) -> None:
    """A user id is whatever the identity provider says (spaces, non-ASCII): kept and listed."""
    seller, bob = names("seller", "bob")
    zoe = f" zoë müller {uuid.uuid4().hex[:6]} "
    t = {u: token_for(u) for u in (seller, zoe, bob)}
    lot = (await create_auction(settings, t[seller], starting_price=100)).auction_id
    target = settings.target("stream")
    async with follow(target, t[zoe]) as live, bid_stub(settings) as stub:
        await live.until(lambda f: f.heartbeats >= 1)
        await place(stub, t[zoe], lot, 200)
        await place(stub, t[bob], lot, 300)
        await live.until_count(1)
    assert [n.notification_id for n in await kept(target, t[zoe])] == live.ids


@pytest.mark.parametrize("after", ["x", "-1", "0", "99999999999999999999999", "²", "１２"])
async def test_a_bad_cursor_is_invalid_argument(stack: object, settings: Settings, token_for, after: str) -> None:
    async with follow(settings.target("stream"), token_for("someone"), after=after) as bad:
        await bad.until(lambda f: f.ended is not None)
    assert bad.ended == grpc.StatusCode.INVALID_ARGUMENT


async def test_notifications_are_the_callers_own(stack: object, settings: Settings) -> None:
    async with grpc.aio.insecure_channel(settings.target("stream")) as channel:
        stub = pb_grpc.StreamServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await stub.ListMyNotifications(pb.ListMyNotificationsRequest())
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
