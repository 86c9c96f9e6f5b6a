"""A sale's deadline through faults: ``kill -9`` of the bid service (the worker) and of the
auction service (the closer) just before the winners' windows end. Each sale still moves on
exactly once per deadline: to the next bidder, then to the one after, then unsold, with each
buyer passed over once and each unpaid winner counted once."""

from __future__ import annotations

import asyncio
import signal
import uuid
from contextlib import AsyncExitStack
from datetime import timedelta

from devstack.stack import Stack
from gavel import cql
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.auction_store import AuctionStore
from gavel.domain.auction import SaleStatus
from gavel.messages import from_timestamp
from gavel.settings import Settings
from tests.chaos.load import until_available
from tests.integration.bidding import watching
from tests.integration.sales import bid_maxima, lot_with_window, sale_moves, until_past

LOTS = 4
WINDOW_S = 4
AWAITING, UNSOLD = pb.SALE_STATUS_AWAITING_PAYMENT, pb.SALE_STATUS_UNSOLD


async def test_each_deadline_moves_the_sale_once_through_kill_9_of_worker_and_closer(
    stack: Stack, settings: Settings, token_for
) -> None:
    tag = uuid.uuid4().hex[:6]
    names = {n: f"{n}-{tag}" for n in ("seller", "winner", "second", "third")}
    tokens = {n: token_for(v) for n, v in names.items()}
    maxima = {"third": 500, "second": 700, "winner": 900}
    lots = [
        (await until_available(lambda: lot_with_window(settings, tokens["seller"], window_s=WINDOW_S, ends_in_s=5)))
        for _ in range(LOTS)
    ]
    async with AsyncExitStack() as watches:
        events = {a.auction_id: await watches.enter_async_context(watching(settings, a.auction_id)) for a in lots}
        for a in lots:
            await bid_maxima(settings, tokens, a.auction_id, maxima)
        offered = [await events[a.auction_id].until(lambda x: x.sale.status == AWAITING, timeout=60) for a in lots]
        # Both killed a moment before the first window ends, restarted in place.
        await until_past(min(from_timestamp(o.sale.pay_by) for o in offered) - timedelta(seconds=1))
        for name in ("bid_svc", "auction_svc"):
            stack.processes[name].signal(signal.SIGKILL)
        for name in ("bid_svc", "auction_svc"):
            await asyncio.to_thread(stack.restart, name)
        for a in lots:
            await events[a.auction_id].until(lambda x: x.sale.status == UNSOLD, timeout=120)

    session = cql.connect(settings, settings.cassandra_keyspace)
    try:
        store = AuctionStore(session)
        for a in lots:
            moves = sale_moves(events[a.auction_id])
            assert moves == [(AWAITING, 0, 750), (AWAITING, 1, 700), (AWAITING, 2, 500), (UNSOLD, 2, 0)], moves
            stored = await store.get(uuid.UUID(a.auction_id))
            assert stored is not None and stored.sale is not None
            assert stored.sale.status is SaleStatus.UNSOLD
            assert stored.sale.passed == (names["winner"], names["second"], names["third"])  # each once
        rows = session.execute("SELECT auction_id FROM unpaid_items WHERE buyer_id = %s", (names["winner"],))
        assert sorted(str(r.auction_id) for r in rows) == sorted(a.auction_id for a in lots)  # one per lot
    finally:
        session.cluster.shutdown()
