"""Ends auctions on time by appending a close command to each auction's log partition, and
moves sales on at their deadlines the same way (a deadline command at each offer's pay_by);
and, ``notification_ending_soon`` ahead of each end, the ending-soon timer (``reminders``).

Going through the log, rather than writing ``ENDED`` directly, puts the close behind every
bid received before the end, so the winner is decided from all of them, once, by the worker.

The timer is durable and never a full scan: the closer walks the end-hour buckets from the
point recorded in ``closer_progress`` up to now, publishes a close for each auction that has
ended there (JetStream acks each), and only then moves the recorded point. After a restart
it resumes from that point; anything published twice is stored once (Nats-Msg-Id) and
decided once (the worker ignores a close for an auction already closed or whose end moved).
One closer runs at a time (a lease); any auction_svc replica can hold it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import nats.errors
from cassandra import OperationTimedOut, RequestExecutionException
from cassandra.cluster import Session
from nats.js import JetStreamContext

from gavel import bus, commands, cql
from gavel.auction_store import (
    DEADLINE_HOURS_SCOPE,
    END_HOURS_SCOPE,
    FAR_PAST,
    MAX_ID,
    MIN_ID,
    AuctionStore,
    DeadlineEntry,
    EndEntry,
    end_hour,
)
from gavel.clock import Clock, from_cassandra, utcnow
from gavel.lease import Leases, bucket
from gavel.settings import Settings

log = logging.getLogger(__name__)

LEASE_KEY = "closer"
#: Where a closer with no recorded progress starts: nothing can end before it was created.
FIRST_RUN_LOOKBACK = timedelta(days=1)
PAGE = 500
CLOCK_SKEW_MARGIN = timedelta(seconds=2)
E = TypeVar("E")


class Closer:
    def __init__(
        self,
        settings: Settings,
        js: JetStreamContext,
        session: Session,
        store: AuctionStore,
        clock: Clock = utcnow,
        interval: float = 0.5,
        name: str = "closer",
    ) -> None:
        self._settings = settings
        self._js = js
        self._session = session
        self._store = store
        self._clock = clock
        self._interval = interval
        self._name = name
        self._load = session.prepare("SELECT done_until FROM closer_progress WHERE name = ?")
        self._save = session.prepare("INSERT INTO closer_progress (name, done_until) VALUES (?, ?)")

    async def run(self, stop: asyncio.Event) -> None:
        s = self._settings
        leases = Leases(await bucket(self._js, "gavel_leases", s.lease_ttl, s.nats_replicas), uuid.uuid4().hex)
        holding = False
        try:
            while not stop.is_set():
                try:
                    holding = await (leases.renew(LEASE_KEY) if holding else leases.try_acquire(LEASE_KEY))
                    if holding:
                        await self.close_due()
                        await self.deadlines_due()
                        await self.ending_soon_due()
                except (nats.errors.Error, RequestExecutionException, OperationTimedOut, OSError) as exc:
                    log.warning("closer round failed, retrying: %s", exc)
                except Exception:  # a bug in one round must not stop closing auctions for good
                    log.exception("closer round failed, retrying")
                try:
                    await asyncio.wait_for(stop.wait(), self._interval)
                except TimeoutError:
                    pass
        finally:
            await leases.release(LEASE_KEY)

    async def close_due(self) -> int:
        """Publishes closes for everything that ended since the recorded point; returns how many."""
        return await self._walk(_Ends(self._store), self._name)

    async def deadlines_due(self) -> int:
        """Publishes the deadline of every sale offer whose ``pay_by`` has passed since the
        recorded point (its own); returns how many."""
        return await self._walk(_Deadlines(self._store), f"{self._name}-deadlines")

    async def ending_soon_due(self) -> int:
        """Publishes the ending-soon timer of every auction that ends within the lead time,
        walking the same end index as the close, that far ahead of it (its own recorded
        point, in end time). An auction created closer to its end than that is not told: it
        was never far from ending."""
        ahead = self._settings.notification_ending_soon
        return await self._walk(_EndsSoon(self._store), f"{self._name}-ending-soon", ahead, lookback=timedelta(0))

    async def _walk(
        self, timers: _Timers[Any], name: str, ahead: timedelta = timedelta(0), lookback: timedelta = FIRST_RUN_LOOKBACK
    ) -> int:
        """``ahead``: the timers are due that long before the entries' own moments (which are
        what is walked and recorded)."""
        now = self._clock() + ahead
        rows = (await cql.execute(self._session, self._load, (name,))).current_rows
        done_until = from_cassandra(rows[0].done_until) if rows else now - lookback
        published = 0
        position = timers.after(done_until)
        hour = end_hour(done_until)
        while hour <= end_hour(now):
            hours = await self._store.end_hours(hour, ascending=True, limit=48, scope=timers.scope)
            hours = [h for h in hours if h <= end_hour(now)]
            if not hours:
                break
            for h in hours:
                after = position if h == end_hour(done_until) else timers.first
                while True:
                    entries = await timers.entries(h, after, PAGE)
                    due = [e for e in entries if timers.due(e) <= now]
                    await asyncio.gather(*(self._publish(timers.command(e)) for e in due))
                    published += len(due)
                    if len(due) < PAGE:
                        break
                    after = due[-1]
            hour = hours[-1] + 1
        # Recorded a little behind now: an auction created on a host whose clock runs behind
        # ours could still end in that margin; re-publishing its close next round is harmless.
        await cql.execute(self._session, self._save, (name, now - CLOCK_SKEW_MARGIN))
        return published

    async def _publish(self, command: commands.TimerCommand) -> None:
        partition = bus.partition_of(command.auction_id, self._settings.bid_partitions)
        await self._js.publish(
            bus.bid_subject(partition), commands.encode(command), headers={"Nats-Msg-Id": command.msg_id}
        )


class _Timers(Protocol[E]):
    """One kind of durable timer the closer walks: hour buckets (a scope of ``end_hours``) of
    entries ordered by the moment they are due, and the command each one puts in the log."""

    scope: str
    #: Before every entry of an hour.
    first: E

    def after(self, moment: datetime) -> E: ...
    async def entries(self, hour: int, after: E, limit: int) -> list[E]: ...
    def due(self, entry: E) -> datetime: ...
    def command(self, entry: E) -> commands.TimerCommand: ...


class _Ends:
    scope = END_HOURS_SCOPE
    first = EndEntry(FAR_PAST, MIN_ID)

    def __init__(self, store: AuctionStore) -> None:
        self._store = store

    def after(self, moment: datetime) -> EndEntry:
        return EndEntry(moment, MAX_ID)

    async def entries(self, hour: int, after: EndEntry, limit: int) -> list[EndEntry]:
        return await self._store.ending_in(hour, after, ascending=True, limit=limit)

    def due(self, entry: EndEntry) -> datetime:
        return entry.end_date

    def command(self, entry: EndEntry) -> commands.TimerCommand:
        return commands.CloseAuctionCommand(auction_id=entry.auction_id, end_date=entry.end_date)


class _Deadlines:
    scope = DEADLINE_HOURS_SCOPE
    first = DeadlineEntry(FAR_PAST, MIN_ID, -1)

    def __init__(self, store: AuctionStore) -> None:
        self._store = store

    def after(self, moment: datetime) -> DeadlineEntry:
        return DeadlineEntry(moment, MAX_ID, 2**31 - 1)

    async def entries(self, hour: int, after: DeadlineEntry, limit: int) -> list[DeadlineEntry]:
        return await self._store.deadlines_in(hour, after, limit)

    def due(self, entry: DeadlineEntry) -> datetime:
        return entry.pay_by

    def command(self, entry: DeadlineEntry) -> commands.SaleDeadlineCommand:
        return commands.SaleDeadlineCommand(auction_id=entry.auction_id, offer=entry.offer, pay_by=entry.pay_by)


class _EndsSoon(_Ends):
    """The same entries as the close, each giving the ending-soon timer instead."""

    def command(self, entry: EndEntry) -> commands.EndingSoonCommand:
        return commands.EndingSoonCommand(auction_id=entry.auction_id, end_date=entry.end_date)
