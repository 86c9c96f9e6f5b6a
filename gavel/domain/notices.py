"""Who is told what, from a decision: the notifications a group of decided commands causes.

Pure, like the rest of the domain: the worker calls it with the state a group was decided
from and the group's steps, and everything a user is told follows from the change of state
alone. So each cause yields its notices once (a repeat changes no state, so it tells no one),
and the same decision always yields the same notices, with the same keys: that is what makes
them safe to send again after a crash (``Notice.key`` deduplicates).

The rules (issue 13):
- OUTBID: the leader lost the lead to another bidder's bid. A challenger answered at once by
  the leader's maximum is not told here (their PlaceBid answer says so), nor is a bidder who
  retracted their own lead. A bid that ends the auction (Buy It Now) ends it: WON and LOST
  say the rest.
- ENDING_SOON to every bidder and watcher, when the auction's ending-soon timer is decided
  (``reminders``): once per end it was set for.
- At the close: WON and PAYMENT_DUE to the winner; LOST to every other bidder and to every
  watcher (everyone, if there is no winner: the reserve was not met).
- AUCTION_CANCELLED to every bidder and watcher.
Watchers are told what bidders are told of the auction's end, never of bids; the seller is
told of its own auction only what is the seller's (RESERVE_MET, SALE_PAID).
- RESERVE_MET to the seller when the price reaches the reserve (again, if a retraction took
  it back below and a bid brings it up once more), while bidding is open.
- SECOND_CHANCE_OFFER to a next bidder when the sale is offered to them.
- SALE_PAID to the seller when the buyer pays.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from gavel.domain.auction import Auction, SaleStatus
from gavel.domain.bidding import BidOutcome, Steps
from gavel.domain.reminders import EndsSoon


class NoticeKind(enum.Enum):
    OUTBID = 1
    WON = 2
    LOST = 3
    ENDING_SOON = 4
    AUCTION_CANCELLED = 5
    PAYMENT_DUE = 6
    SECOND_CHANCE_OFFER = 7
    SALE_PAID = 8
    RESERVE_MET = 9


@dataclass(frozen=True, slots=True)
class Notice:
    """One user told one thing, about the auction as it stood right after the cause."""

    user_id: str
    kind: NoticeKind
    state: Auction
    #: What caused it, where the auction's version does not say (a timer changes no state).
    cause: str = ""

    @property
    def key(self) -> str:
        """The cause: one auction version (or timer) tells one user one kind of thing once."""
        cause = self.cause or str(self.state.version)
        return f"{self.state.auction_id}:{cause}:{self.kind.name}:{self.user_id}"

    @property
    def auction_id(self) -> uuid.UUID:
        return self.state.auction_id


def notices(before: Auction, steps: Steps, watchers: Iterable[str] = ()) -> list[Notice]:
    """Every notice the steps cause, in the order of the steps. ``watchers``: who watches
    the auction (needed only when a step ends it, cancels it or says it ends soon)."""
    found: list[Notice] = []
    prev = before
    for state, outcome in steps:
        if isinstance(outcome, EndsSoon):
            cause = f"ending-soon-{int(outcome.command.end_date.timestamp() * 1000)}"
            found += [Notice(u, NoticeKind.ENDING_SOON, state, cause) for u in _everyone(state, watchers)]
        elif state.version != prev.version:
            found += _changed(prev, state, outcome, watchers)
        prev = state
    return found


def needs_watchers(before: Auction, steps: Steps) -> bool:
    """Whether any step tells the watchers (so the worker reads them only then)."""
    prev = before
    for state, outcome in steps:
        ended = prev.closed_at is None and state.closed_at is not None
        cancelled = prev.cancelled_at is None and state.cancelled_at is not None
        if isinstance(outcome, EndsSoon) or ended or cancelled:
            return True
        prev = state
    return False


def _everyone(state: Auction, watchers: Iterable[str]) -> list[str]:
    """Bidders, then the watchers who have not bid; never the seller, once each."""
    return [u for u in dict.fromkeys([*state.bidders, *watchers]) if u != state.seller_id]


def _changed(prev: Auction, state: Auction, outcome: object, watchers: Iterable[str]) -> list[Notice]:
    found: list[Notice] = []

    def tell(user: str, kind: NoticeKind) -> None:
        if user:
            found.append(Notice(user, kind, state))

    closed_now = prev.closed_at is None and state.closed_at is not None
    lost_lead = prev.highest_bidder_id and state.highest_bidder_id != prev.highest_bidder_id
    if lost_lead and isinstance(outcome, BidOutcome) and outcome.accepted and not closed_now:
        tell(prev.highest_bidder_id, NoticeKind.OUTBID)
    if prev.reserve_price and not prev.reserve_met and state.reserve_met and not closed_now:
        tell(state.seller_id, NoticeKind.RESERVE_MET)
    if closed_now and state.cancelled_at is None:
        if state.winner_id:
            tell(state.winner_id, NoticeKind.WON)
            tell(state.winner_id, NoticeKind.PAYMENT_DUE)
        for user in _everyone(state, watchers):
            if user != state.winner_id:
                tell(user, NoticeKind.LOST)
    if prev.cancelled_at is None and state.cancelled_at is not None:
        for user in _everyone(state, watchers):
            tell(user, NoticeKind.AUCTION_CANCELLED)
    before, after = prev.sale, state.sale
    if before is not None and after is not None:
        if after.offer != before.offer and after.status is SaleStatus.AWAITING_PAYMENT:
            tell(after.buyer_id, NoticeKind.SECOND_CHANCE_OFFER)
        if after.status is SaleStatus.PAID and before.status is not SaleStatus.PAID:
            tell(state.seller_id, NoticeKind.SALE_PAID)
    return found
