"""One log partition's consumption: its consumer, the fetch loop, lanes, acks, and stopping.

A partition knows nothing of leases or of Cassandra. Its owner (``ownership.Worker``) starts
and stops it and hands it a ``GroupDecider`` (``decider.Decider``: load, fold, commit,
announce, ack, dead letters) and an ``OnFailure`` callback for a group the decider raised on.
So a partition never calls back into its owner, and it is tested without one.

Taking a partition recreates its durable consumer at the first command the previous owner
had not acknowledged (never below where that consumer began: ``resume_point``), so every
unacknowledged command is delivered again, in log order, before anything newer, and nothing
older is replayed.

Consumer settings, on purpose:
- explicit acks, sent only after Cassandra has the outcome and the event is published;
- ``ack_wait`` 30 s, far above a decision's p99 (milliseconds); a lane busy retrying
  Cassandra signals progress (``in_progress``) so its commands are not redelivered meanwhile;
- ``max_deliver`` 20: a command that keeps killing its worker stops being redelivered;
  commands that cannot be decided (not a command, unknown auction) go to the dead-letter
  stream ``BIDS_DLQ`` (``dlq.bids.<p>``) with the reason in a header, and are terminated;
- ``max_ack_pending`` 4096 per partition bounds memory; when it is reached fetches return
  nothing, which ``gavel_bid_partition_inflight`` shows (a stall is visible, not silent).

Lag. ``gavel_bid_partition_pending{partition}`` is what the partition has not decided yet:
the commands JetStream still holds for its consumer (``num_pending`` of the last one
fetched) plus those fetched and not yet decided. The fetch loop takes whatever is there, so
a backlog moves from the first into the second (up to ``max_ack_pending``); either alone
would read near zero while the worker falls behind. Set once per fetch (per batch, or per
empty poll), and removed when the partition stops, so only its owner reports it; the
bid-worker HPA scales on its sum (k8s/README.md).

Order. Within a partition, commands are routed to one lane per auction; a lane decides its
queue in order, many commands per compare-and-set (group commit), one compare-and-set in
flight per auction. Different auctions' lanes run concurrently, so a slow auction does not
hold up the rest of its partition.

Stopping. A stopped partition is never started again: a restart builds a new ``Partition``,
so a task that outlives its cancellation cannot come back to life, and every loop checks
``stopped``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import nats.errors
from cachetools import LRUCache
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue
from prometheus_client import Gauge
from pydantic import ValidationError

from gavel import bus, commands
from gavel.domain.auction import Auction

log = logging.getLogger(__name__)

ACK_WAIT_S = 30.0
MAX_DELIVER = 20
MAX_ACK_PENDING = 4096
FETCH_BATCH = 512
#: How long one pull waits for a first command. A pull request lives on the server: when NATS
#: restarts it is gone, and the fetch waits out this poll before asking again. Measured (fault
#: test: a new bid decided after kill -9 of NATS; an idle bid_svc holding all 64 partitions):
#: 5 s: 5.0 s, 12.0 ms CPU per s; 2 s: 1.8 s, 14.3 ms; 1 s: 1.0 s, 25.3 ms.
FETCH_POLL_S = 2.0
#: Bids per compare-and-set: big enough to drain a hot auction, small enough for one batch.
MAX_GROUP = 64
KNOWN_AUCTIONS = 10_000
#: How long a stopping partition waits for its cancelled tasks.
STOP_WAIT_S = 2.0

INFLIGHT = Gauge("gavel_bid_partition_inflight", "Commands fetched and not yet acknowledged.")
PENDING = Gauge(
    "gavel_bid_partition_pending",
    "Commands of the partition not yet decided: left in the log for its consumer, and fetched but undecided.",
    ["partition"],
)

#: A fetched command with the message that acknowledges it.
Queued = tuple[Msg, commands.AnyCommand]
#: One auction's commands, in log order, decided together (one compare-and-set).
Group = list[Queued]


@dataclass
class Lane:
    """One auction's queue within a partition. ``auction`` and ``conflicted`` are the
    decider's: what it knows of the auction between groups."""

    auction_id: uuid.UUID
    queue: deque[Queued] = field(default_factory=deque)
    auction: Auction | None = None  # known state after our own last write; None: read it
    conflicted: bool = False  # the last compare-and-set was lost or unknown
    task: asyncio.Task[None] | None = None


class GroupDecider(Protocol):
    async def decide(self, number: int, lane: Lane, group: Group) -> None:
        """Decides, records, announces and acknowledges ``group`` (retrying what is transient);
        raises only on a bug, which the partition hands to its ``OnFailure``."""

    async def dead_letter(self, number: int, msg: Msg, reason: str) -> None:
        """Sends a command nobody can decide to the dead-letter stream and terminates it."""


