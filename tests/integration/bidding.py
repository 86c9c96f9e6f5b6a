"""Helpers for tests that bid through the real stack: auctions, bidders, awaiting events."""

from __future__ import annotations

import asyncio
import itertools
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import nats

from devstack.process import ManagedProcess
from gavel import bus
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.messages import timestamp
from gavel.settings import Settings


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


async def create_auction(
    settings: Settings,
    token: str,
    *,
    starting_price: int = 100,
    ends_in: timedelta = timedelta(hours=1),
    starts_in: timedelta | None = None,
    **rules: Any,
) -> pb.Auction:
    """``rules``: more CreateAuctionRequest fields (reserve_price, buy_now_price, soft_close)."""
    now = datetime.now(UTC)
    request = pb.CreateAuctionRequest(
        item=pb.Item(name="Test lot"),
        end_date=timestamp(now + ends_in),
        starting_price=starting_price,
        **rules,
    )
    if starts_in is not None:
        request.start_date.CopyFrom(timestamp(now + starts_in))
    async with grpc.aio.insecure_channel(settings.target("auction")) as channel:
        return await pb_grpc.AuctionServiceStub(channel).CreateAuction(request, metadata=bearer(token))


async def get_auction(settings: Settings, auction_id: str, token: str | None = None) -> pb.Auction:
    """As anonymous, or as the holder of ``token``."""
    async with grpc.aio.insecure_channel(settings.target("auction")) as channel:
        return await pb_grpc.AuctionServiceStub(channel).GetAuction(
            pb.GetAuctionRequest(auction_id=auction_id), metadata=bearer(token) if token else None
        )


@asynccontextmanager
async def bid_stub(settings: Settings) -> AsyncIterator[pb_grpc.BidServiceStub]:
    async with grpc.aio.insecure_channel(settings.target("bid")) as channel:
        yield pb_grpc.BidServiceStub(channel)


async def place(stub: pb_grpc.BidServiceStub, token: str, auction_id: str, amount: int) -> pb.Bid:
    """PlaceBid with a fresh request id; the answer (ACCEPTED, REJECTED or PENDING)."""
    request = pb.PlaceBidRequest(auction_id=auction_id, amount=amount, request_id=uuid.uuid4().hex)
    return await stub.PlaceBid(request, metadata=bearer(token))


async def all_bids(stub: pb_grpc.BidServiceStub, auction_id: str, reader: str | None = None) -> list[pb.Bid]:
    """The whole history, as anonymous or as the holder of the token ``reader``."""
    found: list[pb.Bid] = []
    token = ""
    while True:
        page = await stub.ListBids(
            pb.ListBidsRequest(auction_id=auction_id, page_size=100, page_token=token),
            metadata=bearer(reader) if reader else None,
        )
        found += page.bids
        token = page.next_page_token
        if not token:
            return found


class EventWatch:
    """A NATS subscription to an auction's events, opened before the action that causes them."""

    def __init__(self, auction_id: str) -> None:
        self.auction_id = auction_id
        self.events: list[pb.AuctionEvent] = []
        self._changed = asyncio.Condition()

    async def _on(self, msg: nats.aio.msg.Msg) -> None:
        async with self._changed:
            self.events.append(pb.AuctionEvent.FromString(msg.data))
            self._changed.notify_all()

    async def until(self, predicate: Callable[[pb.Auction], bool], timeout: float = 60) -> pb.Auction:
        async def satisfied() -> pb.Auction:
            async with self._changed:
                while True:
                    for event in reversed(self.events):
                        if predicate(event.auction):
                            return event.auction
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(satisfied(), timeout)
        except TimeoutError:
            last = self.events[-1].auction if self.events else None
            seen = f"version {last.version}, {last.bid_count} bids" if last else "no event"
            raise AssertionError(
                f"auction {self.auction_id}: no event satisfied the wait in {timeout} s; the last one had {seen}"
            ) from None


