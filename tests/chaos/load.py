"""Bid load that survives faults, watchers that reconnect, and the checks run after each fault.

A bidder is a client as a real one would be written: every request carries its own
``request_id`` and is retried with the same one until the service answers, so a request
that failed in the middle of a fault is either stored once or not at all. An answer (any
status) means the log acknowledged the bid; those are the bids that must never be lost.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import grpc

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.settings import Settings
from tests.integration.bidding import bearer

#: Statuses a client retries with the same request id (the service said "not now", or the
#: connection died before it said anything).
RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.UNKNOWN,
}
DECIDED = {pb.BID_STATUS_ACCEPTED, pb.BID_STATUS_REJECTED}


@dataclass
class Sent:
    token: str
    request: pb.PlaceBidRequest
    sent_at: float  # monotonic, first attempt
    reply: pb.Bid | None = None
    answered_at: float = 0.0
    attempts: int = 0


@dataclass
class BidLoad:
    """Bidders placing bids on ``auctions`` until stopped; every request retried until answered."""

    settings: Settings
    auctions: list[str]
    tokens: list[str]
    sent: list[Sent] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    _answered: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def acknowledged(self) -> list[Sent]:
        return [s for s in self.sent if s.reply is not None]

    async def until(self, predicate: Callable[[BidLoad], bool], timeout: float = 120) -> None:
        async def satisfied() -> None:
            async with self._answered:
                await self._answered.wait_for(lambda: predicate(self))

        try:
            await asyncio.wait_for(satisfied(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"bid load: the wait was not satisfied in {timeout} s ({len(self.acknowledged)} answered,"
                f" errors {dict(self.errors)})"
            ) from None

    def decided_after(self, moment: float) -> list[Sent]:
        """Answers with a decision to bids first sent after ``moment`` (monotonic)."""
        return [
            s for s in self.acknowledged if s.sent_at > moment and s.reply is not None and s.reply.status in DECIDED
        ]

    async def run(self, stop: asyncio.Event, bidders: int = 6) -> None:
        async with grpc.aio.insecure_channel(self.settings.target("bid")) as channel:
            stub = pb_grpc.BidServiceStub(channel)
            await asyncio.gather(*(self._bidder(stub, stop) for _ in range(bidders)))

    async def _bidder(self, stub: pb_grpc.BidServiceStub, stop: asyncio.Event) -> None:
        while not stop.is_set():
            sent = Sent(
                token=random.choice(self.tokens),
                request=pb.PlaceBidRequest(
                    auction_id=random.choice(self.auctions),
                    amount=random.randint(100, 10**6),
                    request_id=uuid.uuid4().hex,
                ),
                sent_at=time.monotonic(),
            )
            self.sent.append(sent)
            reply = await self._until_answered(stub, sent)
            async with self._answered:
                sent.reply, sent.answered_at = reply, time.monotonic()
                self._answered.notify_all()

    async def _until_answered(self, stub: pb_grpc.BidServiceStub, sent: Sent, deadline_s: float = 120) -> pb.Bid:
        give_up = time.monotonic() + deadline_s
        while True:
            sent.attempts += 1
            try:
                return await stub.PlaceBid(sent.request, metadata=bearer(sent.token), timeout=10)
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in RETRYABLE or time.monotonic() > give_up:
                    raise
                self.errors[exc.code().name] += 1
            await asyncio.sleep(0.1)  # a client's retry backoff, not a synchronisation


class Watcher:
    """WatchAuction that reconnects after the stream service (or its NATS) went away, as a
    page does; records every state version it was sent, across connections."""

    def __init__(self, channel: grpc.aio.Channel, auction_id: str) -> None:
        self.auction_id = auction_id
        self._stub = pb_grpc.StreamServiceStub(channel)
        self.versions: list[int] = []
        self.latest: pb.Auction | None = None
        self.connections = 0  # streams that delivered at least the snapshot
        self.failed: grpc.StatusCode | None = None  # a status no client should retry on
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"watch-{self.auction_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                first = True
                async for event in self._stub.WatchAuction(pb.WatchAuctionRequest(auction_id=self.auction_id)):
                    if event.heartbeat:
                        continue
                    if first:
                        self.connections += 1
                        first = False
                    async with self._changed:
                        self.versions.append(event.auction.version)
                        self.latest = event.auction
                        self._changed.notify_all()
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in RETRYABLE:
                    async with self._changed:
                        self.failed = exc.code()
                        self._changed.notify_all()
                    return
            await asyncio.sleep(0.2)  # reconnect backoff

    async def until(self, predicate: Callable[[pb.Auction], bool], timeout: float = 120) -> pb.Auction:
        async def satisfied() -> pb.Auction:
            async with self._changed:
                await self._changed.wait_for(
                    lambda: self.failed is not None or (self.latest is not None and predicate(self.latest))
                )
                assert self.failed is None, f"watcher of {self.auction_id}: the stream ended with {self.failed.name}"
                assert self.latest is not None
                return self.latest

        try:
            return await asyncio.wait_for(satisfied(), timeout)
        except TimeoutError:
            seen = f"version {self.latest.version}, {self.latest.bid_count} bids" if self.latest else "nothing"
            raise AssertionError(
                f"watcher of {self.auction_id}: not satisfied in {timeout} s; last saw {seen}"
            ) from None


T = TypeVar("T")


async def until_available(call: Callable[[], Awaitable[T]], deadline_s: float = 120) -> T:
    """As a client does: a service that answers UNAVAILABLE (its store is reconnecting after a
    fault; the driver backs off between attempts) is asked again, within a deadline."""
    give_up = time.monotonic() + deadline_s
    while True:
        try:
            return await call()
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > give_up:
                raise
        await asyncio.sleep(0.5)  # a client's retry backoff
