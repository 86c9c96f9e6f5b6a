"""Ending soon: the timer that tells an auction's bidders and watchers it ends shortly.

Like the close, it is a command in the auction's log (the closer puts it there at
``end_date - notification_ending_soon``), so it is decided in order with the bids: an auction
that closed, was cancelled or whose end moved since the timer was set tells no one. It changes
no state; what it causes is the notices (``notices``), whose cause is the end it was set for,
so the same timer decided twice tells each user once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from gavel.domain.auction import Auction
from gavel.domain.bidding import Steps


@dataclass(frozen=True, slots=True)
class EndingSoon:
    auction_id: uuid.UUID
    #: The end the timer was set for.
    end_date: datetime
    at: datetime


@dataclass(frozen=True, slots=True)
class EndsSoon:
    command: EndingSoon
    version: int


def decide_ending_soon(state: Auction, command: EndingSoon) -> Steps:
    still = state.closed_at is None and state.cancelled_at is None and state.end_date == command.end_date
    if not still or command.at >= state.end_date:
        return []
    return [(state, EndsSoon(command, state.version))]
