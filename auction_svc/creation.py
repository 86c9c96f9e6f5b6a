"""Turning a CreateAuctionRequest into a new auction, or into every reason it cannot be one.

All violations are collected, not just the first, so a form can mark every bad field at once.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pycountry

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.clock import to_ms
from gavel.domain.auction import Auction, Item
from gavel.errors import FieldViolation, InvalidArgument
from gavel.messages import from_timestamp

MAX_NAME = 200
MAX_DESCRIPTION = 5000
MAX_URL = 2048
MAX_REQUEST_ID = 128
MAX_PRICE = 10**15  # minor units; far above any real item, far below int64 overflow
MAX_DURATION = timedelta(days=30)
MAX_START_AHEAD = timedelta(days=90)
DEFAULT_CURRENCY = "USD"

# Namespace for auction ids derived from (seller, request_id): a retry lands on the same id.
_IDEMPOTENCY_NS = uuid.UUID("6f1d3c52-8a8e-4d0c-9d55-2f0a3f6f2b11")


def auction_id_for(seller_id: str, request_id: str) -> uuid.UUID:
    if not request_id:
        return uuid.uuid4()
    return uuid.uuid5(_IDEMPOTENCY_NS, f"{seller_id}\x00{request_id}")


def _is_currency(code: str) -> bool:
    return len(code) == 3 and code.isupper() and pycountry.currencies.get(alpha_3=code) is not None


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def new_auction(request: pb.CreateAuctionRequest, seller_id: str, now: datetime) -> Auction:
    """The auction the request describes, or InvalidArgument naming every bad field."""
    bad: list[FieldViolation] = []

    def violation(field: str, description: str) -> None:
        bad.append(FieldViolation(field, description))

    name = request.item.name.strip()
    if not request.HasField("item") or not name:
        violation("item.name", "required")
    elif len(name) > MAX_NAME:
        violation("item.name", f"at most {MAX_NAME} characters")
    if len(request.item.description) > MAX_DESCRIPTION:
        violation("item.description", f"at most {MAX_DESCRIPTION} characters")
    image_url = request.item.image_url.strip()
    if image_url and (len(image_url) > MAX_URL or not _is_http_url(image_url)):
        violation("item.image_url", f"must be an http(s) URL of at most {MAX_URL} characters")

    if request.starting_price <= 0:
        violation("starting_price", "must be greater than 0 (minor units)")
    elif request.starting_price > MAX_PRICE:
        violation("starting_price", f"at most {MAX_PRICE}")

    currency = request.currency or DEFAULT_CURRENCY
    if not _is_currency(currency):
        violation("currency", "must be an ISO 4217 code such as USD")

    if len(request.request_id) > MAX_REQUEST_ID:
        violation("request_id", f"at most {MAX_REQUEST_ID} characters")

    now = to_ms(now)
    start = from_timestamp(request.start_date) if request.HasField("start_date") else now
    if start > now + MAX_START_AHEAD:
        violation("start_date", f"at most {MAX_START_AHEAD.days} days ahead")
    if not request.HasField("end_date"):
        violation("end_date", "required")
    else:
        end = from_timestamp(request.end_date)
        if end <= start:
            violation("end_date", "must be after start_date")
        elif end <= now:
            violation("end_date", "must be in the future")
        elif end - start > MAX_DURATION:
            violation("end_date", f"an auction lasts at most {MAX_DURATION.days} days")

    if bad:
        raise InvalidArgument(bad)
    return Auction(
        auction_id=auction_id_for(seller_id, request.request_id),
        seller_id=seller_id,
        item=Item(name=name, description=request.item.description, image_url=image_url),
        start_date=start,
        end_date=end,
        starting_price=request.starting_price,
        currency=currency,
        created_at=now,
    )
