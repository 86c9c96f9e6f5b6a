"""Leases on the real NATS KV: one owner at a time; an owner that comes back under the same id
(a restarted worker) takes its own leases back at once; nobody else can."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.js.kv import KeyValue

from gavel.lease import Leases, bucket
from gavel.settings import Settings


@pytest.fixture
async def kv(stack: object, settings: Settings) -> AsyncIterator[KeyValue]:
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    name = f"test_leases_{uuid.uuid4().hex[:8]}"
    try:
        yield await bucket(js, name, 30.0, 1)
    finally:
        await js.delete_key_value(name)
        await nc.close()


async def test_a_restarted_owner_takes_its_own_lease_back_and_nobody_else_can(kv: KeyValue) -> None:
    first_run = Leases(kv, "worker-a")
    assert await first_run.try_acquire("7")
    assert not await Leases(kv, "worker-b").try_acquire("7"), "held by worker-a"

    # worker-a dies without releasing; its next run (the same id, nothing held in memory):
    second_run = Leases(kv, "worker-a")
    assert await second_run.try_acquire("7")
    assert second_run.held == {"7"}
    assert not await first_run.renew("7"), "the dead run's revision is stale: it cannot renew"
    assert await second_run.renew("7")
    assert not await Leases(kv, "worker-b").try_acquire("7")

    await second_run.release("7")
    assert await Leases(kv, "worker-b").try_acquire("7"), "released: free for anyone"
