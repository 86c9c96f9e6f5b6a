"""An auction and what its state means at a given instant."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime


class Status(enum.Enum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    ENDED = "ended"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Item:
    name: str
    description: str = ""
    image_url: str = ""


@dataclass(frozen=True, slots=True)
class Auction:
    auction_id: uuid.UUID
    seller_id: str
    item: Item
    start_date: datetime
    end_date: datetime
    starting_price: int
    currency: str
    created_at: datetime
    # The state the bid path changes, always together and always with version + 1.
    version: int = 0
    highest_bid: int = 0
    highest_bidder_id: str = ""
    highest_bid_id: uuid.UUID | None = None
    bid_count: int = 0
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    winner_id: str = ""

    def status_at(self, now: datetime) -> Status:
        """The clock decides scheduled/open/ended even before the closer has run, so a reader
        never sees an auction 'open' past its end because a close command is still queued."""
        if self.cancelled_at is not None:
            return Status.CANCELLED
        if self.closed_at is not None or now >= self.end_date:
            return Status.ENDED
        if now < self.start_date:
            return Status.SCHEDULED
        return Status.OPEN
