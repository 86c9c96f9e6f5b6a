"""Why a command that is not a bid was refused: the rule it broke, named.

A bid's refusal is part of the bid (``RejectReason`` on its history row). The commands that
follow or take back an auction (pay, decline, cancel, retract) are refused with one of these,
and the API answers it as a gRPC status with the rule as a ``PreconditionFailure`` (or
``PERMISSION_DENIED`` for the ones that say who may act).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Any

from gavel.domain.auction import Auction
from gavel.domain.bidding import Steps


class Refusal(enum.Enum):
    # Who may act (answered PERMISSION_DENIED).
    NOT_THE_SELLER = "not_the_seller"
    NOT_THE_BUYER = "not_the_buyer"
    NOT_YOUR_BID = "not_your_bid"
    # When and in what state (answered FAILED_PRECONDITION).
    AUCTION_ENDED = "auction_ended"
    AUCTION_CANCELLED = "auction_cancelled"
    CANCEL_TOO_LATE = "cancel_too_late"
    RETRACT_TOO_LATE = "retract_too_late"
    NO_SALE = "no_sale"
    ALREADY_PAID = "already_paid"
    SALE_UNSOLD = "sale_unsold"
    PAYMENT_WINDOW_PASSED = "payment_window_passed"
    WINNER_CANNOT_DECLINE = "winner_cannot_decline"

    @property
    def permission(self) -> bool:
        return self in (Refusal.NOT_THE_SELLER, Refusal.NOT_THE_BUYER, Refusal.NOT_YOUR_BID)


@dataclass(frozen=True, slots=True)
class Refused:
    """A command decided against: the state changes only in its version (every decision is
    one, as for bids, so the compare-and-set judges the state it was refused on)."""

    command: Any
    version: int
    reason: Refusal


def refuse(state: Auction, command: Any, reason: Refusal) -> Steps:
    """The one step a refusal makes: the version, and nothing else, moves on."""
    after = replace(state, version=state.version + 1)
    return [(after, Refused(command, after.version, reason))]
