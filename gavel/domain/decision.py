"""Every command of an auction's log, decided: the one entry point the worker folds through.

Most commands are decided from the auction's state alone. The ones that look at the bids
themselves (a retraction, a sale moving to the next bidder) are given the auction's decided
bids (``history``, from its partition); ``decide_all`` keeps that history current through a
group, so a group folds to what one-at-a-time would give.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from gavel.domain.auction import Auction
from gavel.domain.bidding import (
    BidOutcome,
    BuyNow,
    CloseAuction,
    PlaceBid,
    Steps,
    decide_bid,
    decide_buy_now,
    decide_close,
)
from gavel.domain.reminders import EndingSoon, decide_ending_soon
from gavel.domain.sale import DeclineOffer, PaySale, SaleDeadline, decide_deadline, decide_decline, decide_pay
from gavel.domain.takeback import CancelAuction, RetractBid, Retracted, decide_cancel, decide_retract

Command = (
    PlaceBid | BuyNow | CloseAuction | PaySale | DeclineOffer | SaleDeadline | CancelAuction | RetractBid | EndingSoon
)
#: The commands decided from the bids as well as the state: their worker reads the history.
NEEDS_HISTORY = (DeclineOffer, SaleDeadline, RetractBid)


def decide(state: Auction, command: Command, history: Sequence[BidOutcome] = ()) -> Steps:
    """The records one command makes (none for a no-op), each with the state right after it."""
    match command:
        case PlaceBid():
            return decide_bid(state, command)
        case BuyNow():
            return decide_buy_now(state, command)
        case CloseAuction():
            return decide_close(state, command)
        case PaySale():
            return decide_pay(state, command)
        case DeclineOffer():
            return decide_decline(state, command, history)
        case SaleDeadline():
            return decide_deadline(state, command, history)
        case CancelAuction():
            return decide_cancel(state, command)
        case RetractBid():
            return decide_retract(state, command, history)
        case EndingSoon():
            return decide_ending_soon(state, command)


def decide_all(
    state: Auction, commands: Iterable[Command], history: Sequence[BidOutcome] = ()
) -> tuple[Auction, Steps]:
    """Group commit's fold: the commands in log order, each record with the state right after
    it. ``history``: the auction's decided bids before the first (needed by NEEDS_HISTORY)."""
    steps: Steps = []
    bids = list(history)
    for command in commands:
        made = decide(state, command, bids)
        for _, outcome in made:
            if isinstance(outcome, BidOutcome):
                bids.append(outcome)
            elif isinstance(outcome, Retracted) and outcome.bid_ids:
                bids = [replace(b, retracted=True) if b.bid_id in outcome.bid_ids else b for b in bids]
        if made:
            state = made[-1][0]
            steps += made
    return state, steps
