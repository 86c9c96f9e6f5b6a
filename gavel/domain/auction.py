"""An auction and what its state means at a given instant."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta


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
class IncrementStep:
    """From ``from_price`` on (inclusive), bids rise by ``increment``."""

    from_price: int
    increment: int


#: eBay's US bid increments, in minor units: the table of an auction that brings none.
DEFAULT_INCREMENTS = tuple(
    IncrementStep(f, i)
    for f, i in (
        (0, 5),
        (100, 25),
        (500, 50),
        (2_500, 100),
        (10_000, 250),
        (25_000, 500),
        (50_000, 1_000),
        (100_000, 2_500),
        (250_000, 5_000),
        (500_000, 10_000),
    )
)


def increment_at(table: tuple[IncrementStep, ...], price: int) -> int:
    """The increment of the table's last step whose ``from_price`` is at most ``price``
    (tables start at 0, so there always is one)."""
    step = table[0]
    for candidate in table:
        if candidate.from_price > price:
            break
        step = candidate
    return step.increment


@dataclass(frozen=True, slots=True)
class SoftClose:
    """A bid in the last ``window`` that changes the price or the leader moves the end to
    ``placed_at + extension``, never past ``hard_end``: sniping does not pay."""

    window: timedelta
    extension: timedelta
    hard_end: datetime


class SaleStatus(enum.Enum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    UNSOLD = "unsold"


#: The sale's production terms (the settings' defaults), and those of an auction stored
#: before the sale existed.
DEFAULT_PAYMENT_WINDOW = timedelta(hours=48)
DEFAULT_PAYMENT_WINDOW_MIN = timedelta(hours=24)
DEFAULT_MAX_OFFERS = 3


@dataclass(frozen=True, slots=True)
class Sale:
    """What follows the gavel: the buyer (the winner, offer 0, or a next bidder) pays by
    ``pay_by``, or the sale moves on; ``passed`` never get an offer again."""

    buyer_id: str
    price: int
    status: SaleStatus
    pay_by: datetime | None
    offer: int = 0
    paid_at: datetime | None = None
    #: The PaySale that paid: its retry answers the same, any other payment is refused.
    paid_request_id: str = ""
    #: Buyers who did not pay in their window or declined, in the order they were passed.
    passed: tuple[str, ...] = ()


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
    #: Hidden from all but the seller; 0 = none.
    reserve_price: int = 0
    #: 0 = none.
    buy_now_price: int = 0
    #: Empty: DEFAULT_INCREMENTS.
    increments: tuple[IncrementStep, ...] = ()
    soft_close: SoftClose | None = None
    #: The end it was created with (``end_date`` is the effective end); None: ``end_date``.
    original_end_date: datetime | None = None
    # The state the bid path changes, always together and always with version + 1.
    version: int = 0
    highest_bid: int = 0
    highest_bidder_id: str = ""
    highest_bid_id: uuid.UUID | None = None
    bid_count: int = 0
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str = ""
    winner_id: str = ""
    #: The leader's maximum: private to the leader, never in any read of anyone else's.
    leader_max: int = 0
    #: The sale's terms, fixed when the auction is created.
    payment_window: timedelta = DEFAULT_PAYMENT_WINDOW
    max_offers: int = DEFAULT_MAX_OFFERS
    #: Set when the auction closes with a winner (or sells by Buy It Now).
    sale: Sale | None = None
    #: Everyone who has had a bid decided here, in the order of their first: a bidder's
    #: alias is their place in it (``alias_of``), so it never changes and needs no lookup.
    bidders: tuple[str, ...] = ()

    def alias_of(self, bidder_id: str) -> int:
        """The bidder's number on this auction, from 1 (0: they have not bid here)."""
        try:
            return self.bidders.index(bidder_id) + 1
        except ValueError:
            return 0

    def with_bidder(self, bidder_id: str) -> Auction:
        """The auction once ``bidder_id`` has a bid decided on it: a new bidder takes the
        next number."""
        if bidder_id in self.bidders:
            return self
        return replace(self, bidders=(*self.bidders, bidder_id))

    @property
    def increment_table(self) -> tuple[IncrementStep, ...]:
        return self.increments or DEFAULT_INCREMENTS

    def increment(self, price: int) -> int:
        return increment_at(self.increment_table, price)

    @property
    def min_next_bid(self) -> int:
        """What anyone but the leader must bid at least."""
        if not self.highest_bidder_id:
            return self.starting_price
        return self.highest_bid + self.increment(self.highest_bid)

    @property
    def reserve_met(self) -> bool:
        """The price reaches the reserve as soon as a maximum does, so the price tells."""
        return self.reserve_price == 0 or (bool(self.highest_bidder_id) and self.highest_bid >= self.reserve_price)

    @property
    def buy_now_available(self) -> bool:
        """Until the first accepted bid; with a reserve, until the reserve is met (eBay's rule)."""
        if self.buy_now_price == 0 or self.closed_at is not None or self.cancelled_at is not None:
            return False
        return not self.highest_bidder_id or not self.reserve_met

    @property
    def extended(self) -> bool:
        return self.original_end_date is not None and self.end_date != self.original_end_date

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
