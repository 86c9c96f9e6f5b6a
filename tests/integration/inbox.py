"""A WatchMyNotifications client for tests: collects a user's notifications as they come and
lets a test await one; and the user's kept history, whole."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import grpc

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from tests.integration.bidding import bearer


class Followed:
    def __init__(self) -> None:
        self.notifications: list[pb.Notification] = []
        self.heartbeats = 0
        self.ended: grpc.StatusCode | None = None
        self._changed = asyncio.Condition()

    @property
    def ids(self) -> list[str]:
        return [n.notification_id for n in self.notifications]

    async def _record(self, item: pb.Notification | None, ended: grpc.StatusCode | None = None) -> None:
        async with self._changed:
            if item is not None and item.heartbeat:
                self.heartbeats += 1
            elif item is not None:
                self.notifications.append(item)
            if ended is not None:
                self.ended = ended
            self._changed.notify_all()

    async def until(self, predicate: Callable[[Followed], bool], timeout: float = 60) -> None:
        async def satisfied() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self))

        await asyncio.wait_for(satisfied(), timeout)

    async def until_count(self, n: int, timeout: float = 60) -> None:
        await self.until(lambda f: len(f.notifications) >= n, timeout)


@contextlib.asynccontextmanager
async def follow(target: str, token: str, after: str = "") -> AsyncIterator[Followed]:
    """WatchMyNotifications as the holder of ``token``, read in the background; the stream
    is open (the server has its consumer) once the first heartbeat or notification came, so a
    test that needs it live first awaits ``opened``."""
    followed = Followed()
    async with grpc.aio.insecure_channel(target) as channel:
        call = pb_grpc.StreamServiceStub(channel).WatchMyNotifications(
            pb.WatchMyNotificationsRequest(after=after), metadata=bearer(token)
        )

        async def read() -> None:
            try:
                async for item in call:
                    await followed._record(item)
                await followed._record(None, grpc.StatusCode.OK)
            except grpc.aio.AioRpcError as exc:
                await followed._record(None, exc.code())

        reader = asyncio.create_task(read())
        try:
            yield followed
        finally:
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def kept(target: str, token: str, page_size: int = 0) -> list[pb.Notification]:
    """The user's whole kept history, newest first, page by page."""
    found: list[pb.Notification] = []
    page_token = ""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.StreamServiceStub(channel)
        while True:
            page = await stub.ListMyNotifications(
                pb.ListMyNotificationsRequest(page_size=page_size, page_token=page_token), metadata=bearer(token)
            )
            found += page.notifications
            page_token = page.next_page_token
            if not page_token:
                return found
