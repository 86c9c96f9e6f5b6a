"""Seeing the bid log from outside: the partitions' consumers, what each would replay, and
the moments they are (re)created (JetStream's own advisories, so tests await the event
rather than poll for it)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import nats
from nats.js.api import ConsumerInfo

from gavel import bus
from gavel.settings import Settings

_DURABLE = re.compile(r"^worker-p(\d+)$")


@dataclass(frozen=True)
class Partition:
    """One partition's consumer, as JetStream reports it."""

    number: int
    info: ConsumerInfo

    @property
    def unacknowledged(self) -> int:
        """Commands the consumer has not seen acknowledged: delivered and pending, or not yet sent."""
        return (self.info.num_ack_pending or 0) + (self.info.num_pending or 0)

    @property
    def replay(self) -> int:
        """Everything this consumer has delivered or will deliver since it was created: right
        after a takeover, what the new owner (re)decides. (Redeliveries would count twice, but
        none happen inside the 30-s ack wait.)"""
        delivered = self.info.delivered.consumer_seq if self.info.delivered else 0
        return delivered + (self.info.num_pending or 0)


async def partitions(settings: Settings) -> dict[int, Partition]:
    nc = await nats.connect(settings.nats_url)
    try:
        found = {}
        for info in await nc.jetstream().consumers_info(bus.BIDS_STREAM):
            match = _DURABLE.match(info.name)
            if match:
                found[int(match.group(1))] = Partition(int(match.group(1)), info)
        return found
    finally:
        await nc.close()


async def commands_per_partition(settings: Settings) -> dict[int, int]:
    """How many commands the log holds on each partition's subject."""
    nc = await nats.connect(settings.nats_url)
    try:
        info = await nc.jetstream().stream_info(bus.BIDS_STREAM, subjects_filter="bids.*")
        return {int(subject.split(".")[1]): count for subject, count in (info.state.subjects or {}).items()}
    finally:
        await nc.close()


async def quiescent(settings: Settings, timeout: float = 30.0) -> dict[int, Partition]:
    """The consumers once none has a command in flight (every delivered command acknowledged).

    There is no event for an acknowledgement, so this reads the consumers until they agree;
    bounded, and it fails naming the partitions still busy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await partitions(settings)
        busy = {n: p.unacknowledged for n, p in found.items() if p.unacknowledged}
        if not busy:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"partitions still have unacknowledged commands after {timeout} s: {busy}")
        await asyncio.sleep(0.2)


class Creations:
    """The partitions whose consumer was created since the watch began."""

    def __init__(self) -> None:
        self.created: list[int] = []
        self._changed = asyncio.Condition()

    async def _on(self, msg: nats.aio.msg.Msg) -> None:
        match = _DURABLE.match(json.loads(msg.data).get("consumer", ""))
        if match:
            async with self._changed:
                self.created.append(int(match.group(1)))
                self._changed.notify_all()

    async def until(self, wanted: int | set[int], timeout: float = 60.0) -> set[int]:
        """Returns the distinct partitions created, once there are ``wanted`` many of them (or
        once they include the ``wanted`` set)."""

        def done() -> bool:
            seen = set(self.created)
            return seen >= wanted if isinstance(wanted, set) else len(seen) >= wanted

        async def enough() -> set[int]:
            async with self._changed:
                await self._changed.wait_for(done)
                return set(self.created)

        try:
            return await asyncio.wait_for(enough(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"partitions taken within {timeout} s: {sorted(set(self.created))}; wanted {wanted}"
            ) from None


@asynccontextmanager
async def consumer_creations(settings: Settings) -> AsyncIterator[Creations]:
    nc = await nats.connect(settings.nats_url)
    creations = Creations()
    await nc.subscribe(f"$JS.EVENT.ADVISORY.CONSUMER.CREATED.{bus.BIDS_STREAM}.*", cb=creations._on)
    await nc.flush()
    try:
        yield creations
    finally:
        await nc.close()
