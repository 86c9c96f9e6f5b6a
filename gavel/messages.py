"""Translations between the wire (auction.v1 protos) and the domain; servicers stay thin."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.clock import to_ms
from gavel.domain.auction import Auction, Status
from gavel.domain.bidding import BidOutcome, RejectReason
from gavel.errors import FieldViolation, InvalidArgument

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


def auction_to_pb(auction: Auction, now: datetime) -> pb.Auction:
    return pb.Auction(
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
        status=STATUS_TO_PB[auction.status_at(now)],
        highest_bid=auction.highest_bid,
        highest_bidder_id=auction.highest_bidder_id,
        bid_count=auction.bid_count,
        version=auction.version,
        created_at=timestamp(auction.created_at),
        winner_id=auction.winner_id,
        closed_at=timestamp(auction.closed_at),
    )


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
}


def outcome_to_pb(outcome: BidOutcome) -> pb.Bid:
    b = outcome.bid
    return pb.Bid(
        bid_id=str(b.bid_id),
        auction_id=str(b.auction_id),
        bidder_id=b.bidder_id,
        amount=b.amount,
        placed_at=timestamp(b.placed_at),
        status=pb.BID_STATUS_ACCEPTED if outcome.accepted else pb.BID_STATUS_REJECTED,
        reject_reason=REASON_TO_PB[outcome.reason] if outcome.reason else pb.BID_REJECT_REASON_UNSPECIFIED,
        highest_bid=outcome.highest_bid,
        auction_version=outcome.version,
    )
