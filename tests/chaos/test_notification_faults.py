"""Notifications across faults (issue 13): a decision's notification is kept in the log
before anyone is told, so a kill -9 of stream_svc and of NATS, or a restart of every process,
between the decision and the user's reconnect loses nothing and repeats nothing."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Callable

import pytest

from devstack.stack import Stack
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.services import STREAM
from gavel.settings import Settings
from tests.chaos.load import until_available
from tests.integration.bidding import bid_stub, create_auction, place
from tests.integration.inbox import follow


def _kill_stream_svc_and_nats(stack: Stack) -> None:
    for name in ("stream_svc", "nats"):
        stack.processes[name].signal(signal.SIGKILL)
    stack.restart("nats")
    stack.processes[STREAM.module] = stack.start_service(STREAM)


def _restart_everything(stack: Stack) -> None:
    stack.stop()
    stack.start()


FAULTS: dict[str, Callable[[Stack], None]] = {
    "kill -9 stream_svc and nats": _kill_stream_svc_and_nats,
    "restart of every process": _restart_everything,
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_notification_outlives(fault: str, stack: Stack, settings: Settings, token_for) -> None:
    seller, alice, bob, carol = (f"{r}-{uuid.uuid4().hex[:8]}" for r in ("seller", "alice", "bob", "carol"))
    t = {u: token_for(u) for u in (seller, alice, bob, carol)}
    lot = (await until_available(lambda: create_auction(settings, t[seller], starting_price=100))).auction_id
    target = settings.target("stream")
    async with bid_stub(settings) as stub:
        async with follow(target, t[alice]) as live:
            await live.until(lambda f: f.heartbeats >= 1)
            await place(stub, t[alice], lot, 200)
            await place(stub, t[bob], lot, 300)
            await live.until_count(1)
        [seen] = live.notifications
        # Away: she leads again, and loses it to Carol; kept (another reader sees it) before the faults.
        await place(stub, t[alice], lot, 400)
        await place(stub, t[carol], lot, 500)
        async with follow(target, t[alice], after=seen.notification_id) as check:
            await check.until_count(1)
        [missed] = check.notifications

    await asyncio.to_thread(FAULTS[fault], stack)

    async def reconnect() -> list[pb.Notification]:
        """As a client does: a stream that ends before it is live is opened again, after a backoff."""
        while True:
            async with follow(target, t[alice], after=seen.notification_id) as back:
                await back.until(lambda f: bool(f.notifications) or f.ended is not None)
                if back.ended is None:
                    async with bid_stub(settings) as again:
                        await until_available(lambda: place(again, t[alice], lot, 600))
                        await until_available(lambda: place(again, t[bob], lot, 700))
                    await back.until_count(2)
                    return back.notifications
            await asyncio.sleep(0.5)  # a client's retry backoff

    back = await asyncio.wait_for(reconnect(), 120)
    assert [n.notification_id for n in back[:1]] == [missed.notification_id], "the missed one, once"
    assert len(back) == 2 and back[1].kind == pb.NOTIFICATION_KIND_OUTBID
    assert int(back[1].notification_id) > int(missed.notification_id)
