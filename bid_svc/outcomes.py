"""Where a waiting PlaceBid hears its decision.

Each API process listens on one subject of its own (``bid_outcomes.<instance>``) and commands
carry it as their reply address; outcomes are matched to waiters by bid id. Core NATS is
enough: a lost outcome only turns an answer into PENDING, the decision itself is durable.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from gavel.api.auction.v1 import auction_pb2 as pb


class OutcomeWaiter:
    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self.subject = f"bid_outcomes.{uuid.uuid4().hex}"
        self._waiting: dict[str, list[asyncio.Future[pb.Bid]]] = defaultdict(list)
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self.subject, cb=self._on_outcome)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()

    async def _on_outcome(self, msg: Msg) -> None:
        bid = pb.Bid.FromString(msg.data)
        for future in self._waiting.pop(bid.bid_id, []):
            if not future.done():
                future.set_result(bid)

    def expect(self, bid_id: uuid.UUID) -> asyncio.Future[pb.Bid]:
        """Register before publishing, so an outcome faster than the publish ack is not missed."""
        future: asyncio.Future[pb.Bid] = asyncio.get_running_loop().create_future()
        self._waiting[str(bid_id)].append(future)
        return future

    def forget(self, bid_id: uuid.UUID, future: asyncio.Future[pb.Bid]) -> None:
        waiters = self._waiting.get(str(bid_id))
        if waiters and future in waiters:
            waiters.remove(future)
            if not waiters:
                del self._waiting[str(bid_id)]
