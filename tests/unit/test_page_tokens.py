"""ListAuctions page tokens are opaque, tamper-evident enough, and bound to their filter."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from auction_svc.listing import Cursor, Query
from gavel.domain.auction import Status
from gavel.errors import InvalidArgument
from gavel.paging import page_size

OPEN = Query(status=Status.OPEN, seller_id="", page_size=10)


def test_round_trip() -> None:
    cursor = Cursor(hour=491234, at=datetime(2030, 5, 1, 12, 0, 0, 125000, tzinfo=timezone.utc), auction_id=uuid.uuid4())
    assert Cursor.decode(cursor.encode(OPEN), OPEN) == cursor


@pytest.mark.parametrize("token", ["garbage", "eyJ4IjogMX0", "!!!", "e30"])
def test_foreign_tokens_are_invalid_argument(token: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        Cursor.decode(token, OPEN)
    assert caught.value.violations[0].field == "page_token"


def test_token_from_another_filter_is_refused() -> None:
    token = Cursor(1, datetime(2030, 1, 1, tzinfo=timezone.utc), uuid.uuid4()).encode(OPEN)
    with pytest.raises(InvalidArgument):
        Cursor.decode(token, Query(status=Status.ENDED, seller_id="", page_size=10))


def test_page_size_defaults_and_caps() -> None:
    assert page_size(0) == 20
    assert page_size(7) == 7
    assert page_size(10_000) == 100
    with pytest.raises(InvalidArgument):
        page_size(-1)
