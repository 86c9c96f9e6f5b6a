"""Each user's notifications: kept in order in the log, read back from a cursor.

Where they live: one JetStream stream, ``NOTIFICATIONS``, with a subject per user
(``notify.<digest of the user id>``). The stream is the store and the live delivery at once:

- Kept: a notice is published (and acknowledged by JetStream, on disk) before anyone is sent
  it; the stream keeps the last ``notification_history`` per subject (``max_msgs_per_subject``:
  the user's history is bounded by the store itself, no trimming job) for at most 30 days.
- In order, from a cursor: a notification's id is its stream sequence, which only grows, in
  the order notices were kept, whichever worker kept them. A reconnecting client names the
  last one it saw; a consumer filtered to its subject starts just after it, and goes on live:
  everything since, then live ones, nothing twice. (A Cassandra table keyed by user and time
  would need a per-user sequence, or a lag, to give the same order from many workers.)
- Nothing per user on the server except for connected users: the subject costs nothing until
  it has messages, and the one consumer it ever has is a connected user's, ephemeral.
- Exactly once per cause: ``Notice.key`` is the message id, so a decision announced again
  (a redelivered command) is stored once, within the stream's duplicate window.

At 10M users one stream holds 10M subjects (an index entry each in the server's memory, on
the order of 100 bytes): past a few million, shard users across streams by the same digest.

Who is told what is the domain's (``gavel.domain.notices``); this module builds the messages
(the auction as the recipient may see it: other bidders as aliases) and moves them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime

import nats.errors
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from prometheus_client import Counter

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.auth import Principal
from gavel.domain.notices import Notice, NoticeKind
from gavel.messages import auction_to_pb
from gavel.money import money
from gavel.settings import Settings
from gavel.views import UNMASKED, mask_auction

log = logging.getLogger(__name__)

STREAM = "NOTIFICATIONS"
SUBJECTS = "notify.*"
#: The recipient, as a header (``recipient_tag``): the subject holds only part of the digest,
#: so the reader checks whose it is.
USER_HEADER = "Gavel-User"
#: The most an outbox holds (well under Cassandra's mutation limits, in one Paxos write).
MAX_OUTBOX_BYTES = 512 * 1024
KEEP_S = 30 * 24 * 3600.0

PUBLISHED = Counter("gavel_notifications_total", "Notifications kept, by kind.", ["kind"])
FAILED = Counter("gavel_notification_failures_total", "Notifications that could not be built or kept.")
OUTBOX_OVERFLOW = Counter(
    "gavel_notification_outbox_overflow_total", "Notifications left out of an outbox (sent, not resent after a crash)."
)


def recipient_tag(user_id: str) -> str:
    """The user as the log's header names them: a digest, so any id (spaces, non-ASCII) is a
    plain header value."""
    return hashlib.sha256(user_id.encode()).hexdigest()


def subject(user_id: str) -> str:
    """A fixed-length token whatever the id holds (NATS subjects cannot hold '.', '*', '>')."""
    return "notify." + recipient_tag(user_id)[:32]


def stream_config(settings: Settings, duplicate_window_s: float) -> StreamConfig:
    return StreamConfig(
        name=STREAM,
        subjects=[SUBJECTS],
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        max_msgs_per_subject=settings.notification_history,
        max_age=KEEP_S,
        duplicate_window=duplicate_window_s,
        num_replicas=settings.nats_replicas,
        discard=DiscardPolicy.OLD,
    )


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One notification on its way to one user; ``key`` is its cause (the message id), and
    ``whole`` the auction it was made from, unmasked (shared by everyone told of one state)."""

    user_id: str
    key: str
    notification: pb.Notification
    whole: pb.Auction


def _text(kind: NoticeKind, auction: pb.Auction) -> str:
    name = auction.item.name or "the auction"
    price = money(auction.highest_bid, auction.currency)
    match kind:
        case NoticeKind.OUTBID:
            return f"You were outbid on {name}: the price is now {price}"
        case NoticeKind.WON:
            return f"You won {name} for {price}"
        case NoticeKind.LOST:
            return f"{name} has ended; you did not win it"
        case NoticeKind.ENDING_SOON:
            return f"{name} ends soon, at {price} now"
        case NoticeKind.AUCTION_CANCELLED:
            return f"{name} was cancelled by its seller"
        case NoticeKind.PAYMENT_DUE:
            return f"Pay {price} for {name} by the deadline"
        case NoticeKind.SECOND_CHANCE_OFFER:
            return f"{name} is offered to you at {money(auction.sale.price, auction.currency)}: pay or decline"
        case NoticeKind.SALE_PAID:
            return f"{name} was paid: {money(auction.sale.price, auction.currency)}"
        case NoticeKind.RESERVE_MET:
            return f"The reserve on {name} is met, at {price}"