#: Called with a group the decider raised on, and the error: the owner restarts the partition.
OnFailure = Callable[[int, Group, Exception], Awaitable[None]]


async def resume_point(js: JetStreamContext, points: KeyValue, number: int, durable: str) -> int:
    """Where a taken partition's new consumer starts: the first command its last consumer had
    not acknowledged, and never below where that consumer itself began.

    A consumer that has acknowledged nothing since it was created reports an ack floor of 0,
    not its start; resuming at "floor + 1" then replayed the partition's whole log on every
    takeover of a quiet partition (79k of 100k commands after one restart, measured). The
    start is also recorded in ``points`` before the old consumer is deleted, so a worker
    that dies between the delete and the create leaves the next owner the same start, not
    the beginning of the log. Commands acknowledged out of order behind the first
    unacknowledged one come round again and find their recorded outcomes (idempotent).

    The record names the stream it was taken from (its creation time): a log that was
    deleted and created again numbers its commands from 1, and a start carried over from the
    old one would skip every command below it, never to be decided. A record for another
    stream, or one that does not parse, is ignored (and said so)."""
    stream = await js.stream_info(bus.BIDS_STREAM)
    log_id = stream.created.isoformat() if stream.created else ""
    recorded = await _recorded_start(points, number, log_id)
    try:
        info = await js.consumer_info(bus.BIDS_STREAM, durable)
    except NotFoundError:
        info = None
    start = recorded
    if info is not None:
        floor = info.ack_floor.stream_seq if info.ack_floor else 0
        start = max(start, floor + 1, info.config.opt_start_seq or 1)
    if start > recorded:
        await points.put(str(number), json.dumps({"log": log_id, "start": start}).encode())
    if info is not None:
        await js.delete_consumer(bus.BIDS_STREAM, durable)
    return start


async def _recorded_start(points: KeyValue, number: int, log_id: str) -> int:
    try:
        entry = await points.get(str(number))
    except KeyNotFoundError:
        return 1
    try:
        record = json.loads(entry.value or b"")
        start = int(record["start"])
        written_for = str(record["log"])
    except (ValueError, KeyError, TypeError):
        log.warning("partition %d: ignoring a resume record that does not parse: %r", number, entry.value)
        return 1
    if written_for != log_id:
        log.warning(
            "partition %d: the bid log was created again since the resume record (%s, now %s):"
            " starting from its beginning",
            number,
            written_for,
            log_id,
        )
        return 1
    return max(start, 1)


