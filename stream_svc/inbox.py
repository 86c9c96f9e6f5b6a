"""A user's notifications, read from the notification log (``gavel.notifications``): the
live stream from a cursor, and the kept history a page at a time, newest first.

A connected user costs one ephemeral, ordered consumer filtered to their subject, started
just after their cursor (or at the next new message): the log itself replays what they
missed and then pushes what comes, in order, so the hand-over from history to live needs no
merging here. A user who is not connected costs nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from gavel import notifications
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.errors import FieldViolation, InvalidArgument
from gavel.paging import PageTokens, cursor_int, page_size

HEARTBEAT = pb.Notification(heartbeat=True)
#: Sequences are positive int64s; anything else is not a cursor we issued.
MAX_SEQUENCE = 2**63 - 1


def parse_after(after: str) -> int:
    """The stream sequence to start after; 0 for live ones only."""
    if not after:
        return 0
    if not (after.isascii() and after.isdigit()) or not 0 < int(after) <= MAX_SEQUENCE:
        raise InvalidArgument([FieldViolation("after", "must be a notification_id this service issued")])
    return int(after)


class Inbox:
    def __init__(self, js: JetStreamContext, tokens: PageTokens, heartbeat_interval: float) -> None:
        self._js = js
        self._tokens = tokens
        self._heartbeat_interval = heartbeat_interval

    async def follow(self, user_id: str, after: int) -> AsyncIterator[pb.Notification]:
        """Everything after ``after`` that is still kept, then live ones, heartbeats between."""
        if after:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1)
        else:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
        tag = notifications.recipient_tag(user_id)
        sub = await self._js.subscribe(
            notifications.subject(user_id), stream=notifications.STREAM, ordered_consumer=True, config=config
        )
        try:
            yield HEARTBEAT  # subscribed: from here on nothing is missed
            while True:
                try:
                    msg = await sub.next_msg(timeout=self._heartbeat_interval)
                except (TimeoutError, nats.errors.TimeoutError):
                    yield HEARTBEAT
                    continue
                if (msg.headers or {}).get(notifications.USER_HEADER) == tag:  # not a digest's twin
                    yield notifications.from_msg(msg)
        finally:
            await asyncio.shield(sub.unsubscribe())

    async def page(self, user_id: str, size: int, token: str) -> pb.ListMyNotificationsResponse:
        """Newest first. The kept history is short (``notification_history``), so it is read
        whole, oldest to newest by subject, and cut; the token is where the page ended."""
        size = page_size(size)
        before = cursor_int(self._tokens.decode(token), "before", 1, MAX_SEQUENCE) if token else MAX_SEQUENCE
        kept: list[pb.Notification] = []
        subject, tag = notifications.subject(user_id), notifications.recipient_tag(user_id)
        seq = 1
        while seq < before:
            try:
                raw = await self._js.get_msg(notifications.STREAM, seq=seq, subject=subject, next=True)
            except NotFoundError:
                break
            if raw.seq is None or raw.seq >= before:
                break
            if (raw.headers or {}).get(notifications.USER_HEADER) == tag and raw.data is not None:
                message = pb.Notification.FromString(raw.data)
                message.notification_id = str(raw.seq)
                kept.append(message)
            seq = raw.seq + 1
        newest = kept[::-1]
        found, rest = newest[:size], newest[size:]
        next_token = self._tokens.encode({"before": int(found[-1].notification_id)}) if rest else ""
        return pb.ListMyNotificationsResponse(notifications=found, next_page_token=next_token)
