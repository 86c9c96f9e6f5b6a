"""Deciding one auction's group of commands: load, fold, commit, announce, acknowledge.

A group is the commands a lane has waiting, in log order (``partition.MAX_GROUP`` at most).
They are folded through the pure domain function (``decide_all``) and written in one
compare-and-set (``Ledger.commit``): a hot auction decides many bids per Paxos round. The
partition runs one group per auction at a time, so there is one compare-and-set in flight
per auction.

Optimistic: a group is decided from the state the last write left, or else the state its
bids carry (what the API read to check them: so a bid on an auction this worker has not seen
costs one read, however many auctions are open), or else a plain read; the compare-and-set
judges it. A lost or unknown one (``_Conflict``) is retried with backoff, and
the retry pays for a SERIAL read and for looking up which commands were already decided.
While retrying, the group's messages are kept from redelivery (``in_progress``).

Only after the history rows, the auction events, the outcomes and the notifications are
out is a group acknowledged; a redelivered command finds its recorded outcome and announces
it again. The notifications a decision causes are kept in its own compare-and-set (the
outbox), so the worker that takes over after a crash sends them again even though it did not
decide them (the notification log stores each cause once).

Dead letters: a command that cannot be decided (not a command, an unknown auction) goes to
``dlq.bids.<p>`` with its reason and is terminated; so does one that has failed
``MAX_FAILURES`` times (counted by stream sequence, across the partition's restarts), rather
than block its partition for ever.
"""

from __future__ import annotations

import collections
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import nats.errors
from cassandra import OperationTimedOut, RequestExecutionException
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionException
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from prometheus_client import Counter, Histogram
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from bid_svc.ledger import Ledger
from bid_svc.partition import Group, Lane
from gavel import bus, commands, notifications, replies
from gavel.clock import Clock, utcnow
from gavel.domain.auction import Auction
from gavel.domain.bidding import BidOutcome, Closed, Steps
from gavel.domain.decision import NEEDS_HISTORY, Command, decide_all
from gavel.domain.notices import needs_watchers, notices
from gavel.domain.refusals import Refused
from gavel.domain.takeback import Retracted
from gavel.messages import auction_to_pb, event_to_pb, outcome_to_pb, sale_to_pb
from gavel.views import UNMASKED

log = logging.getLogger(__name__)

MAX_FAILURES = 3

DECISIONS = Counter("gavel_bid_decisions_total", "Decided commands.", ["outcome"])
GROUP_SIZE = Histogram(
    "gavel_bid_group_size", "Commands decided per compare-and-set.", buckets=(1, 2, 4, 8, 16, 32, 64)
)
CAS_CONFLICTS = Counter("gavel_bid_cas_conflicts_total", "Compare-and-sets lost or unknown (re-read).")
DEAD_LETTERS = Counter("gavel_bid_dead_letters_total", "Commands sent to the dead-letter stream.", ["reason"])


class _Conflict(Exception):
    """The compare-and-set did not apply (or its outcome is unknown): re-read and decide again."""


#: Retried with backoff: a lost race, Cassandra or NATS unavailable (a connection reset by a
#: node that died is one: it surfaced as a bug and restarted the partition). Anything else
#: is a bug and surfaces (the partition restarts from its ack floor; see ``failed``).
TRANSIENT = (
    _Conflict,
    RequestExecutionException,
    OperationTimedOut,
    NoHostAvailable,
    ConnectionException,
    nats.errors.Error,
    OSError,
)


def _carried(group: Group) -> Auction | None:
    """The newest state of the auction that the group's bids carry (what the API read to check
    them): a worker that knows nothing of the auction decides from it rather than reading it
    again, and the compare-and-set judges it. After a lost one it is never used: that retry
    reads at SERIAL."""
    states = [c.state for _, c in group if isinstance(c, commands.BID_COMMANDS) and c.state is not None]
    return max(states, key=lambda a: a.version) if states else None


def _each_once(group: Group) -> list[commands.AnyCommand]:
    """The group's commands, each once, where it first appears. The log can hand a worker
    the same command twice while the first copy is still undecided: JetStream redelivers
    what was unacknowledged when NATS restarts, and a bid appended again after the
    duplicate window is a second entry with the same ``bid_id``. Both copies in one group,
    folded twice, decided the bid twice in one compare-and-set: two versions for one bid,
    two outcomes for its one row (which Cassandra merges cell by cell) and two history rows
    (seen after a ``kill -9`` of NATS). A bid is one by its ``bid_id``; any other command by
    its place in the log. The copies are still answered and acknowledged with the group."""
    seen: set[uuid.UUID | int] = set()
    once: list[commands.AnyCommand] = []
    for msg, command in group:
        key = command.bid_id if isinstance(command, commands.BID_COMMANDS) else msg.metadata.sequence.stream
        if key not in seen:
            seen.add(key)
            once.append(command)
    return once


