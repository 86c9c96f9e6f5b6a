"""The commands in the bid log, as JSON (readable by an operator in the dead-letter stream).

PlaceBid and BuyNow come from bid_svc's API, CloseAuction from auction_svc's closer (and from
the worker, for an end that soft close moved into the past); all land on the auction's
partition so the worker decides them in one order.

A bid may carry ``state``: the auction as the API read it to check the bid (when its cache of
sellers did not know the auction). A worker that knows nothing of the auction decides from it
instead of reading the auction again, and the compare-and-set on ``version`` judges it like
any state the worker holds: so a bid on a cold auction costs one read, not two, however many
auctions are open. Never trusted beyond that: a stale one only loses its compare-and-set.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from gavel.domain.auction import Auction
from gavel.domain.bidding import BuyNow, CloseAuction, PlaceBid
from gavel.domain.reminders import EndingSoon
from gavel.domain.sale import DeclineOffer, PaySale, SaleDeadline
from gavel.domain.takeback import CancelAuction, RetractBid


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    auction_id: uuid.UUID


class PlaceBidCommand(_Command):
    kind: Literal["bid"] = "bid"
    bid_id: uuid.UUID
    bidder_id: str
    amount: int = Field(gt=0)
    placed_at: AwareDatetime
    #: Where the waiting PlaceBid listens for the outcome (core NATS; may be gone by then).
    reply_to: str = ""
    #: The auction as the API read it, if it did (see the module's docstring).
    state: Auction | None = None

    def to_domain(self) -> PlaceBid:
        return PlaceBid(self.bid_id, self.auction_id, self.bidder_id, self.amount, self.placed_at)


class BuyNowCommand(_Command):
    kind: Literal["buy_now"] = "buy_now"
    bid_id: uuid.UUID
    bidder_id: str
    placed_at: AwareDatetime
    reply_to: str = ""
    state: Auction | None = None

    def to_domain(self) -> BuyNow:
        return BuyNow(self.bid_id, self.auction_id, self.bidder_id, self.placed_at)


#: The commands a bidder places: each is a bid row once decided, and its placer waits for it.
BidCommand = PlaceBidCommand | BuyNowCommand
BID_COMMANDS = (PlaceBidCommand, BuyNowCommand)


class CloseAuctionCommand(_Command):
    kind: Literal["close"] = "close"
    end_date: AwareDatetime

    def to_domain(self, now: datetime) -> CloseAuction:
        return CloseAuction(self.auction_id, self.end_date, now)

    @property
    def msg_id(self) -> str:
        """Closing the same end twice is stored once (and decided once regardless)."""
        return f"close-{self.auction_id}-{int(self.end_date.timestamp() * 1000)}"


class EndingSoonCommand(_Command):
    kind: Literal["ending_soon"] = "ending_soon"
    end_date: AwareDatetime

    def to_domain(self, now: datetime) -> EndingSoon:
        return EndingSoon(self.auction_id, self.end_date, now)

    @property
    def msg_id(self) -> str:
        return f"ending-soon-{self.auction_id}-{int(self.end_date.timestamp() * 1000)}"


class _Request(_Command):
    """A command someone waits for (pay, decline, cancel, retract): its id is where the decision
    is answered (``reply_to``), and the time it was received is the one the rules judge."""

    command_id: uuid.UUID
    received_at: AwareDatetime
    reply_to: str = ""


class PaySaleCommand(_Request):
    kind: Literal["pay_sale"] = "pay_sale"
    buyer_id: str
    request_id: str

    def to_domain(self) -> PaySale:
        return PaySale(self.auction_id, self.buyer_id, self.request_id, self.received_at)


class DeclineOfferCommand(_Request):
    kind: Literal["decline_offer"] = "decline_offer"
    bidder_id: str

    def to_domain(self) -> DeclineOffer:
        return DeclineOffer(self.auction_id, self.bidder_id, self.received_at)


class CancelAuctionCommand(_Request):
    kind: Literal["cancel"] = "cancel"
    seller_id: str
    reason: str = ""
    #: The policy in force where the request was taken (GAVEL_CANCEL_MIN_REMAINING).
    min_remaining: timedelta

    def to_domain(self) -> CancelAuction:
        return CancelAuction(self.auction_id, self.seller_id, self.reason, self.received_at, self.min_remaining)


class RetractBidCommand(_Request):
    kind: Literal["retract"] = "retract"
    bidder_id: str
    bid_id: uuid.UUID
    reason: str = ""
    min_remaining: timedelta
    #: GAVEL_RETRACT_RECENT where the request was taken.
    recent: timedelta

    def to_domain(self) -> RetractBid:
        return RetractBid(
            self.auction_id, self.bidder_id, self.bid_id, self.reason, self.received_at, self.min_remaining, self.recent
        )


class SaleDeadlineCommand(_Command):
    """The closer's, at an offer's ``pay_by`` (the deadline index's entry)."""

    kind: Literal["sale_deadline"] = "sale_deadline"
    offer: int
    pay_by: AwareDatetime

    def to_domain(self, now: datetime) -> SaleDeadline:
        return SaleDeadline(self.auction_id, self.offer, self.pay_by, now)

    @property
    def msg_id(self) -> str:
        """The same deadline published twice is stored once (and decided once regardless)."""
        return f"deadline-{self.auction_id}-{self.offer}-{int(self.pay_by.timestamp() * 1000)}"


#: The closer's: each is put in the log at its moment, with a message id of its own.
TimerCommand = CloseAuctionCommand | SaleDeadlineCommand | EndingSoonCommand

#: The commands a caller waits for, besides bids.
REQUESTS = (PaySaleCommand, DeclineOfferCommand, CancelAuctionCommand, RetractBidCommand)
RequestCommand = PaySaleCommand | DeclineOfferCommand | CancelAuctionCommand | RetractBidCommand

AnyCommand = (
    PlaceBidCommand
    | BuyNowCommand
    | CloseAuctionCommand
    | PaySaleCommand
    | DeclineOfferCommand
    | CancelAuctionCommand
    | RetractBidCommand
    | SaleDeadlineCommand
    | EndingSoonCommand
)
Command = Annotated[AnyCommand, Field(discriminator="kind")]
_adapter: TypeAdapter[AnyCommand] = TypeAdapter(Command)


def encode(command: AnyCommand) -> bytes:
    return command.model_dump_json(exclude_none=True).encode()


def decode(data: bytes) -> AnyCommand:
    """Raises pydantic.ValidationError for anything that is not a command."""
    return _adapter.validate_json(data)
