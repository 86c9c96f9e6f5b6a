"""Translations between the wire (auction.v1 protos) and the domain; servicers stay thin."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from google.protobuf import duration_pb2, timestamp_pb2

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.clock import to_ms
from gavel.domain.auction import Auction, IncrementStep, SaleStatus, SoftClose, Status
from gavel.domain.bidding import BidKind, BidOutcome, RejectReason
from gavel.errors import FieldViolation, InvalidArgument
from gavel.views import UNMASKED, Viewer, alias_name, leader_alias, mask_auction, mask_bid, mask_sale

STATUS_TO_PB = {
    Status.SCHEDULED: pb.AUCTION_STATUS_SCHEDULED,
    Status.OPEN: pb.AUCTION_STATUS_OPEN,
    Status.ENDED: pb.AUCTION_STATUS_ENDED,
    Status.CANCELLED: pb.AUCTION_STATUS_CANCELLED,
}
STATUS_FROM_PB = {v: k for k, v in STATUS_TO_PB.items()}


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def from_timestamp(ts: timestamp_pb2.Timestamp) -> datetime:
    """UTC, truncated to the millisecond Cassandra stores, so what we read equals what we wrote."""
    return to_ms(ts.ToDatetime(tzinfo=UTC))


def duration(value: timedelta) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromTimedelta(value)
    return d


def increments_to_pb(table: tuple[IncrementStep, ...]) -> list[pb.IncrementStep]:
    return [pb.IncrementStep(from_price=s.from_price, increment=s.increment) for s in table]


def soft_close_to_pb(soft: SoftClose | None) -> pb.SoftClose | None:
    if soft is None:
        return None
    return pb.SoftClose(
        window=duration(soft.window), extension=duration(soft.extension), hard_end=timestamp(soft.hard_end)
    )


def auction_to_pb(auction: Auction, now: datetime, viewer: Viewer) -> pb.Auction:
    """As ``viewer`` may see it (``views``). The leader's maximum is never here (it is on the
    leader's own bids)."""
    status = auction.status_at(now)
    buy_now = auction.buy_now_available and status is Status.OPEN
    whole = pb.Auction(
        auction_id=str(auction.auction_id),
        item=pb.Item(
            name=auction.item.name,
            description=auction.item.description,
            image_url=auction.item.image_url,
        ),
        seller_id=auction.seller_id,
        start_date=timestamp(auction.start_date),
        end_date=timestamp(auction.end_date),
        starting_price=auction.starting_price,
        currency=auction.currency,
        status=STATUS_TO_PB[status],
        highest_bid=auction.highest_bid,
        highest_bidder_id=auction.highest_bidder_id,
        highest_bidder_alias=leader_alias(auction),
        bid_count=auction.bid_count,
        version=auction.version,
        created_at=timestamp(auction.created_at),
        winner_id=auction.winner_id,
        closed_at=timestamp(auction.closed_at),
        min_next_bid=auction.min_next_bid,
        has_reserve=auction.reserve_price > 0,
        reserve_met=auction.reserve_met,
        buy_now_price=auction.buy_now_price if buy_now else 0,
        increments=increments_to_pb(auction.increment_table),
        soft_close=soft_close_to_pb(auction.soft_close),
        original_end_date=timestamp(auction.original_end_date or auction.end_date),
        reserve_price=auction.reserve_price,
        payment_window=duration(auction.payment_window),
        sale=_sale(auction) if auction.sale is not None else None,
    )
    return mask_auction(whole, viewer)


SALE_STATUS_TO_PB = {
    SaleStatus.AWAITING_PAYMENT: pb.SALE_STATUS_AWAITING_PAYMENT,
    SaleStatus.PAID: pb.SALE_STATUS_PAID,
    SaleStatus.UNSOLD: pb.SALE_STATUS_UNSOLD,
}


def sale_to_pb(auction: Auction, viewer: Viewer, buyer_unpaid_items: int = 0) -> pb.Sale:
    """As ``viewer`` may see it (``views.mask_sale``)."""
    return mask_sale(_sale(auction, buyer_unpaid_items), viewer, auction.seller_id)