@asynccontextmanager
async def watching(settings: Settings, auction_id: str) -> AsyncIterator[EventWatch]:
    nc = await nats.connect(settings.nats_url)
    watch = EventWatch(auction_id)
    await nc.subscribe(bus.auction_subject(auction_id), cb=watch._on)
    await nc.flush()
    try:
        yield watch
    finally:
        await nc.close()


def check_history(bids: list[pb.Bid], final: pb.Auction) -> None:
    """The invariants every auction's history must satisfy, whatever happened on the way."""
    ids = [b.bid_id for b in bids]
    assert len(ids) == len(set(ids)), "a bid appears twice"
    in_order = sorted(bids, key=lambda b: b.auction_version)
    versions = [b.auction_version for b in in_order]
    assert len(versions) == len(set(versions)), "two decisions share a version"
    assert versions == list(range(1, len(versions) + 1)), "every decision is in the history"
    accepted = [b.amount for b in in_order if b.status == pb.BID_STATUS_ACCEPTED]
    assert all(a <= b for a, b in itertools.pairwise(accepted)), "the price never falls"
    assert final.highest_bid == (accepted[-1] if accepted else 0)
    assert final.bid_count == sum(b.kind != pb.BID_KIND_PROXY for b in bids)
    assert all(b.max_amount == 0 for b in bids), "an anonymous reader sees no one's maximum"
    # Every outbid bid is answered at once by the leader's proxy, the very next decision.
    kinds = {b.auction_version: b for b in in_order}
    for b in in_order:
        if b.reject_reason == pb.BID_REJECT_REASON_OUTBID:
            proxy = kinds[b.auction_version + 1]
            assert proxy.kind == pb.BID_KIND_PROXY and proxy.amount == b.highest_bid
    assert all(b.status in (pb.BID_STATUS_ACCEPTED, pb.BID_STATUS_REJECTED) for b in bids)
    assert all(b.reject_reason != pb.BID_REJECT_REASON_UNSPECIFIED for b in bids if b.status == pb.BID_STATUS_REJECTED)


def as_others_see(bid: pb.Bid) -> pb.Bid:
    """A bidder's own answer as anyone else reads it: their alias, not their id or maximum."""
    public = pb.Bid()
    public.CopyFrom(bid)
    public.max_amount = 0
    public.bidder_id = ""
    public.yours = False
    return public


def placed(history: list[pb.Bid]) -> list[pb.Bid]:
    """The bids bidders placed, without the proxy bids that answered them."""
    return [b for b in history if b.kind != pb.BID_KIND_PROXY]


def new_bidders(n: int) -> list[str]:
    return [f"bidder-{uuid.uuid4().hex[:8]}" for _ in range(n)]


def check_leader_chain(session: object, auction_id: str) -> None:
    """From the auction's own partition: each accepted bid displaced the one accepted before."""
    rows = session.execute(  # type: ignore[attr-defined]
        "SELECT bid_id, prev_bid_id, seq, accepted FROM auctions WHERE auction_id = %s", (uuid.UUID(auction_id),)
    )
    accepted = sorted((r for r in rows if r.bid_id is not None and r.accepted), key=lambda r: r.seq)
    assert [r.prev_bid_id for r in accepted] == ([None] + [r.bid_id for r in accepted])[: len(accepted)]


def extra_worker(settings: Settings, name: str, port_shift: int, log_dir: Path) -> tuple[ManagedProcess, Settings]:
    """Another bid worker beside the stack's (not started): its own id, named ``name`` plus a
    random suffix, and its own health and metrics ports, ``port_shift`` above the stack's."""
    mine = settings.model_copy(
        update={
            "bid_role": "worker",
            "worker_id": f"{name}-{uuid.uuid4().hex[:6]}",
            "bid_port": settings.bid_port + port_shift,
            "bid_metrics_port": settings.bid_metrics_port + port_shift,
        }
    )
    process = ManagedProcess(
        f"{name}-worker", [sys.executable, "-m", "bid_svc"], log_dir / f"{name}.log", env=mine.as_env()
    )
    return process, mine
