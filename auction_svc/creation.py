"""Turning a CreateAuctionRequest into a new auction, or into every reason it cannot be one.

All violations are collected, not just the first, so a form can mark every bad field at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pycountry

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.clock import to_ms
from gavel.domain.auction import (
    DEFAULT_MAX_OFFERS,
    DEFAULT_PAYMENT_WINDOW,
    DEFAULT_PAYMENT_WINDOW_MIN,
    Auction,
    IncrementStep,
    Item,
    SoftClose,
)
from gavel.errors import FieldViolation, InvalidArgument
from gavel.messages import from_timestamp
from gavel.settings import Settings

MAX_NAME = 200
MAX_DESCRIPTION = 5000
MAX_URL = 2048
MAX_REQUEST_ID = 128
MAX_PRICE = 10**15  # minor units; far above any real item, far below int64 overflow
MAX_DURATION = timedelta(days=30)
MAX_START_AHEAD = timedelta(days=90)
DEFAULT_CURRENCY = "USD"
MAX_INCREMENT_STEPS = 50

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


@dataclass(frozen=True, slots=True)
class SaleTerms:
    """The sale's terms an auction is created with (settings; production's by default)."""

    payment_window_default: timedelta = DEFAULT_PAYMENT_WINDOW
    payment_window_min: timedelta = DEFAULT_PAYMENT_WINDOW_MIN
    max_offers: int = DEFAULT_MAX_OFFERS

    @classmethod
    def of(cls, settings: Settings) -> SaleTerms:
        return cls(settings.payment_window_default, settings.payment_window_min, settings.sale_max_offers)


def new_auction(
    request: pb.CreateAuctionRequest, seller_id: str, now: datetime, terms: SaleTerms = SaleTerms()
) -> Auction:
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

    increments = _increments(request, violation)
    _prices(request, violation)
    soft_close = _soft_close(request, start, end if request.HasField("end_date") else None, violation)
    window = terms.payment_window_default
    if request.HasField("payment_window"):
        window = timedelta(milliseconds=request.payment_window.ToMilliseconds())  # as stored
        if not terms.payment_window_min <= window <= MAX_DURATION:
            violation(
                "payment_window", f"from {terms.payment_window_min} to {MAX_DURATION.days} days (or unset: the default)"
            )

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
        reserve_price=request.reserve_price,
        buy_now_price=request.buy_now_price,
        increments=increments,
        soft_close=soft_close,
        original_end_date=end,
        payment_window=window,
        max_offers=terms.max_offers,
    )


Violation = Callable[[str, str], None]


def _prices(request: pb.CreateAuctionRequest, violation: Violation) -> None:
    """The reserve is at least the starting price; Buy It Now is above both (0: none)."""
    start, reserve, buy_now = request.starting_price, request.reserve_price, request.buy_now_price
    if reserve < 0 or reserve > MAX_PRICE:
        violation("reserve_price", f"must be 0 (none) or a price of at most {MAX_PRICE}")
    elif reserve and reserve < start:
        violation("reserve_price", "must be at least starting_price")
    if buy_now < 0 or buy_now > MAX_PRICE:
        violation("buy_now_price", f"must be 0 (none) or a price of at most {MAX_PRICE}")
    elif buy_now and buy_now <= start:
        violation("buy_now_price", "must be above starting_price")
    elif buy_now and reserve and buy_now <= reserve:
        violation("buy_now_price", "must be above reserve_price")


def _increments(request: pb.CreateAuctionRequest, violation: Violation) -> tuple[IncrementStep, ...]:
    """Empty is the default ladder; a table of one's own starts at 0 and rises strictly."""
    steps = request.increments
    if len(steps) > MAX_INCREMENT_STEPS:
        violation("increments", f"at most {MAX_INCREMENT_STEPS} steps")
        return ()
    for i, step in enumerate(steps):
        if i == 0 and step.from_price != 0:
            violation("increments[0].from_price", "the first step must start at 0")
        elif i > 0 and step.from_price <= steps[i - 1].from_price:
            violation(f"increments[{i}].from_price", "must be above the previous step's")
        elif step.from_price > MAX_PRICE:
            violation(f"increments[{i}].from_price", f"at most {MAX_PRICE}")
        if not 0 < step.increment <= MAX_PRICE:
            violation(f"increments[{i}].increment", f"must be greater than 0 and at most {MAX_PRICE}")
    return tuple(IncrementStep(s.from_price, s.increment) for s in steps)


def _soft_close(
    request: pb.CreateAuctionRequest, start: datetime, end: datetime | None, violation: Violation
) -> SoftClose | None:
    """Positive durations; the hard end after the end and within the longest auction."""
    if not request.HasField("soft_close"):
        return None
    soft = request.soft_close
    # Whole milliseconds, as stored, so what is read back equals what was decided on.
    window, extension = (timedelta(milliseconds=d.ToMilliseconds()) for d in (soft.window, soft.extension))
    for field, value in (("window", window), ("extension", extension)):
        if not timedelta(0) < value <= MAX_DURATION:
            violation(f"soft_close.{field}", f"must be positive and at most {MAX_DURATION.days} days")
    if not soft.HasField("hard_end"):
        violation("soft_close.hard_end", "required")
        return None
    hard_end = from_timestamp(soft.hard_end)
    if end is not None and hard_end <= end:
        violation("soft_close.hard_end", "must be after end_date")
    elif hard_end - start > MAX_DURATION:
        violation("soft_close.hard_end", f"an auction lasts at most {MAX_DURATION.days} days, extensions included")
    return SoftClose(window=window, extension=extension, hard_end=hard_end)
