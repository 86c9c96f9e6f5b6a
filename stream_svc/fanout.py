"""One NATS subscription per watched auction, shared by all of this process's watchers.

The worker publishes the full state after every change on ``auction.<id>``; events carry
state, not deltas, so each watcher only ever needs the newest one. A watcher therefore holds
one pending event at most (its ``Mailbox``): a slow watcher skips to the latest state
(conflation) and its memory stays bounded however fast bids land. Versions a watcher has
been sent only go up: anything not newer than what it already has is dropped on offer.

Events are published whole (real bidder ids) and masked here, per watcher (``views``): each
event's public view is made once per topic and shared by every watcher it does not concern;
only the few it does (the bidder, the leader, the seller, the buyer) get a view of their own.

Events lost in transit (a worker that died between its Cassandra write and its publish, a
NATS reconnect) are healed three ways: the next change carries the whole state; the worker
re-publishes the current state when it processes a redelivered command; and a topic that
has been quiet for ``refresh_interval`` re-reads the auction from Cassandra (as do all topics
right after a NATS reconnect) and offers that state, which only reaches watchers if newer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from prometheus_client import Counter, Gauge

from gavel import bus
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.views import Viewer, mask_event, view_for

log = logging.getLogger(__name__)

WATCHERS = Gauge("gavel_stream_watchers", "Open WatchAuction streams in this process")
TOPICS = Gauge("gavel_stream_topics", "Auctions with at least one local watcher (one NATS subscription each)")
EVENTS_IN = Counter("gavel_stream_events_received_total", "State events received from NATS or a refresh", ["source"])
DELIVERED = Counter(
    "gavel_stream_events_delivered_total", "Auction events handed to watchers' streams (heartbeats apart)"
)
CONFLATED = Counter(
    "gavel_stream_events_conflated_total", "Events replaced by a newer one before a slow watcher took them"
)

#: Reads the current state of an auction as a whole event (None when it does not exist).
Snapshot = Callable[[uuid.UUID], Awaitable[pb.AuctionEvent | None]]


class Mailbox:
    """What one watcher has not been sent yet: at most the newest event, as its viewer sees it."""

    __slots__ = ("_pending", "_ready", "sent_version", "viewer")

    def __init__(self, viewer: Viewer = None) -> None:
        self.viewer = viewer
        self.sent_version = -1
        self._pending: pb.AuctionEvent | None = None
        self._ready = asyncio.Event()

    def offer(self, event: pb.AuctionEvent) -> None:
        version = event.auction.version
        if version <= self.sent_version:
            return
        if self._pending is not None:
            if version <= self._pending.auction.version:
                return
            CONFLATED.inc()
        self._pending = event
        self._ready.set()

    async def take(self, timeout: float) -> pb.AuctionEvent | None:
        """The pending event, waiting up to ``timeout`` seconds for one; None if none came."""
        if self._pending is None:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        event, self._pending = self._pending, None
        if event is not None:
            self.sent_version = event.auction.version
        return event


class _Topic:
    """One watched auction: its subscription, its watchers, and the newest state seen."""

    def __init__(self, auction_id: uuid.UUID) -> None:
        self.auction_id = auction_id
        self.mailboxes: set[Mailbox] = set()
        self.latest: pb.AuctionEvent | None = None
        self.last_event_at = time.monotonic()
        self.subscribed: asyncio.Future[Subscription] = asyncio.get_running_loop().create_future()
        self.refresher: asyncio.Task[None] | None = None

    def dispatch(self, event: pb.AuctionEvent) -> None:
        """``event`` is whole: each watcher is offered its own view of it."""
        self.last_event_at = time.monotonic()
        if self.latest is None or event.auction.version > self.latest.auction.version:
            self.latest = event
        public = mask_event(event, None)
        for mailbox in self.mailboxes:
            mailbox.offer(view_for(event, mailbox.viewer, public))


class Hub:
    def __init__(self, nc: Client, snapshot: Snapshot, refresh_interval: float) -> None:
        self._nc = nc
        self._snapshot = snapshot
        self._refresh_interval = refresh_interval
        self._topics: dict[uuid.UUID, _Topic] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def watch(self, auction_id: uuid.UUID, viewer: Viewer = None) -> AsyncIterator[Mailbox]:
        """A mailbox that receives ``viewer``'s view of every event published from the moment
        this is entered (the subscription is confirmed by the server first), so a snapshot
        read afterwards misses nothing. The newest event this process already has is offered
        at once."""
        topic = self._topics.get(auction_id)
        if topic is None:
            topic = self._topics[auction_id] = _Topic(auction_id)
            TOPICS.set(len(self._topics))
            self._spawn(self._subscribe(topic))
        mailbox = Mailbox(viewer)
        topic.mailboxes.add(mailbox)
        WATCHERS.inc()
        try:
            await asyncio.shield(topic.subscribed)
            if topic.latest is not None:
                mailbox.offer(mask_event(topic.latest, viewer))
            yield mailbox
        finally:
            WATCHERS.dec()
            topic.mailboxes.discard(mailbox)
            if not topic.mailboxes and self._topics.get(auction_id) is topic:
                del self._topics[auction_id]
                TOPICS.set(len(self._topics))
                self._spawn(self._unsubscribe(topic))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Keeps a reference until done (the loop only holds tasks weakly)."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def refresh_all(self) -> None:
        """After a NATS reconnect: events published while we were away are gone; re-read."""
        await asyncio.gather(*(self._refresh(t) for t in list(self._topics.values())), return_exceptions=True)

    async def _subscribe(self, topic: _Topic) -> None:
        async def on_message(msg: Msg) -> None:
            try:
                event = pb.AuctionEvent.FromString(msg.data)
            except Exception:
                log.warning("undecodable event on %s", msg.subject)
                return
            EVENTS_IN.labels("nats").inc()
            topic.dispatch(event)

        try:
            subscription = await self._nc.subscribe(bus.auction_subject(topic.auction_id), cb=on_message)
            # The server has the subscription once it answers a PING sent after it.
            await self._nc.flush()
        except Exception as exc:
            topic.subscribed.set_exception(exc)
            self._topics.pop(topic.auction_id, None)
            return
        topic.subscribed.set_result(subscription)
        topic.refresher = asyncio.create_task(self._refresh_when_quiet(topic))

    async def _unsubscribe(self, topic: _Topic) -> None:
        if topic.refresher is not None:
            topic.refresher.cancel()
        if topic.subscribed.done() and topic.subscribed.exception() is None:
            with contextlib.suppress(Exception):
                await topic.subscribed.result().unsubscribe()

    async def _refresh_when_quiet(self, topic: _Topic) -> None:
        while True:
            quiet_for = time.monotonic() - topic.last_event_at
            await asyncio.sleep(max(self._refresh_interval - quiet_for, 0.1))
            if time.monotonic() - topic.last_event_at >= self._refresh_interval:
                await self._refresh(topic)

    async def _refresh(self, topic: _Topic) -> None:
        try:
            event = await self._snapshot(topic.auction_id)
        except Exception as exc:
            log.warning("refresh of auction %s failed: %s", topic.auction_id, exc)
            topic.last_event_at = time.monotonic()
            return
        if event is not None:
            EVENTS_IN.labels("refresh").inc()
            topic.dispatch(event)
