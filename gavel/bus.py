"""NATS: the connection every service shares, the bid log's streams, and the subject names.

Subjects are part of the design: commands for an auction go to ``bids.<p>`` with
``p = crc32(auction id) % P`` (stable across processes and languages, unlike ``hash()``);
state changes go to ``auction.<id>``; commands nobody can decide go to ``dlq.bids.<p>``.
"""

from __future__ import annotations

import logging
import uuid
import zlib
from collections.abc import Awaitable, Callable

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from gavel import notifications
from gavel.settings import Settings

log = logging.getLogger(__name__)

BIDS_STREAM = "BIDS"
DLQ_STREAM = "BIDS_DLQ"
#: Retried publishes with the same Nats-Msg-Id inside this window are stored once; past it
#: the worker still finds the bid's recorded outcome (the bid id is derived from the request).
DEDUPE_WINDOW_S = 600.0
#: The log is also the audit trail of commands: kept a week after processing.
RETENTION_S = 7 * 24 * 3600.0


def partition_of(auction_id: uuid.UUID, partitions: int) -> int:
    return zlib.crc32(auction_id.bytes) % partitions


def bid_subject(partition: int) -> str:
    return f"bids.{partition}"


def dead_letter_subject(partition: int) -> str:
    return f"dlq.bids.{partition}"


def auction_subject(auction_id: uuid.UUID | str) -> str:
    return f"auction.{auction_id}"


async def connect(settings: Settings, name: str, on_reconnect: Callable[[], Awaitable[None]] | None = None) -> Client:
    """Reconnects forever: a NATS restart is an outage to wait out, not a crash. Core NATS
    messages sent while disconnected are gone; ``on_reconnect`` lets a subscriber catch up."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats error: %s", exc)

    async def on_reconnected() -> None:
        log.info("nats reconnected")
        if on_reconnect is not None:
            await on_reconnect()

    return await nats.connect(
        settings.nats_servers,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        error_cb=on_error,
        reconnected_cb=on_reconnected,
    )


async def ensure_streams(js: JetStreamContext, settings: Settings) -> None:
    """Creates (or brings up to date) the streams; idempotent, run by every process at start."""
    configs = [
        StreamConfig(
            name=BIDS_STREAM,
            subjects=["bids.*"],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            max_age=RETENTION_S,
            duplicate_window=DEDUPE_WINDOW_S,
            num_replicas=settings.nats_replicas,
            discard=DiscardPolicy.OLD,
        ),
        StreamConfig(
            name=DLQ_STREAM,
            subjects=["dlq.bids.*"],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            max_age=30 * 24 * 3600.0,
            num_replicas=settings.nats_replicas,
        ),
    ]
    configs.append(notifications.stream_config(settings, DEDUPE_WINDOW_S))
    for config in configs:
        try:
            await js.add_stream(config)
        except BadRequestError:
            await js.update_stream(config)
