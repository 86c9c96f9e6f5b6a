"""The bid decision: a pure function of the auction and a command, applied in log order.

Everything the bid path decides is decided here, so the whole rule set is tested without
Cassandra or NATS, and group commit (folding many commands through ``decide`` before one
write) is provably the same as deciding them one at a time.

The rules are eBay's. A bid's amount is the bidder's *maximum*; Gavel bids for them, up to
it, only as much as needed. The price changes only when a bid takes the lead or is outbid,
and then it is the formula over the two best maxima (``_price``). When a bid is outbid, the
leader's automatic answer is recorded as a bid of its own (``BidKind.PROXY``), so the
history explains every change of price. Buy It Now and soft close are decided here too, in
the same order as the bids they race: an item is sold once, and an end moves only for a bid
that the log put before the close.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Union

from gavel.domain.auction import Auction, Sale, SaleStatus

if TYPE_CHECKING:
    from gavel.domain.refusals import Refused
    from gavel.domain.reminders import EndsSoon
    from gavel.domain.sale import SaleChanged
    from gavel.domain.takeback import Cancelled, Retracted

_PROXY_NS = uuid.UUID("1b6f2f0e-9f7e-4c64-8a55-57d3c3f0a0d1")


class RejectReason(enum.Enum):
    BELOW_STARTING_PRICE = "below_starting_price"
    NOT_ABOVE_HIGHEST = "not_above_highest"  # no longer given; kept to read old rows
    AUCTION_NOT_STARTED = "auction_not_started"
    AUCTION_ENDED = "auction_ended"
    AUCTION_CANCELLED = "auction_cancelled"
    BELOW_MIN_BID = "below_min_bid"
    OUTBID = "outbid"
    NOT_ABOVE_OWN_MAX = "not_above_own_max"
    BUY_NOW_UNAVAILABLE = "buy_now_unavailable"


class BidKind(enum.Enum):
    MANUAL = "manual"
    PROXY = "proxy"
    BUY_NOW = "buy_now"


@dataclass(frozen=True, slots=True)
class PlaceBid:
    bid_id: uuid.UUID
    auction_id: uuid.UUID
    bidder_id: str
    #: The bidder's maximum.
    amount: int
    #: When the bid service received it: judged against the auction's window.
    placed_at: datetime


@dataclass(frozen=True, slots=True)
class BuyNow:
    bid_id: uuid.UUID
    auction_id: uuid.UUID
    bidder_id: str
    placed_at: datetime


@dataclass(frozen=True, slots=True)
class CloseAuction:
    auction_id: uuid.UUID
    #: The end time the closer saw; a later end (soft close) makes this command a no-op.
    end_date: datetime
    #: When the close was decided (recorded as closed_at).
    at: datetime


@dataclass(frozen=True, slots=True)
class BidOutcome:
    """A decided bid, as its history row records it."""

    bid_id: uuid.UUID
    auction_id: uuid.UUID
    bidder_id: str
    kind: BidKind
    #: Public: the price a bid set or kept (accepted, proxy, a leader's refused raise), or
    #: the amount as entered (any other rejection).
    amount: int
    #: Private to the bidder: the maximum they entered (a proxy's: the leader's maximum).
    max_amount: int
    placed_at: datetime
    accepted: bool
    reason: RejectReason | None
    #: The auction's version right after this decision, and its price after the whole
    #: command (for an outbid bid: the price the leader's proxy answered with).
    version: int
    highest_bid: int
    #: The leading bid this one replaced (accepted bids only), so the chain can be checked.
    prev_bid_id: uuid.UUID | None
    #: Taken back by its bidder (``takeback.decide_retract``): kept in the history, marked.
    retracted: bool = False
    #: The bidder's number on the auction (``Auction.alias_of``); 0 on rows from before aliases.
    alias: int = 0


@dataclass(frozen=True, slots=True)
class Closed:
    command: CloseAuction
    version: int
    winner_id: str


#: What a decided command records (the ones after the gavel live in sale, takeback, refusals).
Outcome = Union["BidOutcome", "Closed", "SaleChanged", "Cancelled", "Retracted", "Refused", "EndsSoon"]
#: A decided command's records, each with the auction's state right after it.
Steps = list[tuple[Auction, Outcome]]


def proxy_bid_id(bid_id: uuid.UUID) -> uuid.UUID:
    """The leader's answer to a bid is derived from it: a redelivered bid answers the same."""
    return uuid.uuid5(_PROXY_NS, str(bid_id))


