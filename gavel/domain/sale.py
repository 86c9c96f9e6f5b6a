"""After the gavel: the buyer pays within the window, or the sale moves to the next bidder.

A close with a winner (or a Buy It Now) starts the sale (``bidding.sale_to_winner``). Its
deadline is a command in the auction's log like any other, at ``pay_by``: it moves the sale on
only if it is the deadline of the offer still standing, so one that arrives after a payment, a
decline or a second time changes nothing. Moving on offers the item to the best maximum of
the bidders not yet passed over (``standings``), at that bidder's own maximum, for a window of
their own; after ``max_offers`` such offers, or with nobody left, the item is unsold.

Only the winner is counted as an unpaid buyer: a next bidder's offer is an offer, which they
may let lapse as well as decline.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from gavel.domain.auction import Auction, Sale, SaleStatus
from gavel.domain.bidding import BidOutcome, Steps
from gavel.domain.refusals import Refusal, refuse
from gavel.domain.standings import replay


@dataclass(frozen=True, slots=True)
class PaySale:
    auction_id: uuid.UUID
    buyer_id: str
    #: The payment's own id: a retry with it answers the same payment.
    request_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DeclineOffer:
    auction_id: uuid.UUID
    bidder_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class SaleDeadline:
    """The timer of one offer: which offer, and the ``pay_by`` it was given."""

    auction_id: uuid.UUID
    offer: int
    pay_by: datetime
    #: When it was decided: the moment of the next offer, if it makes one.
    at: datetime


SaleCommand = PaySale | DeclineOffer | SaleDeadline


@dataclass(frozen=True, slots=True)
class SaleChanged:
    """The sale after a command (unchanged, same version, for a repeated payment or decline)."""

    command: SaleCommand
    version: int
    sale: Sale
    #: The winner whose window passed unpaid ("" otherwise): counted against them.
    unpaid_buyer: str = ""


def _unchanged(state: Auction, command: SaleCommand) -> Steps:
    assert state.sale is not None
    return [(state, SaleChanged(command, state.version, state.sale))]


def _open_sale_refusal(state: Auction, who: str, at: datetime) -> Refusal | None:
    """Why ``who`` cannot act on the sale now; None: they are the buyer, within the window."""
    sale = state.sale
    if state.cancelled_at is not None:
        return Refusal.AUCTION_CANCELLED
    if sale is None:
        return Refusal.NO_SALE
    if sale.status is SaleStatus.PAID:
        return Refusal.ALREADY_PAID
    if sale.status is SaleStatus.UNSOLD:
        return Refusal.SALE_UNSOLD
    if sale.buyer_id != who:
        return Refusal.NOT_THE_BUYER
    assert sale.pay_by is not None
    if at >= sale.pay_by:
        return Refusal.PAYMENT_WINDOW_PASSED
    return None


def next_offer(state: Auction, history: Sequence[BidOutcome], passed: tuple[str, ...], offer: int) -> Sale:
    """Offer number ``offer`` (1 = the first next bidder): the best standing maximum that met
    the reserve, of a bidder not passed over, at that maximum; or unsold."""
    if offer <= state.max_offers:
        _, standing = replay(state, history)
        for st in standing:
            if st.bidder_id in passed or (state.reserve_price and st.maximum < state.reserve_price):
                continue
            return Sale(st.bidder_id, st.maximum, SaleStatus.AWAITING_PAYMENT, None, offer, passed=passed)
    return Sale("", 0, SaleStatus.UNSOLD, None, offer - 1, passed=passed)


def _move_on(state: Auction, command: SaleCommand, history: Sequence[BidOutcome], unpaid: str) -> Steps:
    sale = state.sale
    assert sale is not None
    offered = next_offer(state, history, (*sale.passed, sale.buyer_id), sale.offer + 1)
    if offered.status is SaleStatus.AWAITING_PAYMENT:
        offered = replace(offered, pay_by=command.at + state.payment_window)
    after = replace(state, version=state.version + 1, sale=offered)
    return [(after, SaleChanged(command, after.version, offered, unpaid))]


def decide_pay(state: Auction, pay: PaySale) -> Steps:
    """Only the current buyer, within their window; a retry of the payment that paid answers it."""
    sale = state.sale
    if (
        sale is not None
        and sale.status is SaleStatus.PAID
        and (sale.buyer_id, sale.paid_request_id) == (pay.buyer_id, pay.request_id)
    ):
        return _unchanged(state, pay)
    reason = _open_sale_refusal(state, pay.buyer_id, pay.at)
    if reason is not None:
        return refuse(state, pay, reason)
    assert sale is not None
    paid = replace(sale, status=SaleStatus.PAID, paid_at=pay.at, paid_request_id=pay.request_id)
    after = replace(state, version=state.version + 1, sale=paid)
    return [(after, SaleChanged(pay, after.version, paid))]


def decide_decline(state: Auction, decline: DeclineOffer, history: Sequence[BidOutcome]) -> Steps:
    """A next bidder turning their offer down (the winner owes the item: they cannot)."""
    sale = state.sale
    if sale is not None and decline.bidder_id in sale.passed:
        return _unchanged(state, decline)  # declined already (or lapsed): nothing more to do
    reason = _open_sale_refusal(state, decline.bidder_id, decline.at)
    if reason is None and sale is not None and sale.offer == 0:
        reason = Refusal.WINNER_CANNOT_DECLINE
    if reason is not None:
        return refuse(state, decline, reason)
    return _move_on(state, decline, history, unpaid="")


def decide_deadline(state: Auction, deadline: SaleDeadline, history: Sequence[BidOutcome]) -> Steps:
    """Moves the sale on if this is the deadline of the offer still awaiting payment; any
    other deadline (paid, declined, moved on, repeated) is a no-op."""
    sale = state.sale
    if (
        sale is None
        or state.cancelled_at is not None
        or sale.status is not SaleStatus.AWAITING_PAYMENT
        or (sale.offer, sale.pay_by) != (deadline.offer, deadline.pay_by)
    ):
        return []
    return _move_on(state, deadline, history, unpaid=sale.buyer_id if sale.offer == 0 else "")
