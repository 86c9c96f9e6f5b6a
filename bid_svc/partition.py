"""One log partition's consumption: its consumer, delivery, lanes, acks, and stopping.

A partition knows nothing of leases or of Cassandra. Its owner (``ownership.Worker``) starts
and stops it and hands it a ``GroupDecider`` (``decider.Decider``: load, fold, commit,
announce, ack, dead letters) and an ``OnFailure`` callback for a group the decider raised on.
So a partition never calls back into its owner, and it is tested without one.

Taking a partition recreates its durable consumer at the first command the previous owner
had not acknowledged (never below where that consumer began: ``resume_point``), so every
unacknowledged command is delivered again, in log order, before anything newer, and nothing
older is replayed.

Delivery: the consumer pushes commands to the partition's own inbox as they are appended
(a durable push consumer, bound to that inbox). It was a pull consumer, and each pull was a
request message that the server parsed and queued: a pull per command on a partition that
is not backlogged, more than one NATS message in five of a bid's and a timer and a task in
the worker for each (``make profile``). Pushed, a command costs its delivery alone, and an
idle partition costs nothing. Acknowledgements bound what is in flight, as they did:
``max_ack_pending`` is the window, so no flow control is asked for (nats-py answers it only
for ordered consumers, and a push it did not answer would stall).

Consumer settings, on purpose:
- explicit acks, sent only after Cassandra has the outcome and the event is published;
- ``ack_wait`` 30 s, far above a decision's p99 (milliseconds); a lane busy retrying
  Cassandra signals progress (``in_progress``) so its commands are not redelivered meanwhile;
- ``max_deliver`` 20: a command that keeps killing its worker stops being redelivered;
  commands that cannot be decided (not a command, unknown auction) go to the dead-letter
  stream ``BIDS_DLQ`` (``dlq.bids.<p>``) with the reason in a header, and are terminated;
- ``max_ack_pending`` 4096 per partition bounds memory; when it is reached the server holds
  back the rest, which ``gavel_bid_partition_inflight`` shows (a stall is visible, not silent).

Lag. ``gavel_bid_partition_pending{partition}`` is what the partition has not decided yet:
the commands JetStream still holds for its consumer (``num_pending`` carried by the last one
delivered) plus those delivered and not yet decided. The server pushes whatever is there, so
a backlog moves from the first into the second (up to ``max_ack_pending``); either alone
would read near zero while the worker falls behind. Set as commands arrive and as groups
are decided, and removed when the partition stops, so only its owner reports it; the
bid-worker HPA scales on its sum (k8s/README.md).

Order. Within a partition, commands are routed to one lane per auction; a lane decides its
queue in order, many commands per compare-and-set (group commit), one compare-and-set in
flight per auction. Different auctions' lanes run concurrently, so a slow auction does not
hold up the rest of its partition.

Stopping. A stopped partition is never started again: a restart builds a new ``Partition``,
so a task that outlives its cancellation cannot come back to life, and every loop checks
``stopped``. A partition whose delivery failed (``failed``: a command it could not route or
dead-letter, NATS refusing) reports itself not ``running``, and its owner restarts it from
the consumer's ack floor.
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
#: Commands the partition's inbox may hold before nats-py drops them (as a slow consumer): above
#: what the server may push unacknowledged, so it never does.
INBOX_LIMIT = 2 * 4096
#: Bids per compare-and-set: big enough to drain a hot auction, small enough for one batch.
MAX_GROUP = 64
KNOWN_AUCTIONS = 10_000
#: How long a stopping partition waits for its cancelled tasks.
STOP_WAIT_S = 2.0

INFLIGHT = Gauge("gavel_bid_partition_inflight", "Commands delivered and not yet acknowledged.")
PENDING = Gauge(
    "gavel_bid_partition_pending",
    "Commands of the partition not yet decided: left in the log for its consumer, and delivered but undecided.",
    ["partition"],
)

#: A delivered command with the message that acknowledges it.
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
        self.durable = bus.worker_durable(number)
        self.lanes: dict[uuid.UUID, Lane] = {}
        # The state each auction had after our last write to it: the next command for it
        # skips the SERIAL read. Only this owner writes these auctions, and a stale entry is
        # caught by the compare-and-set anyway (then re-read).
        self.known: LRUCache[uuid.UUID, Auction] = LRUCache(maxsize=KNOWN_AUCTIONS)
        self.pending = 0  # delivered, not yet decided
        self.undelivered = 0  # left in the log for this consumer, as of the last delivery
        self.subscription: JetStreamContext.PushSubscription | None = None
        #: Why delivery stopped (a command that could not be routed): the owner restarts it.
        self.failed: BaseException | None = None
        # Set once, by ``stop``; a stopped partition is never started again (a restart builds a
        # new one), so a task that outlives its cancellation cannot come back to life.
        self.stopped = False

    @property
    def running(self) -> bool:
        """False once delivery has failed (a NATS error, a bug): the lease round restarts it."""
        return not self.stopped and self.subscription is not None and self.failed is None

    @property
    def ending(self) -> str:
        """Why delivery stopped, for the log line of a restart."""
        if self.subscription is None:
            return "never started"
        if self.failed is not None:
            return repr(self.failed)
        return "stopping"

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
            deliver_subject=f"_INBOX.worker-p{self.number}.{uuid.uuid4().hex}",
        )
        start = await resume_point(js, self._resume_points, self.number, self.durable)
        if start > 1:
            config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = start
        await js.add_consumer(bus.BIDS_STREAM, config)
        self.subscription = await js.subscribe_bind(
            bus.BIDS_STREAM,
            config,
            self.durable,
            cb=self._deliver,
            manual_ack=True,
            pending_msgs_limit=INBOX_LIMIT,
        )

    async def stop(self) -> None:
        """Stops at once; whatever is unacknowledged is redelivered to the next owner.

        Cancellation alone is not trusted to end the tasks: Python 3.11's ``wait_for`` (inside
        nats-py, among others) drops a cancellation that lands as its inner future completes,
        and a lane that swallowed one would keep this wait, and with it the lease round,
        hanging for ever. So the loops also check ``stopped``, and the wait is bounded: a
        straggler ends at its next check and has nothing left to take."""
        self.stopped = True
        tasks = [t for t in (lane.task for lane in self.lanes.values()) if t]
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

    async def _deliver(self, msg: Msg) -> None:
        """Each command as the server pushes it, in log order (nats-py awaits one at a time).
        An error here would be only logged by nats-py and the command left to ack_wait, so
        it marks the partition failed instead, and its owner restarts it."""
        if self.stopped or self.failed is not None:
            return  # unacknowledged: the next owner (or the restart) gets it
        try:
            await self._route(msg)
        except Exception as exc:
            log.exception("partition %d: a command could not be routed", self.number)
            self.failed = exc
            return
        self.undelivered = msg.metadata.num_pending
        self._report_pending()

    def _report_pending(self) -> None:
        """The partition's lag; a stopped partition reports nothing (its series is gone, and
        a straggler must not bring it back beside the new owner's)."""
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
                "partition %d has %d commands in flight (max_ack_pending): delivery pauses until decisions catch up",
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
                    self._report_pending()
        finally:
            lane.task = None
            if not lane.queue:
                self.lanes.pop(lane.auction_id, None)
                if lane.auction is not None:
                    self.known[lane.auction_id] = lane.auction
