"""Where a caller waiting for a decision hears it: a bid's outcome, a payment's, a cancellation's.

Each API process listens on one subject of its own (``bid_outcomes.<instance>``) and commands
carry it as their reply address. The worker answers each command it decided there, with the
command's id in a header (a bid's id is its bid id) and, for a refused request, the rule it
broke; the body is the answer's message (a Bid, a Sale, an Auction). Core NATS is enough: a
lost reply only turns an answer into PENDING or a retry, the decision itself is durable.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

ID_HEADER = "Gavel-Command-Id"
REFUSAL_HEADER = "Gavel-Refusal"


@dataclass(frozen=True, slots=True)
class Reply:
    #: The answer's serialized message (empty for a refusal).
    data: bytes
    #: The rule a refused request broke (``Refusal``'s value); "" when it was done.
    refusal: str = ""


async def send(nc: Client, subject: str, command_id: uuid.UUID, data: bytes, refusal: str = "") -> None:
    headers = {ID_HEADER: str(command_id)} | ({REFUSAL_HEADER: refusal} if refusal else {})
    await nc.publish(subject, data, headers=headers)


class Replies:
    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self.subject = f"bid_outcomes.{uuid.uuid4().hex}"
        self._waiting: dict[str, list[asyncio.Future[Reply]]] = defaultdict(list)
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self.subject, cb=self._on_reply)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()

    async def _on_reply(self, msg: Msg) -> None:
        headers = msg.headers or {}
        reply = Reply(msg.data, headers.get(REFUSAL_HEADER, ""))
        for future in self._waiting.pop(headers.get(ID_HEADER, ""), []):
            if not future.done():
                future.set_result(reply)

    def expect(self, command_id: uuid.UUID) -> asyncio.Future[Reply]:
        """Register before publishing, so a reply faster than the publish ack is not missed."""
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting[str(command_id)].append(future)
        return future

    def forget(self, command_id: uuid.UUID, future: asyncio.Future[Reply]) -> None:
        waiters = self._waiting.get(str(command_id))
        if waiters and future in waiters:
            waiters.remove(future)
            if not waiters:
                del self._waiting[str(command_id)]
