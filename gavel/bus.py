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
from nats.js.api import ConsumerInfo, DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

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
#: The bid log's stream records the partition count it is split by (its metadata): an
#: auction's partition must never move while commands for it are in the log.
PARTITIONS_KEY = "gavel_bid_partitions"
#: What a log created before the count was recorded was split by (the only count used then).
UNRECORDED_PARTITIONS = 64


class PartitionsChanged(RuntimeError):
    """The configured partition count differs from the log's while commands are undecided."""


def partition_of(auction_id: uuid.UUID, partitions: int) -> int:
    return zlib.crc32(auction_id.bytes) % partitions


def bid_subject(partition: int) -> str:
    return f"bids.{partition}"


def worker_durable(partition: int) -> str:
    """The durable consumer that decides the partition's commands (whoever owns it)."""
    return f"worker-p{partition}"


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


async def _undecided_partitions(js: JetStreamContext, partitions: int) -> list[int]:
    """The partitions of a log split ``partitions`` ways that may hold undecided commands:
    their consumer has commands left or unacknowledged, or they hold commands and have no
    consumer to tell (conservative: such a log is not known to be drained)."""
    held = (await js.stream_info(BIDS_STREAM, subjects_filter="bids.*")).state.subjects or {}
    consumers: dict[str, ConsumerInfo] = {}
    while True:  # the server answers at most 256 consumers per request
        page = await js.consumers_info(BIDS_STREAM, offset=len(consumers))
        consumers.update({c.name: c for c in page})
        if len(page) < 256:
            break
    undecided = []
    for k in range(partitions):
        info = consumers.get(worker_durable(k))
        if info is None:
            if held.get(bid_subject(k), 0):
                undecided.append(k)
        elif (info.num_pending or 0) + (info.num_ack_pending or 0) > 0:
            undecided.append(k)
    return undecided


async def _check_partitions(js: JetStreamContext, partitions: int) -> None:
    """Refuses a partition count other than the log's while any command may be undecided:
    a changed count moves auctions to other partitions (``partition_of``), so an undecided
    command would be left where no consumer looks, or decided out of order with the
    auction's newer ones. A drained log may be split anew (with every process stopped)."""
    try:
        info = await js.stream_info(BIDS_STREAM)
    except NotFoundError:
        return  # a new log: split as configured
    recorded = int((info.config.metadata or {}).get(PARTITIONS_KEY, UNRECORDED_PARTITIONS))
    if recorded == partitions:
        return
    undecided = await _undecided_partitions(js, recorded)
    if undecided:
        raise PartitionsChanged(
            f"the bid log is split {recorded} ways and partitions {undecided[:10]} may hold undecided"
            f" commands; configured for {partitions} (GAVEL_BID_PARTITIONS). Run with {recorded} until"
            " the workers have decided them, then stop everything and change it"
        )
    log.warning("the bid log is drained: re-splitting it from %d to %d partitions", recorded, partitions)


async def ensure_streams(js: JetStreamContext, settings: Settings) -> None:
    """Creates (or brings up to date) the streams; idempotent, run by every process at start.
    The bid log records the partition count it is split by (see ``_check_partitions``)."""
    await _check_partitions(js, settings.bid_partitions)
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
            metadata={PARTITIONS_KEY: str(settings.bid_partitions)},
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