def _window_rejection(state: Auction, at: datetime) -> RejectReason | None:
    if state.cancelled_at is not None:
        return RejectReason.AUCTION_CANCELLED
    if state.closed_at is not None or at >= state.end_date:
        return RejectReason.AUCTION_ENDED
    if at < state.start_date:
        return RejectReason.AUCTION_NOT_STARTED
    return None


def _price(state: Auction, m1: int, m2: int | None) -> int:
    """Over the maxima sorted by amount (ties: the earlier bid), ``m1`` the leader's and ``m2``
    the best other bidder's (None: the leader is alone): ``max(S, min(M1, M2 + inc(M2)))``,
    raised to the reserve once a maximum meets it."""
    price = state.starting_price if m2 is None else max(state.starting_price, min(m1, m2 + state.increment(m2)))
    if state.reserve_price > 0 and m1 >= state.reserve_price:
        price = max(price, state.reserve_price)
    return price


def _extended_end(state: Auction, at: datetime) -> datetime:
    """Soft close: a bid in ``[end - window, end)`` moves the end to ``at + extension``,
    never back and never past the hard end. Called only for bids that changed the price or
    the leader."""
    soft = state.soft_close
    if soft is None or not (state.end_date - soft.window <= at < state.end_date):
        return state.end_date
    return min(soft.hard_end, max(state.end_date, at + soft.extension))


def _rejected(
    state: Auction, bid: PlaceBid | BuyNow, reason: RejectReason, amount: int, max_amount: int
) -> tuple[Auction, BidOutcome]:
    after = replace(state, version=state.version + 1, bid_count=state.bid_count + 1)
    kind = BidKind.BUY_NOW if isinstance(bid, BuyNow) else BidKind.MANUAL
    outcome = BidOutcome(
        bid.bid_id, bid.auction_id, bid.bidder_id, kind, amount, max_amount, bid.placed_at, False, reason,
        after.version, state.highest_bid, None, alias=state.alias_of(bid.bidder_id),
    )  # fmt: skip
    return after, outcome


def _leading(state: Auction, bid: PlaceBid, kind: BidKind, bidder: str, max_amount: int, price: int) -> Steps:
    """A bid that now stands as the leader's (a new leader, a raise, a proxy answer)."""
    bid_id = bid.bid_id if kind is BidKind.MANUAL else proxy_bid_id(bid.bid_id)
    after = replace(
        state,
        version=state.version + 1,
        # Counts the bids bidders placed; the proxy's answer is in the history, not the count.
        bid_count=state.bid_count + (kind is not BidKind.PROXY),
        highest_bid=price,
        highest_bidder_id=bidder,
        highest_bid_id=bid_id,
        leader_max=max_amount,
    )
    if price != state.highest_bid or bidder != state.highest_bidder_id:
        after = replace(after, end_date=_extended_end(state, bid.placed_at))
    outcome = BidOutcome(
        bid_id, bid.auction_id, bidder, kind, price, max_amount, bid.placed_at, True, None,
        after.version, price, state.highest_bid_id, alias=state.alias_of(bidder),
    )  # fmt: skip
    return [(after, outcome)]