def build(notices: list[Notice], now: datetime) -> list[Outgoing]:
    """The messages for the notices: each state made once, then masked for each recipient.
    One that cannot be built is counted and left out, never in the way of the others."""
    wholes: dict[int, pb.Auction] = {}
    created_at = Timestamp()
    created_at.FromDatetime(now)
    found: list[Outgoing] = []
    for notice in notices:
        try:
            whole = wholes.get(id(notice.state))
            if whole is None:
                whole = wholes[id(notice.state)] = auction_to_pb(notice.state, now, UNMASKED)
            found.append(_outgoing(notice.user_id, notice.kind, whole, notice.key, created_at))
        except Exception:
            FAILED.inc()
            log.exception("could not build notification %s", notice.key)
    return found


def _outgoing(user_id: str, kind: NoticeKind, whole: pb.Auction, key: str, created_at: Timestamp) -> Outgoing:
    auction = pb.Auction()
    auction.CopyFrom(whole)
    mask_auction(auction, Principal(user_id))
    message = pb.Notification(
        kind=kind.value,  # type: ignore[arg-type]
        auction_id=whole.auction_id,
        created_at=created_at,
        auction=auction,
        text=_text(kind, auction),
    )
    return Outgoing(user_id, key, message, whole)


def encode_outbox(outgoing: list[Outgoing]) -> bytes:
    """What the decision's compare-and-set keeps beside the state: the notifications it
    caused, so a worker that takes the command over after a crash can send them again.
    Compact, since a close tells every watcher: each state once, then per notification its
    recipient, kind, state and key. Past MAX_OUTBOX_BYTES the last ones are left out (and
    counted): they are still sent, only not again after a crash."""
    if not outgoing:
        return b""
    states: dict[int, int] = {}
    wholes: list[str] = []
    rows: list[list[object]] = []
    size = 0
    for o in outgoing:
        index = states.get(id(o.whole))
        if index is None:
            index = states[id(o.whole)] = len(wholes)
            wholes.append(base64.b64encode(o.whole.SerializeToString()).decode())
            size += len(wholes[-1])
        cause = o.key.split(":", 2)[1]  # the rest of the key is the auction, kind and user
        row: list[object] = [o.user_id, o.notification.kind, index, cause]
        size += len(o.user_id) + len(cause) + 16
        if size > MAX_OUTBOX_BYTES:
            OUTBOX_OVERFLOW.inc(len(outgoing) - len(rows))
            log.warning("outbox full: %d notifications kept for a resend of %d", len(rows), len(outgoing))
            break
        rows.append(row)
    at = outgoing[0].notification.created_at
    return json.dumps({"at": [at.seconds, at.nanos], "states": wholes, "told": rows}).encode()


def decode_outbox(data: bytes | None) -> list[Outgoing]:
    if not data:
        return []
    box = json.loads(data)
    created_at = Timestamp(seconds=box["at"][0], nanos=box["at"][1])
    wholes = [pb.Auction.FromString(base64.b64decode(s)) for s in box["states"]]
    return [
        _outgoing(u, NoticeKind(k), wholes[i], f"{wholes[i].auction_id}:{cause}:{NoticeKind(k).name}:{u}", created_at)
        for u, k, i, cause in box["told"]
    ]


def merged(*batches: list[Outgoing]) -> list[Outgoing]:
    """The batches in order, each cause once."""
    return list({o.key: o for batch in batches for o in batch}.values())


async def publish(js: JetStreamContext, outgoing: list[Outgoing]) -> None:
    """Keeps every notification (each on its own: one that fails does not hold back the rest).
    If NATS failed any of them, raises once all were tried, so that the command is not
    acknowledged and its redelivery sends them again (the kept ones are deduplicated)."""

    async def one(o: Outgoing) -> None:
        headers = {"Nats-Msg-Id": o.key, USER_HEADER: recipient_tag(o.user_id)}
        await js.publish(subject(o.user_id), o.notification.SerializeToString(), headers=headers)
        PUBLISHED.labels(pb.NotificationKind.Name(o.notification.kind)).inc()

    async def in_order(mine: list[Outgoing]) -> list[BaseException]:
        """One user's in the order they were caused; a failure does not stop the next."""
        failed: list[BaseException] = []
        for o in mine:
            try:
                await one(o)
            except Exception as exc:
                failed.append(exc)
        return failed

    by_user: dict[str, list[Outgoing]] = {}
    for o in outgoing:
        by_user.setdefault(o.user_id, []).append(o)
    results = await asyncio.gather(*(in_order(mine) for mine in by_user.values()))
    errors = [e for failed in results for e in failed]
    for error in errors:
        FAILED.inc()
        log.warning("could not keep a notification: %r", error)
    transient = [e for e in errors if isinstance(e, (nats.errors.Error, OSError))]
    if transient:
        raise transient[0]


def from_msg(msg: Msg) -> pb.Notification:
    """A kept notification, with its id (the stream sequence: the reader's cursor)."""
    notification = pb.Notification.FromString(msg.data)
    notification.notification_id = str(msg.metadata.sequence.stream)
    return notification
