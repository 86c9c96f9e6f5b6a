"""The maxima that stand, recomputed from an auction's bid history.

A retraction must leave the price and the leader exactly as if the retracted bids had never
been placed, and a sale that moves on goes to the next best maximum. Both are answered the
same way: the auction's bids, minus the retracted ones, are decided again in their log order
from the auction as created (``replay``). Decided again, not summed up: the rules are
path-dependent (a leader raising their own maximum does not raise the price), so only the
decision function itself says what a history without some bids would have been.

Bids refused for their time (before the start, after the end) stay refused: the end they were
judged against may have moved since, and a late bid is not made timely by a retraction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace

from gavel.domain.auction import Auction
from gavel.domain.bidding import BidKind, BidOutcome, PlaceBid, RejectReason, decide_bid

_TIMING = frozenset({RejectReason.AUCTION_NOT_STARTED, RejectReason.AUCTION_ENDED, RejectReason.AUCTION_CANCELLED})


@dataclass(frozen=True, slots=True)
class Standing:
    """A bidder's best maximum that the rules let stand (accepted, or outbid by the leader's
    proxy: an outbid maximum still counts), and the bid that set it."""

    bidder_id: str
    maximum: int
    bid_id: uuid.UUID
    #: Its place in the log: of equal maxima the earlier ranks first.
    order: int


def replayable(history: Iterable[BidOutcome]) -> list[BidOutcome]:
    """The bids a replay decides, in log order: bidders' own bids (not the proxy's answers nor
    Buy It Now), not retracted, not refused for their time."""
    return sorted(
        (
            o
            for o in history
            if o.kind is BidKind.MANUAL and not o.retracted and (o.accepted or o.reason not in _TIMING)
        ),
        key=lambda o: o.version,
    )


def replay(state: Auction, history: Iterable[BidOutcome]) -> tuple[Auction, list[Standing]]:
    """The auction's bidding state as its remaining bids decide it, and the standing maxima,
    best first. Only the leader's fields of the result mean anything (its version, count and
    end are the replay's own)."""
    s = replace(
        state,
        highest_bid=0,
        highest_bidder_id="",
        highest_bid_id=None,
        leader_max=0,
        closed_at=None,
        cancelled_at=None,
        winner_id="",
        sale=None,
    )
    best: dict[str, Standing] = {}
    for order, o in enumerate(replayable(history)):
        steps = decide_bid(s, PlaceBid(o.bid_id, o.auction_id, o.bidder_id, o.max_amount, o.placed_at))
        own = steps[0][1]
        assert isinstance(own, BidOutcome)
        if own.accepted or own.reason is RejectReason.OUTBID:
            known = best.get(o.bidder_id)
            if known is None or o.max_amount > known.maximum:
                best[o.bidder_id] = Standing(o.bidder_id, o.max_amount, o.bid_id, order)
        s = steps[-1][0]
    return s, sorted(best.values(), key=lambda st: (-st.maximum, st.order))