def decide_bid(state: Auction, bid: PlaceBid) -> Steps:
    """Every decision, accepted or not, is a change of state: the count and version grow, so
    watchers see each bid, and the version orders the bid history. Every decided bid is in
    the history, so its bidder has an alias from then on."""
    state = state.with_bidder(bid.bidder_id)
    m = bid.amount
    reason = _window_rejection(state, bid.placed_at)
    if reason is not None:
        return [_rejected(state, bid, reason, m, m)]
    leader, ml = state.highest_bidder_id, state.leader_max
    if not leader:
        if m < state.starting_price:
            return [_rejected(state, bid, RejectReason.BELOW_STARTING_PRICE, m, m)]
        return _leading(state, bid, BidKind.MANUAL, bid.bidder_id, m, _price(state, m, None))
    if bid.bidder_id == leader:
        if m <= ml:
            # It keeps the lead: public at the price, or it would bound the leader's maximum.
            return [_rejected(state, bid, RejectReason.NOT_ABOVE_OWN_MAX, state.highest_bid, m)]
        # Never bidding against oneself: the price stays, unless the raise meets the reserve.
        price = state.highest_bid
        if state.reserve_price > 0 and m >= state.reserve_price:
            price = max(price, state.reserve_price)
        return _leading(state, bid, BidKind.MANUAL, leader, m, price)
    if m < state.min_next_bid:
        return [_rejected(state, bid, RejectReason.BELOW_MIN_BID, m, m)]
    if m <= ml:
        # Outbid: the leader's maximum answers at once (a tie keeps the earlier leader).
        price = _price(state, ml, m)
        mid, outbid = _rejected(state, bid, RejectReason.OUTBID, m, m)
        return [(mid, replace(outbid, highest_bid=price)), *_leading(mid, bid, BidKind.PROXY, leader, ml, price)]
    return _leading(state, bid, BidKind.MANUAL, bid.bidder_id, m, _price(state, m, ml))


def decide_buy_now(state: Auction, buy: BuyNow) -> Steps:
    """Sells at once, to the first Buy It Now the log orders while it is available: the
    auction closes with the buyer as winner, so a second one, or any bid after it, is refused."""
    state = state.with_bidder(buy.bidder_id)
    bn = state.buy_now_price
    reason: RejectReason | None
    if state.closed_at is not None and state.cancelled_at is None:
        reason = RejectReason.BUY_NOW_UNAVAILABLE if bn else RejectReason.AUCTION_ENDED
    else:
        reason = _window_rejection(state, buy.placed_at)
    if reason is None and not state.buy_now_available:
        reason = RejectReason.BUY_NOW_UNAVAILABLE
    if reason is not None:
        return [_rejected(state, buy, reason, bn, 0)]
    after = replace(
        state,
        version=state.version + 1,
        bid_count=state.bid_count + 1,
        highest_bid=bn,
        highest_bidder_id=buy.bidder_id,
        highest_bid_id=buy.bid_id,
        leader_max=bn,
        closed_at=buy.placed_at,
        winner_id=buy.bidder_id,
    )
    after = replace(after, sale=sale_to_winner(after))
    outcome = BidOutcome(
        buy.bid_id, buy.auction_id, buy.bidder_id, BidKind.BUY_NOW, bn, bn, buy.placed_at, True, None,
        after.version, bn, state.highest_bid_id, alias=state.alias_of(buy.bidder_id),
    )  # fmt: skip
    return [(after, outcome)]


def decide_close(state: Auction, close: CloseAuction) -> Steps:
    """Closes once: an auction already closed, cancelled, or whose end moved, is left alone.
    The leader wins only if the reserve is met."""
    if state.closed_at is not None or state.cancelled_at is not None or close.end_date != state.end_date:
        return []
    winner = state.highest_bidder_id if state.reserve_met else ""
    after = replace(state, version=state.version + 1, closed_at=close.at, winner_id=winner)
    after = replace(after, sale=sale_to_winner(after))
    return [(after, Closed(close, after.version, winner))]


def sale_to_winner(closed: Auction) -> Sale | None:
    """The sale a close starts: the winner owes the final price within the auction's window."""
    if not closed.winner_id or closed.closed_at is None:
        return None
    return Sale(
        closed.winner_id, closed.highest_bid, SaleStatus.AWAITING_PAYMENT, closed.closed_at + closed.payment_window
    )
