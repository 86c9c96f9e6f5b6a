"""One NATS subscription per watched auction, shared by all of this process's watchers.

The worker publishes the full state after every change on ``auction.<id>``; events carry
state, not deltas, so each watcher only ever needs the newest one. So an event is not pushed
to every watcher: the auction's ``Board`` keeps the newest, and each watcher's ``Mailbox``
pulls it when the watcher is ready for its next message. An event costs one store and one
wake-up of the watchers that are waiting; a watcher still busy sending skips to the latest
state when it comes back (conflation), and its memory stays bounded however fast bids land.
Versions a watcher has been sent only go up.

Events are published whole (real bidder ids) and masked here, per watcher (``views``): each
event's public view is made once per board and shared by every watcher it does not concern;
only the few it does (the bidder, the leader, the seller, the buyer) get a view of their own.

Measured (``make bench``, 1,000 watchers on one auction): pushing each event to every mailbox
cost one offer per watcher per event, and with most of them conflated that was nearly all of
stream_svc's CPU; pulling makes an event's cost the deliveries it makes.

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
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from gavel import bus
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.views import Viewer, mask_event, view_for

log = logging.getLogger(__name__)

WATCHERS = Gauge("gavel_stream_watchers", "Open WatchAuction streams in this process")
TOPICS = Gauge("gavel_stream_topics", "Auctions with at least one local watcher (one NATS subscription each)")
EVENTS_IN = Counter("gavel_stream_events_received_total", "State events received from NATS or a refresh", ["source"])


class Tally(Collector):
    """The per-delivery counts, kept as plain integers and exposed as counters when scraped:
    a Prometheus ``Counter.inc`` takes a lock and checks its labels, and once per delivery that
    was 9% of stream_svc's CPU with 1,000 watchers (py-spy, ``make bench``'s fan-out run)."""

    def __init__(self) -> None:
        self.delivered = 0
        self.conflated = 0

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "gavel_stream_events_delivered",
            "Auction events handed to watchers' streams (heartbeats apart)",
            value=self.delivered,
        )
        yield CounterMetricFamily(
            "gavel_stream_events_conflated",
            "Events a watcher never got because a newer one came before it was ready",
            value=self.conflated,
        )


TALLY = Tally()
REGISTRY.register(TALLY)

#: Reads the current state of an auction as a whole event (None when it does not exist).
Snapshot = Callable[[uuid.UUID], Awaitable[pb.AuctionEvent | None]]


class Board:
    """An auction's newest event, whole, with its public view made once, and the mailboxes
    waiting for a newer one."""

    __slots__ = ("_public", "_waiting", "generation", "latest")

    def __init__(self) -> None:
        self.latest: pb.AuctionEvent | None = None
        #: How many events have been posted: a mailbox counts those it never took (conflated).
        self.generation = 0
        self._public: pb.AuctionEvent | None = None
        self._waiting: set[asyncio.Future[None]] = set()

    def post(self, event: pb.AuctionEvent) -> None:
        """Keeps ``event`` if it is newer than the one held, and wakes whoever waits for it."""
        if self.latest is not None and event.auction.version <= self.latest.auction.version:
            return
        self.latest, self._public = event, None
        self.generation += 1
        waiting, self._waiting = self._waiting, set()
        for waiter in waiting:
            _wake(waiter)

    def view(self, viewer: Viewer) -> pb.AuctionEvent:
        """``viewer``'s view of the newest event (the public one shared)."""
        assert self.latest is not None
        if self._public is None:
            self._public = mask_event(self.latest, None)
        return view_for(self.latest, viewer, self._public)

    def wait(self, waiter: asyncio.Future[None]) -> None:
        self._waiting.add(waiter)

    def forget(self, waiter: asyncio.Future[None]) -> None:
        self._waiting.discard(waiter)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Mailbox:
    """What one watcher has not been sent yet: its board's newest event, or one offered to it
    alone (its snapshot, already masked for it), whichever is newer. Never more than one."""

    __slots__ = ("_board", "_own", "_taken_generation", "_waiter", "sent_version", "viewer")

    def __init__(self, viewer: Viewer = None, board: Board | None = None) -> None:
        self.viewer = viewer
        self.sent_version = -1
        self._board = board if board is not None else Board()
        self._taken_generation = self._board.generation
        self._own: pb.AuctionEvent | None = None
        self._waiter: asyncio.Future[None] | None = None

    def offer(self, event: pb.AuctionEvent) -> None:
        """An event for this watcher alone, as it is to see it."""
        version = event.auction.version
        if version <= self.sent_version or (self._own is not None and version <= self._own.auction.version):
            return
        self._own = event
        if self._waiter is not None:
            _wake(self._waiter)

    def _next(self) -> pb.AuctionEvent | None:
        own, self._own = self._own, None
        board = self._board
        shared = board.latest
        if shared is not None and shared.auction.version > max(self.sent_version, own.auction.version if own else -1):
            skipped = board.generation - self._taken_generation - 1
            if skipped > 0:
                TALLY.conflated += skipped
            self._taken_generation = board.generation
            return board.view(self.viewer)
        return own

    async def take(self, timeout: float) -> pb.AuctionEvent | None:
        """The pending event, waiting up to ``timeout`` seconds for one; None if none came."""
        event = self._next()
        if event is None and timeout > 0:
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            self._board.wait(waiter)
            timer = loop.call_later(timeout, _wake, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._board.forget(waiter)
                self._waiter = None
            event = self._next()
        if event is not None:
            self.sent_version = event.auction.version
        return event


class _Topic:
    """One watched auction: its subscription, its board and its watchers."""

    def __init__(self, auction_id: uuid.UUID) -> None:
        self.auction_id = auction_id
        self.board = Board()
        self.watchers = 0
        self.last_event_at = time.monotonic()
        self.subscribed: asyncio.Future[Subscription] = asyncio.get_running_loop().create_future()
        self.refresher: asyncio.Task[None] | None = None

    def dispatch(self, event: pb.AuctionEvent) -> None:
        """``event`` is whole: each watcher takes its own view of it when it is ready."""
        self.last_event_at = time.monotonic()
        self.board.post(event)


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
        mailbox = Mailbox(viewer, topic.board)  # the newest event this process has, at once
        topic.watchers += 1
        WATCHERS.inc()
        try:
            await asyncio.shield(topic.subscribed)
            yield mailbox
        finally:
            WATCHERS.dec()
            topic.watchers -= 1
            if not topic.watchers and self._topics.get(auction_id) is topic:
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
