"""The StreamService servicer: WatchAuction over the process's shared fan-out hub; the
caller's notifications from the notification log (``inbox``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.auction_store import AuctionStore
from gavel.clock import Clock, utcnow
from gavel.errors import NotFound
from gavel.interceptors import require_principal, viewer
from gavel.messages import event_to_pb, parse_id
from gavel.views import mask_event
from stream_svc.fanout import TALLY, Hub, Snapshot
from stream_svc.inbox import Inbox, parse_after
from stream_svc.quota import WatchQuota, client_of

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["StreamService"].full_name
#: Watching an auction is a read, open to anonymous callers; one's notifications are not.
AUTHENTICATED_METHODS = frozenset(f"/{SERVICE_NAME}/{m}" for m in ("WatchMyNotifications", "ListMyNotifications"))
HEARTBEAT = pb.AuctionEvent(heartbeat=True)


def is_final(auction: pb.Auction) -> bool:
    """Nothing about the auction can change any more: cancelled, or closed with no sale to
    follow (no winner) or with its sale settled (paid, or unsold after the last offer)."""
    if auction.status == pb.AUCTION_STATUS_CANCELLED:
        return True
    if not auction.HasField("closed_at"):
        return False
    return not auction.HasField("sale") or auction.sale.status in (pb.SALE_STATUS_PAID, pb.SALE_STATUS_UNSOLD)


def snapshots(store: AuctionStore, clock: Clock = utcnow) -> Snapshot:
    """The current state of an auction as a whole event, read from Cassandra (the hub masks
    it for each watcher, as it does the bus's)."""

    async def read(auction_id: uuid.UUID) -> pb.AuctionEvent | None:
        auction = await store.get(auction_id)
        return None if auction is None else event_to_pb(auction, clock())

    return read


class StreamService(pb_grpc.StreamServiceServicer):
    def __init__(
        self, hub: Hub, snapshot: Snapshot, heartbeat_interval: float, quota: WatchQuota, inbox: Inbox
    ) -> None:
        self._hub = hub
        self._inbox = inbox
        self._snapshot = snapshot
        self._heartbeat_interval = heartbeat_interval
        self._quota = quota

    async def WatchAuction(
        self,
        request: pb.WatchAuctionRequest,
        context: grpc.aio.ServicerContext[pb.WatchAuctionRequest, pb.AuctionEvent],
    ) -> AsyncIterator[pb.AuctionEvent]:
        auction_id = parse_id(request.auction_id, "auction_id")
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        client, is_user = client_of(metadata, context.peer())
        caller = viewer()
        # Subscribed first, read second: a change between the two arrives as an event, and
        # the mailbox keeps whichever of the two is newer.
        with self._quota.hold(client, is_user):
            async with self._hub.watch(auction_id, caller) as mailbox:
                current = await self._snapshot(auction_id)
                if current is None:
                    raise NotFound(f"auction {auction_id} not found")
                mailbox.offer(mask_event(current, caller))
                while True:
                    event = await mailbox.take(self._heartbeat_interval)
                    if event is None:
                        yield HEARTBEAT
                        continue
                    TALLY.delivered += 1
                    yield event
                    if is_final(event.auction):
                        return

    async def WatchMyNotifications(
        self,
        request: pb.WatchMyNotificationsRequest,
        context: grpc.aio.ServicerContext[pb.WatchMyNotificationsRequest, pb.Notification],
    ) -> AsyncIterator[pb.Notification]:
        me = require_principal()
        after = parse_after(request.after)
        with self._quota.hold(f"user:{me.user_id}", True):
            async for notification in self._inbox.follow(me.user_id, after):
                yield notification

    async def ListMyNotifications(
        self,
        request: pb.ListMyNotificationsRequest,
        context: grpc.aio.ServicerContext[pb.ListMyNotificationsRequest, pb.ListMyNotificationsResponse],
    ) -> pb.ListMyNotificationsResponse:
        me = require_principal()
        return await self._inbox.page(me.user_id, request.page_size, request.page_token)
