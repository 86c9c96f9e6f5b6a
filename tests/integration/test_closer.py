"""The closer: a durable timer over end-hour buckets that survives its own restart."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import nats
import pytest
from cassandra.cluster import Session
from pydantic import ValidationError

from auction_svc.closer import Closer
from gavel import bus, commands
from gavel.auction_store import AuctionStore
from gavel.domain.auction import Auction, Item
from gavel.settings import Settings


@pytest.fixture
async def js(stack: object, settings: Settings) -> AsyncIterator[nats.js.JetStreamContext]:
    nc = await nats.connect(settings.nats_url)
    yield nc.jetstream()
    await nc.close()


async def _closes_for(
    js: nats.js.JetStreamContext, auction_ids: set[uuid.UUID]
) -> list[tuple[str, commands.CloseAuctionCommand]]:
    """Every close command in the log for these auctions, with its subject (an ordered
    consumer reading the log to its end)."""
    found = []
    sub = await js.subscribe("bids.*", ordered_consumer=True)
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=2)
            except nats.errors.TimeoutError:
                return found  # read to the end of the log
            try:
                command = commands.decode(msg.data)
            except (ValidationError, ValueError):
                continue  # not a command: another test's garbage for the dead-letter path
            if isinstance(command, commands.CloseAuctionCommand) and command.auction_id in auction_ids:
                found.append((msg.subject, command))
    finally:
        await sub.unsubscribe()


async def test_closer_resumes_where_it_stopped_and_closes_once(
    js: nats.js.JetStreamContext, cql_session: Session, store: AuctionStore, settings: Settings
) -> None:
    epoch = datetime(random.randint(3000, 8000), 6, 1, tzinfo=UTC)
    clock_now = epoch

    def clock() -> datetime:
        return clock_now

    def lot(ends: timedelta) -> Auction:
        return Auction(
            uuid.uuid4(),
            "seller-closer",
            Item("Lot"),
            epoch - timedelta(days=1),
            epoch + ends,
            100,
            "USD",
            epoch - timedelta(days=1),
        )

    first_wave = [lot(timedelta(minutes=m)) for m in (-90, -30, -1)]  # ended, over two hours
    second_wave = [lot(timedelta(minutes=m)) for m in (20, 70)]
    not_yet = lot(timedelta(hours=5))
    for auction in [*first_wave, *second_wave, not_yet]:
        await store.create(auction)

    name = f"test-closer-{uuid.uuid4().hex[:6]}"
    # A closer that has never run looks back a day: it publishes the three that have ended.
    assert await Closer(settings, js, cql_session, store, clock=clock, name=name).close_due() == 3
    # "Restarted" (a new instance, same progress row): nothing more is due yet.
    assert await Closer(settings, js, cql_session, store, clock=clock, name=name).close_due() == 0

    clock_now = epoch + timedelta(hours=2)
    restarted = Closer(settings, js, cql_session, store, clock=clock, name=name)
    assert await restarted.close_due() == 2  # the second wave, not the first again

    ids = {a.auction_id for a in [*first_wave, *second_wave, not_yet]}
    closes = await _closes_for(js, ids)
    due = {a.auction_id: a for a in [*first_wave, *second_wave]}
    assert sorted(c.auction_id for _, c in closes) == sorted(due)  # each due auction once, the rest not
    for subject, close in closes:
        assert close.end_date == due[close.auction_id].end_date
        # On the auction's own partition: behind every bid for it received before the end.
        assert subject == bus.bid_subject(bus.partition_of(close.auction_id, settings.bid_partitions))
