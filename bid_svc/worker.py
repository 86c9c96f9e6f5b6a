"""Bid workers: own log partitions, decide each auction's commands in log order, group-commit.

Ownership. Each partition ``bids.<p>`` has a lease in the NATS KV bucket ``bid_leases``; a
worker renews what it holds every ``lease_ttl / 4`` and takes free partitions up to its fair
share (P / live workers, from the ``bid_workers`` bucket). Taking a partition recreates its
durable consumer at the first command the previous owner had not acknowledged (never below
where that consumer began: ``resume_point``), so every unacknowledged command is delivered
again, in log order, before anything newer, and nothing older is replayed. A partition whose
fetcher has ended (a NATS error) is restarted the same way by the next lease round.

Consumer settings, on purpose:
- explicit acks, sent only after Cassandra has the outcome and the event is published;
- ``ack_wait`` 30 s, far above a decision's p99 (milliseconds); a lane busy retrying
  Cassandra signals progress (``in_progress``) so its commands are not redelivered meanwhile;
- ``max_deliver`` 20: a command that keeps killing its worker stops being redelivered;
  commands that cannot be decided (not a command, unknown auction) go to the dead-letter
  stream ``BIDS_DLQ`` (``dlq.bids.<p>``) with the reason in a header, and are terminated;
- ``max_ack_pending`` 4096 per partition bounds memory; when it is reached fetches return
  nothing, which ``gavel_bid_partition_inflight`` shows (a stall is visible, not silent).

Order. Within a partition, commands are routed to one lane per auction; a lane decides its
queue in order, many commands per compare-and-set (group commit), one compare-and-set in
flight per auction. Different auctions' lanes run concurrently, so a slow auction does not
hold up the rest of its partition.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import random
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

import nats.errors
from cassandra import OperationTimedOut, RequestExecutionException
from cassandra.cluster import NoHostAvailable
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import KeyNotFoundError, NoKeysError, NotFoundError
from nats.js.kv import KeyValue
from prometheus_client import Counter, Gauge, Histogram
from cachetools import LRUCache
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from bid_svc.ledger import Ledger
from gavel import bus, commands
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.clock import Clock, utcnow
from gavel.domain.auction import Auction
from gavel.domain.bidding import BidOutcome, Closed, decide_all
from gavel.lease import Leases, bucket
from gavel.messages import auction_to_pb, outcome_to_pb
from gavel.settings import Settings

log = logging.getLogger(__name__)

ACK_WAIT_S = 30.0
MAX_DELIVER = 20
MAX_ACK_PENDING = 4096
FETCH_BATCH = 512
#: Bids per compare-and-set: big enough to drain a hot auction, small enough for one batch.
MAX_GROUP = 64
KNOWN_AUCTIONS = 10_000
MAX_FAILURES = 3
#: How long a stopping partition waits for its cancelled tasks.
STOP_WAIT_S = 2.0

DECISIONS = Counter("gavel_bid_decisions_total", "Decided commands.", ["outcome"])
GROUP_SIZE = Histogram("gavel_bid_group_size", "Commands decided per compare-and-set.",
                       buckets=(1, 2, 4, 8, 16, 32, 64))
CAS_CONFLICTS = Counter("gavel_bid_cas_conflicts_total", "Compare-and-sets lost or unknown (re-read).")
DEAD_LETTERS = Counter("gavel_bid_dead_letters_total", "Commands sent to the dead-letter stream.", ["reason"])
OWNED = Gauge("gavel_bid_partitions_owned", "Log partitions this worker owns.")
INFLIGHT = Gauge("gavel_bid_partition_inflight", "Commands fetched and not yet acknowledged.")


def _ending(task: asyncio.Task[None] | None) -> str:
    if task is None:
        return "never started"
    if not task.done():
        return "stopping"
    if task.cancelled():
        return "cancelled"
    return repr(task.exception())


class _Conflict(Exception):
    """The compare-and-set did not apply (or its outcome is unknown): re-read and decide again."""


#: Retried with backoff: a lost race, Cassandra or NATS unavailable. Anything else is a bug
#: and surfaces (the partition restarts from its ack floor; see ``failed``).
TRANSIENT = (_Conflict, RequestExecutionException, OperationTimedOut, NoHostAvailable, nats.errors.Error, OSError)


@dataclass
class _Lane:
    auction_id: uuid.UUID
    queue: deque[tuple[Msg, commands.PlaceBidCommand | commands.CloseAuctionCommand]] = field(default_factory=deque)
    auction: Auction | None = None  # known state after our own last write; None: read it
    conflicted: bool = False  # the last compare-and-set was lost or unknown
    task: asyncio.Task[None] | None = None


async def resume_point(js: JetStreamContext, points: KeyValue, number: int, durable: str) -> int:
    """Where a taken partition's new consumer starts: the first command its last consumer had
    not acknowledged, and never below where that consumer itself began.

    A consumer that has acknowledged nothing since it was created reports an ack floor of 0,
    not its start; resuming at "floor + 1" then replayed the partition's whole log on every
    takeover of a quiet partition (79k of 100k commands after one restart, measured). The
    start is also recorded in ``points`` before the old consumer is deleted, so a worker
    that dies between the delete and the create leaves the next owner the same start, not
    the beginning of the log. Commands acknowledged out of order behind the first
    unacknowledged one come round again and find their recorded outcomes (idempotent)."""
    try:
        entry = await points.get(str(number))
        recorded = int(entry.value or b"1")
    except KeyNotFoundError:
        recorded = 1
    try:
        info = await js.consumer_info(bus.BIDS_STREAM, durable)
    except NotFoundError:
        info = None
    start = recorded
    if info is not None:
        start = max(start, info.ack_floor.stream_seq + 1, info.config.opt_start_seq or 1)
    if start > recorded:
        await points.put(str(number), str(start).encode())
    if info is not None:
        await js.delete_consumer(bus.BIDS_STREAM, durable)
    return start


class _Partition:
    def __init__(self, worker: Worker, number: int) -> None:
        self.worker = worker
        self.number = number
        self.durable = f"worker-p{number}"
        self.lanes: dict[uuid.UUID, _Lane] = {}
        # The state each auction had after our last write to it: the next command for it
        # skips the SERIAL read. Only this owner writes these auctions, and a stale entry is
        # caught by the compare-and-set anyway (then re-read).
        self.known: LRUCache[uuid.UUID, Auction] = LRUCache(maxsize=KNOWN_AUCTIONS)
        self.fetcher: asyncio.Task[None] | None = None
        self.pending = 0  # fetched, not yet decided
        self.subscription: JetStreamContext.PullSubscription | None = None
        # Set once, by ``stop``; a stopped partition is never started again (a restart builds a
        # new one), so a task that outlives its cancellation cannot come back to life.
        self.stopped = False

    @property
    def running(self) -> bool:
        """False once the fetcher has ended (a NATS error, a bug): the lease round restarts it."""
        return not self.stopped and self.fetcher is not None and not self.fetcher.done()

    async def start(self) -> None:
        js = self.worker.js
        config = ConsumerConfig(
            durable_name=self.durable,
            filter_subject=bus.bid_subject(self.number),
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT_S,
            max_deliver=MAX_DELIVER,
            max_ack_pending=MAX_ACK_PENDING,
            deliver_policy=DeliverPolicy.ALL,
        )
        start = await resume_point(js, self.worker.resume_points, self.number, self.durable)
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
                messages = await subscription.fetch(1, timeout=5.0)
            except asyncio.TimeoutError:
                continue
            pending = messages[-1].metadata.num_pending if messages else 0
            if pending:
                try:
                    messages += await subscription.fetch(min(pending, FETCH_BATCH), timeout=0.005)
                except asyncio.TimeoutError:
                    pass
            if self.stopped:
                return  # unacknowledged: the next owner gets them
            for msg in messages:
                await self._route(msg)

    async def _route(self, msg: Msg) -> None:
        try:
            command = commands.decode(msg.data)
        except (ValidationError, ValueError) as exc:
            await self.worker.dead_letter(self.number, msg, f"not a command: {exc}")
            return
        lane = self.lanes.get(command.auction_id)
        if lane is None:
            lane = self.lanes[command.auction_id] = _Lane(command.auction_id, auction=self.known.get(command.auction_id))
        lane.queue.append((msg, command))
        INFLIGHT.inc()
        self.pending += 1
        if self.pending == MAX_ACK_PENDING:
            log.warning("partition %d has %d commands in flight (max_ack_pending): fetching pauses until"
                        " decisions catch up", self.number, self.pending)
        if lane.task is None:
            lane.task = asyncio.create_task(self._drain(lane), name=f"lane-{command.auction_id}")

    async def _drain(self, lane: _Lane) -> None:
        try:
            while lane.queue and not self.stopped:
                group = [lane.queue.popleft() for _ in range(min(MAX_GROUP, len(lane.queue)))]
                try:
                    await self.worker.decide(self.number, lane, group)
                except Exception as exc:  # not transient (those are retried inside): a bug
                    log.exception("deciding failed on auction %s", lane.auction_id)
                    await self.worker.failed(self.number, group, exc)
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


class Worker:
    def __init__(self, settings: Settings, nc: Client, js: JetStreamContext, ledger: Ledger,
                 clock: Clock = utcnow) -> None:
        self.settings = settings
        self.nc = nc
        self.js = js
        self.ledger = ledger
        self.clock = clock
        self.worker_id = settings.worker_id or uuid.uuid4().hex
        self._partitions: dict[int, _Partition] = {}
        self._failures: collections.Counter[int] = collections.Counter()  # by stream sequence
        self._background: set[asyncio.Task[None]] = set()
        self._restarting: set[int] = set()
        self._leases: Leases | None = None  # set by run
        self.resume_points: KeyValue  # set by run: where each partition's next consumer starts

    # --- ownership --------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        leases = self._leases = Leases(await bucket(self.js, "bid_leases", s.lease_ttl, s.nats_replicas), self.worker_id)
        members = await bucket(self.js, "bid_workers", s.lease_ttl, s.nats_replicas)
        self.resume_points = await bucket(self.js, "bid_resume", None, s.nats_replicas)
        try:
            while not stop.is_set():
                try:
                    await self._rebalance(leases, members)
                except (nats.errors.Error, asyncio.TimeoutError) as exc:
                    log.warning("lease round failed: %s", exc)
                except Exception:  # a bug in one round must not end ownership for good
                    log.exception("lease round failed")
                try:
                    await asyncio.wait_for(stop.wait(), s.lease_ttl / 4)
                except asyncio.TimeoutError:
                    pass
        finally:
            numbers = list(self._partitions)
            await asyncio.gather(*(self._drop(n) for n in numbers))
            await asyncio.gather(*(leases.release(str(n)) for n in numbers), return_exceptions=True)
            try:
                await members.delete(self.worker_id)
            except nats.errors.Error:
                pass

    async def _rebalance(self, leases: Leases, members: object) -> None:
        """One lease round. Renewals come first and run concurrently, and taking new
        partitions stops at ``lease_ttl / 4``: a round that took 32 partitions one by one on
        a loaded machine once ran past the TTL, and the worker lost every lease it held."""
        deadline = time.monotonic() + self.settings.lease_ttl / 4
        await members.put(self.worker_id, b"alive")
        try:
            live = len(await members.keys())
        except NoKeysError:
            live = 1
        partitions = self.settings.bid_partitions
        share = math.ceil(partitions / max(live, 1))

        held = list(self._partitions)
        renewed = await asyncio.gather(*(leases.renew(str(n)) for n in held))
        lost = [n for n, kept in zip(held, renewed) if not kept]
        for number in lost:
            log.warning("lost partition %d", number)
        await asyncio.gather(*(self._drop(n) for n in lost))

        for number, partition in list(self._partitions.items()):
            if not partition.running and number not in self._restarting:
                log.warning("partition %d stopped (%s): restarting it", number, _ending(partition.fetcher))
                await self._restart(number)

        while len(self._partitions) > share:
            number = max(self._partitions)
            await self._drop(number)
            await leases.release(str(number))

        taken: list[int] = []
        for number in random.sample(range(partitions), partitions):
            if len(self._partitions) + len(taken) >= share or time.monotonic() > deadline:
                break
            if number not in self._partitions and await leases.try_acquire(str(number)):
                taken.append(number)
        started = await asyncio.gather(*(self._start(n) for n in taken), return_exceptions=True)
        for number, outcome in zip(taken, started):
            if outcome is True:
                log.info("took partition %d", number)
            else:
                log.warning("could not start partition %d: %r", number, outcome)
                await leases.release(str(number))  # for whoever can
        OWNED.set(len(self._partitions))

    async def _start(self, number: int, replacing: _Partition | None = None) -> bool:
        """False: the partition was dropped (its lease lost) while it started."""
        partition = _Partition(self, number)
        await partition.start()
        if self._partitions.get(number) is not replacing or self._leases is None or str(number) not in self._leases.held:
            await partition.stop()
            return False
        self._partitions[number] = partition
        return True

    async def _drop(self, number: int) -> None:
        partition = self._partitions.pop(number, None)
        if partition is not None:
            await partition.stop()

    async def _restart(self, number: int) -> None:
        """From the ack floor, with a new partition object: the old one's stragglers, if any,
        stay stopped. If the start fails, the next lease round tries again."""
        partition = self._partitions.get(number)
        if partition is None or number in self._restarting:
            return
        self._restarting.add(number)
        try:
            await partition.stop()
            await self._start(number, replacing=partition)
        except (nats.errors.Error, asyncio.TimeoutError) as exc:
            log.warning("could not restart partition %d: %r", number, exc)
        finally:
            self._restarting.discard(number)

    # --- deciding -----------------------------------------------------------------------

    async def dead_letter(self, number: int, msg: Msg, reason: str) -> None:
        log.error("dead-lettering a command: %s", reason, extra={"partition": number})
        await self.js.publish(
            bus.dead_letter_subject(number), msg.data,
            headers={"Gavel-Reason": reason[:500], "Gavel-Stream-Seq": str(msg.metadata.sequence.stream)},
        )
        DEAD_LETTERS.labels(reason.split(":")[0]).inc()
        await msg.term()

    async def failed(self, number: int, group: list, exc: Exception) -> None:
        """A group that could not be decided: the partition restarts from its ack floor, so
        order is kept (nothing later overtakes the failed commands); a command that has failed
        MAX_FAILURES times is dead-lettered instead of blocking its partition for ever."""
        for msg, _command in group:
            seq = msg.metadata.sequence.stream
            self._failures[seq] += 1
            if self._failures[seq] >= MAX_FAILURES:
                del self._failures[seq]
                try:
                    await self.dead_letter(number, msg, f"failed to decide: {exc!r}")
                except nats.errors.Error as error:  # redelivered after the restart, counted again
                    log.warning("could not dead-letter sequence %d: %r", seq, error)
        task = asyncio.create_task(self._restart(number), name=f"restart-p{number}")
        self._background.add(task)  # held: the loop keeps only weak references to tasks
        task.add_done_callback(self._background.discard)

    async def decide(self, number: int, lane: _Lane, group: list[tuple[Msg, commands.PlaceBidCommand | commands.CloseAuctionCommand]]) -> None:
        async def heartbeat(_: object) -> None:
            for msg, _command in group:
                await msg.in_progress()

        try:
            # The common case pays for no retry machinery (a measurable share of a worker's CPU).
            decided = await self._decide_once(lane, group)
        except TRANSIENT:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(TRANSIENT),
                wait=wait_exponential(multiplier=0.01, max=2.0),
                before_sleep=heartbeat,
                reraise=True,
            ):
                with attempt:
                    decided = await self._decide_once(lane, group)
        if decided is None:
            for msg, _command in group:
                await self.dead_letter(number, msg, f"unknown auction: {lane.auction_id}")
            return
        await self._announce(lane, group, *decided)
        for msg, _command in group:
            await msg.ack()

    async def _decide_once(self, lane: _Lane, group: list) -> tuple[list, dict[uuid.UUID, BidOutcome]] | None:
        """Optimistic: decide from the state we know (or a plain read of it) and let the
        compare-and-set judge. Only after a lost or unknown CAS does the next attempt pay for
        a SERIAL read (which also settles a half-done CAS of a dead worker) and look up which
        of the commands were already decided (the CAS refuses a bid row that exists)."""
        after_conflict = lane.conflicted
        if lane.auction is None:
            lane.auction = await self.ledger.load(lane.auction_id, serial=after_conflict)
            if lane.auction is None:
                return None
        bid_ids = [c.bid_id for _, c in group if isinstance(c, commands.PlaceBidCommand)]
        already = await self.ledger.recorded(lane.auction_id, bid_ids) if after_conflict else {}
        now = self.clock()
        todo = [
            c.to_domain(now) if isinstance(c, commands.CloseAuctionCommand) else c.to_domain()
            for _, c in group
            if not (isinstance(c, commands.PlaceBidCommand) and c.bid_id in already)
        ]
        before = lane.auction
        after, steps = decide_all(before, todo)
        if steps:
            applied = await self.ledger.commit(before, after, [outcome for _, outcome in steps])
            if not applied:
                CAS_CONFLICTS.inc()
                lane.auction = None
                lane.conflicted = True
                raise _Conflict(f"auction {lane.auction_id}: compare-and-set {'lost' if applied is False else 'unknown'}")
            GROUP_SIZE.observe(len(steps))
        lane.auction = after
        lane.conflicted = False
        return steps, already

    async def _announce(self, lane: _Lane, group: list, steps: list, already: dict[uuid.UUID, BidOutcome]) -> None:
        """History rows, then events and outcomes; the caller acks only after this."""
        new_bids = [o for _, o in steps if isinstance(o, BidOutcome)]
        await self.ledger.write_read_models(new_bids + list(already.values()))
        now = self.clock()
        for state, outcome in steps:
            event = pb.AuctionEvent(auction=auction_to_pb(state, now))
            if isinstance(outcome, BidOutcome):
                event.bid.CopyFrom(outcome_to_pb(outcome))
                DECISIONS.labels("accepted" if outcome.accepted else "rejected").inc()
            elif isinstance(outcome, Closed):
                DECISIONS.labels("closed").inc()
            await self.nc.publish(bus.auction_subject(lane.auction_id), event.SerializeToString())
        if already and lane.auction is not None:
            # Re-published so a watcher that missed the first event (we died before it) converges.
            current = pb.AuctionEvent(auction=auction_to_pb(lane.auction, now))
            await self.nc.publish(bus.auction_subject(lane.auction_id), current.SerializeToString())
        by_id = {o.bid.bid_id: o for o in new_bids} | already
        for _msg, command in group:
            if isinstance(command, commands.PlaceBidCommand) and command.reply_to and command.bid_id in by_id:
                await self.nc.publish(command.reply_to, outcome_to_pb(by_id[command.bid_id]).SerializeToString())
