"""The commands in the bid log, as JSON (readable by an operator in the dead-letter stream).

PlaceBid comes from bid_svc's API, CloseAuction from auction_svc's closer; both land on the
auction's partition so the worker decides them in one order.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from gavel.domain.bidding import CloseAuction, PlaceBid


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    auction_id: uuid.UUID


class PlaceBidCommand(_Command):
    kind: Literal["bid"] = "bid"
    bid_id: uuid.UUID
    bidder_id: str
    amount: int = Field(gt=0)
    placed_at: datetime
    #: Where the waiting PlaceBid listens for the outcome (core NATS; may be gone by then).
    reply_to: str = ""

    def to_domain(self) -> PlaceBid:
        return PlaceBid(self.bid_id, self.auction_id, self.bidder_id, self.amount, self.placed_at)


class CloseAuctionCommand(_Command):
    kind: Literal["close"] = "close"
    end_date: datetime

    def to_domain(self, now: datetime) -> CloseAuction:
        return CloseAuction(self.auction_id, self.end_date, now)

    @property
    def msg_id(self) -> str:
        """Closing the same end twice is stored once (and decided once regardless)."""
        return f"close-{self.auction_id}-{int(self.end_date.timestamp() * 1000)}"


Command = Annotated[PlaceBidCommand | CloseAuctionCommand, Field(discriminator="kind")]
_adapter: TypeAdapter[PlaceBidCommand | CloseAuctionCommand] = TypeAdapter(Command)


def encode(command: PlaceBidCommand | CloseAuctionCommand) -> bytes:
    return command.model_dump_json().encode()


def decode(data: bytes) -> PlaceBidCommand | CloseAuctionCommand:
    """Raises pydantic.ValidationError for anything that is not a command."""
    command = _adapter.validate_json(data)
    for stamp in ("placed_at", "end_date"):
        value = getattr(command, stamp, None)
        if value is not None and value.tzinfo is None:
            raise ValueError(f"{stamp} must carry a timezone")
    return command