def _sale(auction: Auction, buyer_unpaid_items: int = 0) -> pb.Sale:
    sale = auction.sale
    assert sale is not None
    return pb.Sale(
        auction_id=str(auction.auction_id),
        buyer_id=sale.buyer_id,
        price=sale.price,
        status=SALE_STATUS_TO_PB[sale.status],
        pay_by=timestamp(sale.pay_by),
        paid_at=timestamp(sale.paid_at),
        offer=sale.offer,
        buyer_unpaid_items=buyer_unpaid_items,
    )


def event_to_pb(auction: Auction, now: datetime, outcome: BidOutcome | None = None) -> pb.AuctionEvent:
    """An event as the internal bus carries it to the stream edges, which mask it per watcher
    (``views``): whole in who is who, since the edge needs that to know whom it concerns,
    but without the secrets no watcher is shown (the reserve, a bidder's maximum), so they
    never travel to every edge process."""
    event = pb.AuctionEvent(auction=auction_to_pb(auction, now, UNMASKED))
    event.auction.reserve_price = 0
    if outcome is not None:
        event.bid.CopyFrom(outcome_to_pb(outcome, UNMASKED))
        event.bid.max_amount = 0
    return event


def parse_id(value: str, field: str) -> uuid.UUID:
    """Every RPC that takes an id: malformed is INVALID_ARGUMENT naming the field, not NOT_FOUND."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgument([FieldViolation(field, "must be a UUID")]) from None


REASON_TO_PB = {
    RejectReason.BELOW_STARTING_PRICE: pb.BID_REJECT_REASON_BELOW_STARTING_PRICE,
    RejectReason.NOT_ABOVE_HIGHEST: pb.BID_REJECT_REASON_NOT_ABOVE_HIGHEST,
    RejectReason.AUCTION_NOT_STARTED: pb.BID_REJECT_REASON_AUCTION_NOT_STARTED,
    RejectReason.AUCTION_ENDED: pb.BID_REJECT_REASON_AUCTION_ENDED,
    RejectReason.AUCTION_CANCELLED: pb.BID_REJECT_REASON_AUCTION_CANCELLED,
    RejectReason.BELOW_MIN_BID: pb.BID_REJECT_REASON_BELOW_MIN_BID,
    RejectReason.OUTBID: pb.BID_REJECT_REASON_OUTBID,
    RejectReason.NOT_ABOVE_OWN_MAX: pb.BID_REJECT_REASON_NOT_ABOVE_OWN_MAX,
    RejectReason.BUY_NOW_UNAVAILABLE: pb.BID_REJECT_REASON_BUY_NOW_UNAVAILABLE,
}
KIND_TO_PB = {
    BidKind.MANUAL: pb.BID_KIND_MANUAL,
    BidKind.PROXY: pb.BID_KIND_PROXY,
    BidKind.BUY_NOW: pb.BID_KIND_BUY_NOW,
}


def outcome_to_pb(outcome: BidOutcome, viewer: Viewer) -> pb.Bid:
    """As ``viewer`` may see it (``views.mask_bid``)."""
    o = outcome
    whole = pb.Bid(
        bid_id=str(o.bid_id),
        auction_id=str(o.auction_id),
        bidder_id=o.bidder_id,
        bidder_alias=alias_name(o.alias),
        amount=o.amount,
        max_amount=o.max_amount,
        kind=KIND_TO_PB[o.kind],
        placed_at=timestamp(o.placed_at),
        status=pb.BID_STATUS_ACCEPTED if outcome.accepted else pb.BID_STATUS_REJECTED,
        reject_reason=REASON_TO_PB[outcome.reason] if outcome.reason else pb.BID_REJECT_REASON_UNSPECIFIED,
        highest_bid=outcome.highest_bid,
        auction_version=outcome.version,
        retracted=outcome.retracted,
    )
    return mask_bid(whole, viewer)
