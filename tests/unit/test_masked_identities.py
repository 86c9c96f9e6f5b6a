"""Masked identities (issue 13) against the words: "a bidder appears as a stable per-auction
alias, the same for every viewer ... and bidder_id / highest_bidder_id / winner_id are empty.
The bidder sees their own ids and Bid.yours / Auction.you_lead. The seller sees aliases until
the auction ends, then winner_id and the sale's buyer. Internal services that present a
service credential see real ids."

The model of aliases is the words' and nothing more: bidders numbered from 1 in the order
their first bid was decided; Gavel's proxy bid is the leader's, so it carries the leader's.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from gavel.auth import Principal
from gavel.domain.auction import Auction, Item
from gavel.domain.bidding import BidKind, BidOutcome, BuyNow, CloseAuction, PlaceBid
from gavel.domain.decision import decide
from gavel.messages import auction_to_pb, event_to_pb, outcome_to_pb
from gavel.views import UNMASKED, mask_event, view_for
from tests.unit.rules_reference import AUCTION, BIDDERS, END, START, auctions
from tests.unit.test_auction_rules import draw_command

VIEWERS = (None, *(Principal(b) for b in BIDDERS), Principal("seller"))


def strings_in(message: Message) -> set[str]:
    """Every string field's value, however deep."""
    found: set[str] = set()
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        for v in values:
            if isinstance(v, Message):
                found |= strings_in(v)
            elif isinstance(v, str):
                found.add(v)
    return found


def hidden_from(viewer: Principal | None, state: Auction) -> set[str]:
    """The bidders' ids that ``viewer`` may not see on this auction: all but their own, and,
    for the seller once it has closed, all but the winner's and the buyer's."""
    me = "" if viewer is None else viewer.user_id
    named = {me}
    if me == state.seller_id and state.closed_at is not None:
        named |= {state.winner_id, state.sale.buyer_id if state.sale else ""}
    return set(BIDDERS) - named


@settings(max_examples=300)
@given(auctions(), st.data())
def test_aliases_follow_the_order_of_first_bids_and_ids_reach_only_their_owner(
    auction: Auction, data: st.DataObject
) -> None:
    state, order = auction, []
    at = START
    for _ in range(data.draw(st.integers(1, 25))):
        at += timedelta(seconds=data.draw(st.integers(1, 240)))
        command = draw_command(data, state, at)
        if isinstance(command, (PlaceBid, BuyNow)) and command.bidder_id not in order:
            order.append(command.bidder_id)
        steps = decide(state, command)
        for after, outcome in steps:
            if isinstance(outcome, BidOutcome):
                expected = order.index(outcome.bidder_id) + 1
                assert outcome.alias == expected
                if outcome.kind is BidKind.PROXY:
                    assert outcome.bidder_id == after.highest_bidder_id
            event = event_to_pb(after, at, outcome if isinstance(outcome, BidOutcome) else None)
            assert event.auction.reserve_price == 0 and event.bid.max_amount == 0  # secrets stay off the bus
            public = mask_event(event, None)
            for viewer in VIEWERS:
                views = [auction_to_pb(after, at, viewer), mask_event(event, viewer)]
                if isinstance(outcome, BidOutcome):
                    views.append(outcome_to_pb(outcome, viewer))
                # Sharing the public view is only a saving: each viewer gets what is theirs.
                assert view_for(event, viewer, public) == mask_event(event, viewer)
                for view in views:
                    assert not strings_in(view) & hidden_from(viewer, after), (viewer, view)
            leader = after.highest_bidder_id
            whole = auction_to_pb(after, at, UNMASKED)
            assert (whole.highest_bidder_id, whole.winner_id) == (leader, after.winner_id)
            assert whole.highest_bidder_alias == (f"Bidder {order.index(leader) + 1}" if leader else "")
            for viewer in VIEWERS:
                view = auction_to_pb(after, at, viewer)
                assert view.highest_bidder_alias == whole.highest_bidder_alias  # the same for everyone
                assert view.you_lead == (viewer is not None and bool(leader) and viewer.user_id == leader)
                assert view.highest_bidder_id == (leader if view.you_lead else "")
        state = steps[-1][0] if steps else state
    assert state.bidders == tuple(order)


def test_the_bidder_the_seller_and_a_service_see_what_is_theirs() -> None:
    """A worked case: ann leads, bob is outbid by her proxy, the auction closes to ann."""
    a = Auction(AUCTION, "seller", Item("Lamp"), START, END, 100, "USD", START, original_end_date=END)
    steps = decide(a, PlaceBid(uuid.UUID(int=1), AUCTION, "ann", 1000, START + timedelta(minutes=1)))
    steps += decide(steps[-1][0], PlaceBid(uuid.UUID(int=2), AUCTION, "bob", 500, START + timedelta(minutes=2)))
    outbid, proxy = (o for _, o in steps[1:] if isinstance(o, BidOutcome))
    assert (outbid.alias, proxy.alias, proxy.bidder_id) == (2, 1, "ann")
    bob = outcome_to_pb(outbid, Principal("bob"))
    assert (bob.bidder_id, bob.yours, bob.max_amount, bob.bidder_alias) == ("bob", True, 500, "Bidder 2")
    seen_by_ann = outcome_to_pb(outbid, Principal("ann"))
    assert (seen_by_ann.bidder_id, seen_by_ann.yours, seen_by_ann.max_amount) == ("", False, 0)
    assert outcome_to_pb(proxy, Principal("ann")).yours
    closed = decide(steps[-1][0], CloseAuction(AUCTION, END, END))[-1][0]
    open_ = steps[-1][0]
    assert auction_to_pb(open_, START, Principal("seller")).highest_bidder_id == ""  # aliases until the end
    by_seller = auction_to_pb(closed, END, Principal("seller"))
    assert (by_seller.winner_id, by_seller.sale.buyer_id, by_seller.highest_bidder_id) == ("ann", "ann", "")
    by_bob = auction_to_pb(closed, END, Principal("bob"))
    assert (by_bob.winner_id, by_bob.sale.buyer_id, by_bob.highest_bidder_alias) == ("", "", "Bidder 1")
    by_service = auction_to_pb(closed, END, Principal("closer", service=True))
    assert (by_service.winner_id, by_service.highest_bidder_id, by_service.you_lead) == ("ann", "ann", False)