class Partition:
    def __init__(
        self, number: int, js: JetStreamContext, resume_points: KeyValue, decider: GroupDecider, on_failure: OnFailure
    ) -> None:
        self.number = number
        self._js = js
        self._resume_points = resume_points
        self._decider = decider
        self._on_failure = on_failure
        self.durable = f"worker-p{number}"
        self.lanes: dict[uuid.UUID, Lane] = {}
        # The state each auction had after our last write to it: the next command for it
        # skips the SERIAL read. Only this owner writes these auctions, and a stale entry is
        # caught by the compare-and-set anyway (then re-read).
        self.known: LRUCache[uuid.UUID, Auction] = LRUCache(maxsize=KNOWN_AUCTIONS)
        self.fetcher: asyncio.Task[None] | None = None
        self.pending = 0  # fetched, not yet decided
        self.undelivered = 0  # left in the log for this consumer, as of the last fetch
        self.subscription: JetStreamContext.PullSubscription | None = None
        # Set once, by ``stop``; a stopped partition is never started again (a restart builds a
        # new one), so a task that outlives its cancellation cannot come back to life.
        self.stopped = False

    @property
    def running(self) -> bool:
        """False once the fetcher has ended (a NATS error, a bug): the lease round restarts it."""
        return not self.stopped and self.fetcher is not None and not self.fetcher.done()

    @property
    def ending(self) -> str:
        """How the fetcher ended, for the log line of a restart."""
        task = self.fetcher
        if task is None:
            return "never started"
        if not task.done():
            return "stopping"
        if task.cancelled():
            return "cancelled"
        return repr(task.exception())

    async def start(self) -> None:
        js = self._js
        config = ConsumerConfig(
            durable_name=self.durable,
            filter_subject=bus.bid_subject(self.number),
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT_S,
            max_deliver=MAX_DELIVER,
            max_ack_pending=MAX_ACK_PENDING,
            deliver_policy=DeliverPolicy.ALL,
        )
        start = await resume_point(js, self._resume_points, self.number, self.durable)
        if start > 1:
            config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = start
        await js.add_consumer(bus.BIDS_STREAM, config)
        self.subscription = await js.pull_subscribe_bind(durable=self.durable, stream=bus.BIDS_STREAM)
        self.fetcher = asyncio.create_task(self._fetch(self.subscription), name=f"fetch-p{self.number}")

    async def stop(self) -> None:
        """Stops at once; whatever is unacknowledged is redelivered to the next owner.

        Cancellation alone is not trusted to end the tasks: Python 3.11's ``wait_for`` (inside
        nats-py's fetch, among others) drops a cancellation that lands as its inner future
        completes, and a fetch loop that swallowed one would keep this wait, and with it the
        lease round, hanging for ever. So the loops also check ``stopped``, and the wait is
        bounded: a straggler ends at its next check and has nothing left to take."""
        self.stopped = True
        tasks = [t for t in [self.fetcher, *(lane.task for lane in self.lanes.values())] if t]
        INFLIGHT.dec(sum(len(lane.queue) for lane in self.lanes.values()))
        for lane in self.lanes.values():
            lane.queue.clear()
        self.lanes.clear()
        self.pending = 0
        for task in tasks:
            task.cancel()
        if tasks:
            _, stragglers = await asyncio.wait(tasks, timeout=STOP_WAIT_S)
            if stragglers:
                log.warning("partition %d: %d tasks outlived their cancellation", self.number, len(stragglers))
        PENDING.remove(str(self.number))  # the next owner reports it
        if self.subscription is not None:
            # Left subscribed, messages still in flight to it would hold the connection's drain.
            with contextlib.suppress(nats.errors.Error):
                await self.subscription.unsubscribe()

    async def _fetch(self, subscription: JetStreamContext.PullSubscription) -> None:
        """Waits for the first command (a long poll that returns the moment one arrives), then
        takes whatever else is already there. A single big fetch would hold a sparse
        partition's first command until the batch filled or the poll expired. The second pull
        is made only when the first command says more are pending: on a sparse partition it
        would only time out (two pull requests and a 5 ms timer per command, for nothing)."""
        while not self.stopped:
            try:
                messages = await subscription.fetch(1, timeout=FETCH_POLL_S)
            except TimeoutError:
                # Nothing came: the log holds nothing more for us, unless the server is
                # holding it back because max_ack_pending is reached (then it is as last seen).
                if self.pending < MAX_ACK_PENDING:
                    self.undelivered = 0
                self._report_pending()
                continue
            pending = messages[-1].metadata.num_pending if messages else 0
            if pending:
                try:
                    messages += await subscription.fetch(min(pending, FETCH_BATCH), timeout=0.005)
                except TimeoutError:
                    pass
            if self.stopped:
                return  # unacknowledged: the next owner gets them
            for msg in messages:
                await self._route(msg)
            if messages:
                self.undelivered = messages[-1].metadata.num_pending
            self._report_pending()

    def _report_pending(self) -> None:
        """The partition's lag, once per fetch; a stopped partition reports nothing (its
        series is gone, and a straggler must not bring it back beside the new owner's)."""
        if not self.stopped:
            PENDING.labels(str(self.number)).set(self.undelivered + self.pending)

    async def _route(self, msg: Msg) -> None:
        try:
            command = commands.decode(msg.data)
        except (ValidationError, ValueError) as exc:
            await self._decider.dead_letter(self.number, msg, f"not a command: {exc}")
            return
        lane = self.lanes.get(command.auction_id)
        if lane is None:
            lane = self.lanes[command.auction_id] = Lane(command.auction_id, auction=self.known.get(command.auction_id))
        lane.queue.append((msg, command))
        INFLIGHT.inc()
        self.pending += 1
        if self.pending == MAX_ACK_PENDING:
            log.warning(
                "partition %d has %d commands in flight (max_ack_pending): fetching pauses until decisions catch up",
                self.number,
                self.pending,
            )
        if lane.task is None:
            lane.task = asyncio.create_task(self._drain(lane), name=f"lane-{command.auction_id}")

    async def _drain(self, lane: Lane) -> None:
        try:
            while lane.queue and not self.stopped:
                group = [lane.queue.popleft() for _ in range(min(MAX_GROUP, len(lane.queue)))]
                try:
                    await self._decider.decide(self.number, lane, group)
                except Exception as exc:  # not transient (those are retried inside): a bug
                    log.exception("deciding failed on auction %s", lane.auction_id)
                    await self._on_failure(self.number, group, exc)
                    return
                finally:
                    INFLIGHT.dec(len(group))
                    self.pending -= len(group)
        finally:
            lane.task = None
            if not lane.queue:
                self.lanes.pop(lane.auction_id, None)
                if lane.auction is not None:
                    self.known[lane.auction_id] = lane.auction
