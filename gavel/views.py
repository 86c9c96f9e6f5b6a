"""What each viewer may see of an auction, a bid, a sale: the masking of identities.

Bidders are known to everyone else by a per-auction alias ("Bidder 3"), never by their id;
the maximum a bidder entered is theirs alone; the reserve is the seller's; the winner and the
sale's buyer are named to the seller (to complete the sale) and to themselves. Internal
services presenting a service credential see everything.

One way to mask, wherever a view leaves Gavel: the messages are built whole (``messages``),
then masked here for their viewer. Events travel the internal bus with who is who (less the
secrets no watcher is shown: ``messages.event_to_pb``), and each stream edge masks them: the public view of an event is made once and shared by every watcher
it does not concern (``view_for``), so a thousand watchers cost one masking, not a thousand.
"""

from __future__ import annotations

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.auth import Principal
from gavel.domain.auction import Auction

#: Who a view is for: a signed-in caller, or None (anonymous, as everyone else sees it).
Viewer = Principal | None

#: The whole truth, for the internal bus and the stream edges' own use; never sent as is to a
#: caller without a service credential.
UNMASKED = Principal("gavel", service=True)


def alias_name(number: int) -> str:
    """How a bidder's per-auction number reads ("" for rows from before aliases)."""
    return f"Bidder {number}" if number else ""


#: The leader of an auction decided before aliases existed (no number): still someone.
UNNUMBERED = "a bidder"


def leader_alias(auction: Auction) -> str:
    """The leader's alias; an auction from before aliases still says that someone leads."""
    if not auction.highest_bidder_id:
        return ""
    return alias_name(auction.alias_of(auction.highest_bidder_id)) or UNNUMBERED


def _me(viewer: Viewer) -> str:
    return "" if viewer is None else viewer.user_id


def mask_sale(sale: pb.Sale, viewer: Viewer, seller_id: str) -> pb.Sale:
    """In place: the buyer is named to the seller and to the buyer themself only (a next
    bidder learns of the offer when it is theirs); their unpaid count is the seller's."""
    if viewer is not None and viewer.service:
        return sale
    me = _me(viewer)
    if not me or me not in (seller_id, sale.buyer_id):
        sale.buyer_id = ""
    if not me or me != seller_id:
        sale.buyer_unpaid_items = 0
    return sale


def mask_auction(auction: pb.Auction, viewer: Viewer) -> pb.Auction:
    """In place. The leader is named to themself (``you_lead``), the winner to themself and
    to the seller (the seller sees aliases until the close, and there is no winner before)."""
    if viewer is not None and viewer.service:
        return auction
    me = _me(viewer)
    auction.you_lead = bool(me) and me == auction.highest_bidder_id
    if not auction.you_lead:
        auction.highest_bidder_id = ""
    if not me or me not in (auction.winner_id, auction.seller_id):
        auction.winner_id = ""
    if not me or me != auction.seller_id:
        auction.reserve_price = 0
    if auction.HasField("sale"):
        mask_sale(auction.sale, viewer, auction.seller_id)
    return auction


def mask_bid(bid: pb.Bid, viewer: Viewer) -> pb.Bid:
    """In place: the bidder sees their id and maximum (``yours``); everyone else the alias."""
    if viewer is not None and viewer.service:
        return bid
    me = _me(viewer)
    bid.yours = bool(me) and me == bid.bidder_id
    if not bid.yours:
        bid.bidder_id = ""
        bid.max_amount = 0
    return bid


def mask_event(event: pb.AuctionEvent, viewer: Viewer) -> pb.AuctionEvent:
    """A masked copy (the whole event is shared, so it is never masked in place)."""
    if viewer is not None and viewer.service:
        return event
    view = pb.AuctionEvent()
    view.CopyFrom(event)
    if view.HasField("auction"):
        mask_auction(view.auction, viewer)
    if view.HasField("bid"):
        mask_bid(view.bid, viewer)
    return view


def concerns(event: pb.AuctionEvent, viewer: Viewer) -> bool:
    """Whether ``viewer`` sees this event differently from an anonymous watcher."""
    if viewer is None:
        return False
    if viewer.service:
        return True
    a = event.auction
    return viewer.user_id in (a.highest_bidder_id, a.winner_id, a.seller_id, a.sale.buyer_id, event.bid.bidder_id)


def view_for(event: pb.AuctionEvent, viewer: Viewer, public: pb.AuctionEvent) -> pb.AuctionEvent:
    """``viewer``'s view of a whole event, given its ``public`` (anonymous) view: shared
    unless the event concerns them."""
    return mask_event(event, viewer) if concerns(event, viewer) else public
