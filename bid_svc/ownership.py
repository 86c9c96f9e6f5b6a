"""Bid workers' ownership of log partitions: leases, members, rebalancing, restarts.

Each partition ``bids.<p>`` has a lease in the NATS KV bucket ``bid_leases``; a worker
renews what it holds every ``lease_ttl / 4`` and takes free partitions up to its fair share
(P / live workers, from the ``bid_workers`` bucket). Each partition it holds is a
``partition.Partition``, started from its resume point (recorded in ``bid_resume``). A
partition whose fetcher has ended (a NATS error) is restarted by the next lease round; one
whose group could not be decided (``Decider.failed`` has counted it) is restarted at once.
A restart always builds a new ``Partition``: the stopped one never runs again.

The ``Worker`` owns no deciding: it hands each partition the shared ``Decider`` and its own
failure callback, so the three pieces meet only here.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
import socket
import time

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NoKeysError
from nats.js.kv import KeyValue
from prometheus_client import Counter, Gauge

from bid_svc.decider import Decider
from bid_svc.ledger import Ledger
from bid_svc.partition import Group, Partition
from gavel.clock import Clock, utcnow
from gavel.lease import Leases, bucket
from gavel.settings import Settings

log = logging.getLogger(__name__)

OWNED = Gauge("gavel_bid_partitions_owned", "Log partitions this worker owns.")
LEASE_CHANGES = Counter(
    "gavel_bid_lease_changes_total", "Partition leases this worker took, lost or gave up (to rebalance).", ["change"]
)
#: After a round that NATS failed: soon, so that the leases' age at the first renewal after a
#: JetStream election is the election plus this, not plus a quarter TTL more.
RETRY_FAILED_ROUND_S = 0.5
KNOWN = Gauge(
    "gavel_bid_known_auctions", "Auction states kept between groups (an LRU per owned partition, KNOWN_AUCTIONS each)."
)


class Worker:
    def __init__(
        self, settings: Settings, nc: Client, js: JetStreamContext, ledger: Ledger, clock: Clock = utcnow
    ) -> None:
        self.settings = settings
        self.js = js
        self.decider = Decider(nc, js, ledger, clock)
        # A KV key names it (in bid_workers): only [-/_=.a-zA-Z0-9] may appear.
        self.worker_id = settings.worker_id or re.sub(
            r"[^-_.a-zA-Z0-9]", "_", f"{socket.gethostname()}-{settings.bid_port}"
        )
        self._partitions: dict[int, Partition] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._restarting: set[int] = set()
        self._leases: Leases | None = None  # set by run
        self.resume_points: KeyValue  # set by run: where each partition's next consumer starts
        KNOWN.set_function(lambda: sum(len(p.known) for p in self._partitions.values()))

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        leases = self._leases = Leases(
            await bucket(self.js, "bid_leases", s.lease_ttl, s.nats_replicas), self.worker_id
        )
        members = await bucket(self.js, "bid_workers", s.lease_ttl, s.nats_replicas)
        self.resume_points = await bucket(self.js, "bid_resume", None, s.nats_replicas)
        try:
            while not stop.is_set():
                pause = s.lease_ttl / 4
                try:
                    await self._rebalance(leases, members)
                except (TimeoutError, nats.errors.Error) as exc:
                    # A bucket without a leader (a NATS server died; JetStream elects a new one
                    # 4-9 s later): the leases age meanwhile, so try again soon, not a quarter
                    # TTL after the election.
                    log.warning("lease round failed: %s", exc)
                    pause = RETRY_FAILED_ROUND_S
                except Exception:  # a bug in one round must not end ownership for good
                    log.exception("lease round failed")
                try:
                    await asyncio.wait_for(stop.wait(), pause)
                except TimeoutError:
                    pass
        finally:
            numbers = list(self._partitions)
            await asyncio.gather(*(self._drop(n) for n in numbers))
            await asyncio.gather(*(leases.release(str(n)) for n in numbers), return_exceptions=True)
            try:
                await members.delete(self.worker_id)
            except nats.errors.Error:
                pass

    async def _rebalance(self, leases: Leases, members: KeyValue) -> None:
        """One lease round. Renewals come first and run concurrently, and taking new
        partitions stops at ``lease_ttl / 4``: a round that took 32 partitions one by one on
        a loaded machine once ran past the TTL, and the worker lost every lease it held.
        First means before the membership too: the two buckets elect their leaders apart, and
        one without a leader must not keep the other's leases from being renewed."""
        deadline = time.monotonic() + self.settings.lease_ttl / 4
        held = list(self._partitions)
        renewed = await asyncio.gather(*(leases.renew(str(n)) for n in held))
        lost = [n for n, kept in zip(held, renewed, strict=False) if not kept]
        for number in lost:
            log.warning("lost partition %d", number)
            LEASE_CHANGES.labels("lost").inc()
        await asyncio.gather(*(self._drop(n) for n in lost))

        for number, partition in list(self._partitions.items()):
            if not partition.running and number not in self._restarting:
                log.warning("partition %d stopped (%s): restarting it", number, partition.ending)
                await self._restart(number)

        await members.put(self.worker_id, b"alive")
        try:
            live = len(await members.keys())
        except NoKeysError:
            live = 1
        partitions = self.settings.bid_partitions
        share = math.ceil(partitions / max(live, 1))

        while len(self._partitions) > share:
            number = max(self._partitions)
            await self._drop(number)
            await leases.release(str(number))
            LEASE_CHANGES.labels("released").inc()

        taken: list[int] = []
        for number in random.sample(range(partitions), partitions):
            if len(self._partitions) + len(taken) >= share or time.monotonic() > deadline:
                break
            if number not in self._partitions and await leases.try_acquire(str(number)):
                taken.append(number)
        started = await asyncio.gather(*(self._start(n) for n in taken), return_exceptions=True)
        for number, outcome in zip(taken, started, strict=False):
            if outcome is True:
                log.info("took partition %d", number)
                LEASE_CHANGES.labels("taken").inc()
            else:
                log.warning("could not start partition %d: %r", number, outcome)
                await leases.release(str(number))  # for whoever can
        OWNED.set(len(self._partitions))

    async def _start(self, number: int, replacing: Partition | None = None) -> bool:
        """False: the partition was dropped (its lease lost) while it started."""
        partition = Partition(number, self.js, self.resume_points, self.decider, self._failed)
        await partition.start()
        if (
            self._partitions.get(number) is not replacing
            or self._leases is None
            or str(number) not in self._leases.held
        ):
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
        except (TimeoutError, nats.errors.Error) as exc:
            log.warning("could not restart partition %d: %r", number, exc)
        finally:
            self._restarting.discard(number)

    async def _failed(self, number: int, group: Group, exc: Exception) -> None:
        """A partition's ``OnFailure``: the decider counts the group's failures (and
        dead-letters what keeps failing), then the partition restarts from its resume point, so
        order is kept: nothing later overtakes the failed commands."""
        await self.decider.failed(number, group, exc)
        task = asyncio.create_task(self._restart(number), name=f"restart-p{number}")
        self._background.add(task)  # held: the loop keeps only weak references to tasks
        task.add_done_callback(self._background.discard)
