"""A WatchAuction client for tests: collects a stream's events and lets a test await one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import grpc

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc


class StreamWatch:
    def __init__(self) -> None:
        #: State events in arrival order (heartbeats are counted, not kept).
        self.events: list[pb.AuctionEvent] = []
        self.heartbeats = 0
        #: How the stream ended: None while open, else the status code.
        self.ended: grpc.StatusCode | None = None
        self._changed = asyncio.Condition()

    @property
    def versions(self) -> list[int]:
        return [e.auction.version for e in self.events]

    async def _record(self, event: pb.AuctionEvent | None, ended: grpc.StatusCode | None = None) -> None:
        async with self._changed:
            if event is not None and event.heartbeat:
                self.heartbeats += 1
            elif event is not None:
                self.events.append(event)
            if ended is not None:
                self.ended = ended
            self._changed.notify_all()

    async def until(self, predicate: Callable[[StreamWatch], bool], timeout: float = 60) -> None:
        async def satisfied() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self))

        await asyncio.wait_for(satisfied(), timeout)

    async def until_version(self, version: int, timeout: float = 60) -> None:
        await self.until(lambda w: bool(w.events) and w.events[-1].auction.version >= version, timeout)


@contextlib.asynccontextmanager
async def watch(target: str, auction_id: str, token: str = "") -> AsyncIterator[StreamWatch]:
    """Opens WatchAuction on ``target`` (anonymously, or as the holder of ``token``) and reads
    it in the background until the block ends."""
    recorded = StreamWatch()
    async with grpc.aio.insecure_channel(target) as channel:
        metadata = (("authorization", f"Bearer {token}"),) if token else None
        request = pb.WatchAuctionRequest(auction_id=auction_id)
        call = pb_grpc.StreamServiceStub(channel).WatchAuction(request, metadata=metadata)

        async def read() -> None:
            try:
                async for event in call:
                    await recorded._record(event)
                await recorded._record(None, grpc.StatusCode.OK)
            except grpc.aio.AioRpcError as exc:
                await recorded._record(None, exc.code())

        reader = asyncio.create_task(read())
        try:
            yield recorded
        finally:
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
