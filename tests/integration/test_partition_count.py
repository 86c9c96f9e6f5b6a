"""The bid log's partition count cannot change under undecided commands: a changed count moves
auctions to other partitions, and a command left in the old one would never be decided (or
would be decided out of order). On a NATS server of its own, so the shared stack's log is
never re-split."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from devstack import components
from devstack.process import ManagedProcess
from gavel import bus
from gavel.settings import Settings
from tests.local_stack import PORT_OFFSET


@pytest.fixture
def own_nats(tmp_path: Path, settings: Settings) -> Iterator[Settings]:
    o = PORT_OFFSET
    mine = settings.model_copy(
        update={
            "nats_port": 14622 + o,
            "nats_monitor_port": 18622 + o,
            "nats_url": f"nats://127.0.0.1:{14622 + o}",
            "data_dir": tmp_path,
        }
    )
    server: ManagedProcess = components.nats_process(mine)
    server.start()
    try:
        components.wait_ready(server, lambda: components.nats_ready(mine), 30)
        yield mine
    finally:
        server.stop()


@pytest.fixture
async def js(own_nats: Settings) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(own_nats.nats_url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


def split(settings: Settings, partitions: int) -> Settings:
    return settings.model_copy(update={"bid_partitions": partitions})


async def recorded(js: JetStreamContext) -> str:
    info = await js.stream_info(bus.BIDS_STREAM)
    return (info.config.metadata or {})[bus.PARTITIONS_KEY]


async def test_the_count_changes_only_once_every_command_is_decided(own_nats: Settings, js: JetStreamContext) -> None:
    await bus.ensure_streams(js, split(own_nats, 4))
    assert await recorded(js) == "4"
    await bus.ensure_streams(js, split(own_nats, 4))  # the same count: nothing to check

    await js.publish(bus.bid_subject(3), b"a command nobody has consumed")
    with pytest.raises(bus.PartitionsChanged, match=r"split 4 ways and partitions \[3\]"):
        await bus.ensure_streams(js, split(own_nats, 2))
    assert await recorded(js) == "4", "refused: the log keeps its count"

    # The partition's consumer took the command but has not acknowledged it: still undecided.
    config = ConsumerConfig(
        durable_name=bus.worker_durable(3), filter_subject=bus.bid_subject(3), ack_policy=AckPolicy.EXPLICIT
    )
    consumer = await js.pull_subscribe(bus.bid_subject(3), durable=bus.worker_durable(3), config=config)
    (delivered,) = await consumer.fetch(1, timeout=5)
    with pytest.raises(bus.PartitionsChanged):
        await bus.ensure_streams(js, split(own_nats, 2))

    await delivered.ack_sync()
    await bus.ensure_streams(js, split(own_nats, 2))  # drained: re-split
    assert await recorded(js) == "2"


async def test_a_log_from_before_the_count_was_recorded_is_taken_as_split_64_ways(
    own_nats: Settings, js: JetStreamContext
) -> None:
    await bus.ensure_streams(js, split(own_nats, 64))
    info = await js.stream_info(bus.BIDS_STREAM)
    info.config.metadata = {}
    await js.update_stream(info.config)
    await js.publish(bus.bid_subject(40), b"undecided, in a partition an 8-way split does not have")
    with pytest.raises(bus.PartitionsChanged, match=r"split 64 ways and partitions \[40\]"):
        await bus.ensure_streams(js, split(own_nats, 8))
    await bus.ensure_streams(js, split(own_nats, 64))
    assert await recorded(js) == "64"
