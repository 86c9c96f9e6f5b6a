"""Page tokens are signed client input: altered ones are INVALID_ARGUMENT on page_token, bound
to their listing and filter, and their values range-checked even when the MAC is good."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auction_svc.listing import Cursor, Query
from gavel.domain.auction import Status
from gavel.errors import InvalidArgument
from gavel.paging import INT64_MAX, MAX_TIME_MS, MIN_TIME_MS, PageTokens, cursor_int, cursor_time, page_size

OPEN = Query(status=Status.OPEN, seller_id="", page_size=10)
TOKENS = PageTokens("unit-test-secret", "auction.v1.AuctionService/ListAuctions")


def refused(call: object) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        call()  # type: ignore[operator]
    assert [v.field for v in caught.value.violations] == ["page_token"]
    return caught.value


def unsigned(cursor: dict[str, object]) -> str:
    """A token as the service issued them before they were signed: base64url JSON."""
    return base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode().rstrip("=")


def test_round_trip() -> None:
    cursor = Cursor(hour=491234, at=datetime(2030, 5, 1, 12, 0, 0, 125000, tzinfo=UTC), auction_id=uuid.uuid4())
    assert Cursor.decode(cursor.encode(OPEN, TOKENS), OPEN, TOKENS) == cursor


@pytest.mark.parametrize("token", ["garbage", "eyJ4IjogMX0", "!!!", "e30", "e30.", ".", "e30.e30", "a" * 5000])
def test_foreign_tokens_are_invalid_argument(token: str) -> None:
    refused(lambda: Cursor.decode(token, OPEN, TOKENS))


def test_unsigned_token_with_good_values_is_refused() -> None:
    """What a client could forge before tokens were signed."""
    forged = unsigned({"f": OPEN.fingerprint, "h": 1, "t": 1000, "i": str(uuid.uuid4())})
    refused(lambda: Cursor.decode(forged, OPEN, TOKENS))


def test_token_from_another_filter_listing_or_key_is_refused() -> None:
    token = Cursor(1, datetime(2030, 1, 1, tzinfo=UTC), uuid.uuid4()).encode(OPEN, TOKENS)
    refused(lambda: Cursor.decode(token, Query(status=Status.ENDED, seller_id="", page_size=10), TOKENS))
    refused(lambda: Cursor.decode(token, OPEN, PageTokens("unit-test-secret", "auction.v1.BidService/ListBids")))
    refused(lambda: Cursor.decode(token, OPEN, PageTokens("another-secret", "auction.v1.AuctionService/ListAuctions")))


@settings(derandomize=True, max_examples=300)
@given(st.data())
def test_any_single_character_change_is_refused(data: st.DataObject) -> None:
    token = Cursor(12, datetime(2031, 2, 3, tzinfo=UTC), uuid.uuid4()).encode(OPEN, TOKENS)
    at = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.characters(codec="ascii").filter(lambda c: c != token[at]))
    altered = token[:at] + replacement + token[at + 1 :]
    try:
        decoded = Cursor.decode(altered, OPEN, TOKENS)
    except InvalidArgument as exc:
        assert [v.field for v in exc.violations] == ["page_token"]
    else:
        # Only a change in base64's padding bits of the last character can decode the same.
        assert decoded == Cursor.decode(token, OPEN, TOKENS)


@pytest.mark.parametrize(
    "changes",
    [
        {"h": 2**70},
        {"h": -(2**70)},
        {"h": "12"},
        {"h": True},
        {"h": 1.5},
        {"t": 2**63},
        {"t": MAX_TIME_MS + 1},
        {"t": MIN_TIME_MS - 1},
        {"t": None},
        {"i": "not-a-uuid"},
        {"i": 7},
    ],
)
def test_signed_cursor_with_values_out_of_range_is_refused(changes: dict[str, object]) -> None:
    """Defence in depth: a correctly signed cursor (a leaked key, a bug) is still range-checked."""
    cursor = {"f": OPEN.fingerprint, "h": 1, "t": 1000, "i": str(uuid.uuid4()), **changes}
    refused(lambda: Cursor.decode(TOKENS.encode(cursor), OPEN, TOKENS))


def test_range_edges_are_accepted() -> None:
    assert cursor_int({"s": 0}, "s", 0, INT64_MAX) == 0
    assert cursor_int({"s": INT64_MAX}, "s", 0, INT64_MAX) == INT64_MAX
    refused(lambda: cursor_int({"s": -1}, "s", 0, INT64_MAX))
    assert cursor_time({"t": MIN_TIME_MS}, "t") == datetime(1, 1, 1, tzinfo=UTC)
    assert cursor_time({"t": MAX_TIME_MS}, "t").year == 9999


def test_page_size_defaults_and_caps() -> None:
    assert page_size(0) == 20
    assert page_size(7) == 7
    assert page_size(10_000) == 100
    with pytest.raises(InvalidArgument):
        page_size(-1)
