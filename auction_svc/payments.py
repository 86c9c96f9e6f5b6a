"""The payment provider behind PaySale: a port, so a real provider's adapter replaces the
stand-in without touching the sale's rules.

PaySale asks the provider to take the payment (idempotent on the request id, as providers'
idempotency keys are) before the payment goes into the auction's log; a payment the log then
refuses (the window closed meanwhile) is given back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Charge:
    auction_id: str
    buyer_id: str
    amount: int
    currency: str
    #: The idempotency key: the same request charges once.
    request_id: str


class PaymentProvider(Protocol):
    async def charge(self, charge: Charge) -> None:
        """Takes the payment, or raises (nothing is then recorded)."""

    async def refund(self, charge: Charge) -> None:
        """Gives back a payment the sale refused after it was taken."""


class StandInProvider:
    """Confirms every payment: what the local stack and the tests run, standing in for a
    provider's confirmation. It keeps what it was asked, for an operator (and tests) to see."""

    def __init__(self) -> None:
        self.charged: dict[str, Charge] = {}
        self.refunded: dict[str, Charge] = {}

    async def charge(self, charge: Charge) -> None:
        self.charged.setdefault(charge.request_id, charge)

    async def refund(self, charge: Charge) -> None:
        self.refunded.setdefault(charge.request_id, charge)