class Decider:
    """Shared by all of a worker's partitions; what it knows of an auction lives in its lane."""

    def __init__(self, nc: Client, js: JetStreamContext, ledger: Ledger, clock: Clock = utcnow) -> None:
        self._nc = nc
        self._js = js
        self._ledger = ledger
        self._clock = clock
        self._failures: collections.Counter[int] = collections.Counter()  # by stream sequence

    async def dead_letter(self, number: int, msg: Msg, reason: str) -> None:
        log.error("dead-lettering a command: %s", reason, extra={"partition": number})
        await self._js.publish(
            bus.dead_letter_subject(number),
            msg.data,
            headers={"Gavel-Reason": reason[:500], "Gavel-Stream-Seq": str(msg.metadata.sequence.stream)},
        )
        DEAD_LETTERS.labels(reason.split(":")[0]).inc()
        await msg.term()

    async def failed(self, number: int, group: Group, exc: Exception) -> None:
        """Counts a group that could not be decided (its partition restarts from its ack floor,
        so nothing later overtakes it); a command that has failed MAX_FAILURES times is
        dead-lettered instead of blocking its partition for ever."""
        for msg, _command in group:
            seq = msg.metadata.sequence.stream
            self._failures[seq] += 1
            if self._failures[seq] >= MAX_FAILURES:
                del self._failures[seq]
                try:
                    await self.dead_letter(number, msg, f"failed to decide: {exc!r}")
                except nats.errors.Error as error:  # redelivered after the restart, counted again
                    log.warning("could not dead-letter sequence %d: %r", seq, error)

    async def decide(self, number: int, lane: Lane, group: Group) -> None:
        async def heartbeat(_: RetryCallState) -> None:
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
        await self._announce(lane, group, decided)
        await self._close_if_past(number, lane, decided.steps, decided.already)
        for msg, _command in group:
            await msg.ack()

    async def _close_if_past(self, number: int, lane: Lane, steps: Steps, already: dict[uuid.UUID, BidOutcome]) -> None:
        """An end that soft close moved is the closer's to find at its new end, unless the
        move was decided after that end had passed (a backlog): the closer may have walked
        past it already, so the close is put in the log here (the closer's own, if it also
        comes, is stored once)."""
        state = lane.auction
        if state is None or not state.extended or state.closed_at is not None or state.end_date > self._clock():
            return
        decided = [o for _, o in steps] + list(already.values())  # a redelivery may find it undone
        if not any(isinstance(o, BidOutcome) and o.accepted for o in decided):
            return
        command = commands.CloseAuctionCommand(auction_id=state.auction_id, end_date=state.end_date)
        await self._js.publish(
            bus.bid_subject(number), commands.encode(command), headers={"Nats-Msg-Id": command.msg_id}
        )

    async def _decide_once(self, lane: Lane, group: Group) -> Decided | None:
        """Optimistic: decide from the state we know (or that the bids carry, or a plain read)
        and let the compare-and-set judge. Only after a lost or unknown CAS does the next attempt pay for
        a SERIAL read (which also settles a half-done CAS of a dead worker) and look up which
        of the commands were already decided (the CAS refuses a bid row that exists). A group
        with a command decided from the bids themselves (a retraction, a sale moving on) reads
        the auction's bid history too."""
        after_conflict = lane.conflicted
        cold = lane.auction is None
        if lane.auction is None and not after_conflict:
            lane.auction = _carried(group)
        if lane.auction is None:
            lane.auction = await self._ledger.load(lane.auction_id, serial=after_conflict)
            if lane.auction is None:
                return None
        bid_ids = [c.bid_id for _, c in group if isinstance(c, commands.BID_COMMANDS)]
        already = await self._ledger.recorded(lane.auction_id, bid_ids) if after_conflict else {}
        now = self._clock()
        todo = [
            (_to_domain(c, now), c)
            for c in _each_once(group)
            if not (isinstance(c, commands.BID_COMMANDS) and c.bid_id in already)
        ]
        needs = any(isinstance(d, NEEDS_HISTORY) for d, _ in todo)
        history = await self._ledger.history(lane.auction_id) if needs else []
        # Perhaps decided already by a worker that died before it told anyone: its
        # notifications, again. A bid decided twice loses its compare-and-set (so it comes
        # after a conflict); any other command decided twice is a no-op, which only a worker
        # that did not know the auction (a takeover, a restart) can be deciding.
        unknown = cold and any(not isinstance(c, commands.BID_COMMANDS) for _, c in group)
        told = await self._outbox(lane.auction_id, now) if after_conflict or unknown else []
        before = lane.auction
        after, steps = decide_all(before, [d for d, _ in todo], history)
        watchers = await self._ledger.watchers(lane.auction_id) if needs_watchers(before, steps) else []
        ours = notifications.build(notices(before, steps, watchers), now)
        if after.version != before.version:  # else only repeats (and timers), nothing to write
            # What was recovered goes in too: if this worker dies as well, the next one has it.
            outbox = notifications.encode_outbox(notifications.merged(told, ours))
            applied = await self._ledger.commit(before, after, [outcome for _, outcome in steps], outbox)
            if not applied:
                CAS_CONFLICTS.inc()
                lane.auction = None
                lane.conflicted = True
                raise _Conflict(
                    f"auction {lane.auction_id}: compare-and-set {'lost' if applied is False else 'unknown'}"
                )
            GROUP_SIZE.observe(len(steps))
        told = notifications.merged(told, ours)
        lane.auction = after
        lane.conflicted = False
        requests = {id(d): c for d, c in todo if isinstance(c, commands.REQUESTS)}
        return Decided(before.version, steps, already, history, requests, told)

    async def _outbox(self, auction_id: uuid.UUID, now: datetime) -> list[notifications.Outgoing]:
        """The last decision's notifications, if recent enough for the log to recognise the
        ones already kept (its duplicate window); older ones were sent long ago or, if the
        whole system was down for longer, are dropped rather than sent twice."""
        kept = notifications.decode_outbox(await self._ledger.outbox(auction_id))
        horizon = now - timedelta(seconds=bus.DEDUPE_WINDOW_S - 60)
        return [o for o in kept if o.notification.created_at.ToDatetime(tzinfo=UTC) >= horizon]

    async def _announce(self, lane: Lane, group: Group, decided: Decided) -> None:
        """History rows and records, then events and replies; the caller acks only after this."""
        steps, already = decided.steps, decided.already
        new_bids = [o for _, o in steps if isinstance(o, BidOutcome)]
        # A retraction's rows, marked; a repeated one (redelivered) marks them again, in case
        # the first died before its read models were written.
        retractions = [o for _, o in steps if isinstance(o, Retracted)]
        taken = {b for o in retractions for b in o.bid_ids}
        by = {o.command.bidder_id for o in retractions}
        marked = [
            replace(b, retracted=True)
            for b in decided.history
            if b.bid_id in taken or (b.retracted and b.bidder_id in by)
        ]
        await self._ledger.write_read_models(new_bids + list(already.values()) + marked)
        await self._ledger.record(lane.auction_id, [o for _, o in steps])
        if lane.auction is not None and any(isinstance(c, commands.SaleDeadlineCommand) for _, c in group):
            await self._ledger.record_unpaid(lane.auction)
        now = self._clock()
        last = decided.before_version
        for state, outcome in steps:
            if state.version == last:
                continue  # a repeat (a second payment, cancel...): nothing changed to announce
            last = state.version
            event = event_to_pb(state, now, outcome if isinstance(outcome, BidOutcome) else None)
            if isinstance(outcome, BidOutcome):
                DECISIONS.labels("accepted" if outcome.accepted else "rejected").inc()
            elif isinstance(outcome, Closed):
                DECISIONS.labels("closed").inc()
            else:
                DECISIONS.labels(type(outcome).__name__.lower()).inc()
            await self._nc.publish(bus.auction_subject(lane.auction_id), event.SerializeToString())
        if already and lane.auction is not None:
            # Re-published so a watcher that missed the first event (we died before it) converges.
            current = event_to_pb(lane.auction, now)
            await self._nc.publish(bus.auction_subject(lane.auction_id), current.SerializeToString())
        by_id = {o.bid_id: o for o in new_bids} | already
        for _msg, command in group:
            if isinstance(command, commands.BID_COMMANDS) and command.reply_to and command.bid_id in by_id:
                # The reply goes to the bidder's own PlaceBid, which masks it for its caller.
                reply = outcome_to_pb(by_id[command.bid_id], UNMASKED)
                await replies.send(self._nc, command.reply_to, command.bid_id, reply.SerializeToString())
        for state, outcome in steps:
            request = decided.requests.get(id(getattr(outcome, "command", None)))
            if request is not None and request.reply_to:
                data, refusal = _answer(state, outcome, request, decided.history, now)
                await replies.send(self._nc, request.reply_to, request.command_id, data, refusal)
        # Last, after the answers (they do not wait on it), and before the acknowledgement.
        await notifications.publish(self._js, decided.told)


