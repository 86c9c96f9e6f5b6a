"""A stream_svc process of the test's own (short heartbeat and refresh intervals): idle
streams get heartbeats, a lost event is healed from Cassandra, and after kill -9 and a
restart reconnecting clients resume with the current state."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cassandra.cluster import Session

from bid_svc.ledger import Ledger
from devstack.stack import Stack
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.auction_store import AuctionStore
from gavel.clock import utcnow
from gavel.domain.bidding import PlaceBid, decide_bid
from gavel.services import STREAM
from gavel.settings import Settings
from tests.integration.bidding import bid_stub, create_auction, place
from tests.integration.watchers import watch


@pytest.fixture
def own_stream(stack: object, settings: Settings, tmp_path: Path) -> Iterator[tuple[Stack, Settings]]:
    mine = settings.model_copy(
        update={
            "stream_port": settings.stream_port + 10,
            "stream_metrics_port": settings.stream_metrics_port + 10,
            "stream_heartbeat_interval": 0.3,
            "stream_refresh_interval": 1.0,
            "data_dir": tmp_path,
        }
    )
    services = Stack(mine, gateway=False)
    services.start_service(STREAM)
    try:
        yield services, mine
    finally:
        services.stop()


async def test_idle_streams_get_heartbeats_and_a_lost_event_is_healed(
    own_stream: tuple[Stack, Settings], settings: Settings, token_for, cql_session: Session, store: AuctionStore
) -> None:
    _, mine = own_stream
    lot = await create_auction(settings, token_for("seller-heal"), starting_price=100)
    async with watch(mine.target("stream"), lot.auction_id) as w:
        await w.until(lambda w: w.heartbeats >= 2 and len(w.events) == 1)

        # What a worker that died between its Cassandra write and its publish leaves behind:
        # a decided bid in Cassandra and no event on NATS.
        before = await store.get(uuid.UUID(lot.auction_id), serial=True)
        [(after, outcome)] = decide_bid(before, PlaceBid(uuid.uuid4(), before.auction_id, "ghost", 700, utcnow()))
        assert await Ledger(cql_session, store).commit(before, after, [outcome])
        await w.until_version(after.version)
    healed = w.events[-1].auction
    assert (healed.highest_bidder_alias, healed.highest_bidder_id, healed.highest_bid) == ("Bidder 1", "", 100)
    assert w.versions == [before.version, after.version]


async def test_clients_that_reconnect_after_a_restart_resume_with_the_current_state(
    own_stream: tuple[Stack, Settings], settings: Settings, token_for
) -> None:
    services, mine = own_stream
    lot = await create_auction(settings, token_for("seller-restart"), starting_price=100)
    bidder = token_for(f"bidder-{uuid.uuid4().hex[:6]}")
    async with bid_stub(settings) as stub:
        async with watch(mine.target("stream"), lot.auction_id) as w:
            await w.until(lambda w: len(w.events) == 1)
            services.processes[STREAM.module].signal(signal.SIGKILL)
            await w.until(lambda w: w.ended is not None)
        assert w.ended == grpc.StatusCode.UNAVAILABLE

        # Bids keep landing while the stream service is down.
        missed = await place(stub, bidder, lot.auction_id, 300)
        assert missed.status == pb.BID_STATUS_ACCEPTED
        services.start_service(STREAM)

        async with watch(mine.target("stream"), lot.auction_id) as again:
            await again.until(lambda w: len(w.events) == 1)
            assert (again.events[0].auction.version, again.events[0].auction.highest_bid) == (
                missed.auction_version,
                100,  # a maximum of 300, alone: the starting price
            )
            live = await place(stub, bidder, lot.auction_id, 400)
            await again.until_version(live.auction_version)
        assert again.events[-1].bid.bid_id == live.bid_id
