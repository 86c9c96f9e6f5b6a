"""A command no worker can decide goes to the dead-letter stream, readable, with its reason."""

from __future__ import annotations

import uuid

import nats

from gavel import bus
from gavel.settings import Settings


async def test_garbage_in_the_log_is_dead_lettered_with_a_reason(stack: object, settings: Settings) -> None:
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    try:
        marker = f"not json {uuid.uuid4()}".encode()
        dead = await js.subscribe("dlq.bids.*", ordered_consumer=True)
        ack = await js.publish(bus.bid_subject(3), marker)
        while True:  # earlier dead letters may precede ours; each arrives as an event
            msg = await dead.next_msg(timeout=30)
            if msg.data == marker:
                break
        assert msg.subject == bus.dead_letter_subject(3)
        assert msg.headers["Gavel-Reason"].startswith("not a command")
        assert msg.headers["Gavel-Stream-Seq"] == str(ack.seq)
    finally:
        await nc.close()
