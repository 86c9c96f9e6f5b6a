"""Translations between the wire (auction.v1 protos) and the domain; servicers stay thin."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from google.protobuf import timestamp_pb2

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.domain.auction import Auction, Status
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
    value = ts.ToDatetime(tzinfo=timezone.utc)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


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
    )


def parse_auction_id(value: str, field: str = "auction_id") -> uuid.UUID:
    """Every RPC that takes an auction id: malformed is INVALID_ARGUMENT, not NOT_FOUND."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgument([FieldViolation(field, "must be a UUID")]) from None