@dataclass(frozen=True, slots=True)
class Decided:
    """A group's decision: its records, the bids found already decided (after a conflict),
    the bid history it was decided with (if it needed one), the requests by the identity
    of their domain command (each request's record names its command), and the
    notifications to send."""

    before_version: int
    steps: Steps
    already: dict[uuid.UUID, BidOutcome]
    history: list[BidOutcome]
    requests: dict[int, commands.RequestCommand]
    told: list[notifications.Outgoing]


def _to_domain(command: commands.AnyCommand, now: datetime) -> Command:
    if isinstance(command, commands.TimerCommand):
        return command.to_domain(now)
    return command.to_domain()


def _answer(
    state: Auction, outcome: object, request: commands.RequestCommand, history: list[BidOutcome], now: datetime
) -> tuple[bytes, str]:
    """A request's reply: the message its RPC returns (whole: the RPC masks it for its
    caller), or the rule that refused it."""
    if isinstance(outcome, Refused):
        return b"", outcome.reason.value
    if isinstance(request, commands.RetractBidCommand):
        bid = next(b for b in history if b.bid_id == request.bid_id)
        return outcome_to_pb(replace(bid, retracted=True), UNMASKED).SerializeToString(), ""
    if isinstance(request, commands.CancelAuctionCommand):
        return auction_to_pb(state, now, UNMASKED).SerializeToString(), ""
    return sale_to_pb(state, UNMASKED).SerializeToString(), ""
