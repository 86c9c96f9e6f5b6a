"""Paged listings, the same way in every service: page sizes and signed page tokens.

A token is ``<cursor>.<mac>``: base64url JSON of a small cursor, and an HMAC-SHA256 of it
under the server's ``GAVEL_PAGE_TOKEN_SECRET`` and the listing it belongs to. A token is
client input: the MAC is checked before anything parses the cursor, so an altered token is
refused as a whole, and a token from one listing cannot be replayed on another. The values a
reader takes out of a cursor are still range-checked (``cursor_int``, ``cursor_time``,
``cursor_uuid``): a leaked or mistaken key must not turn into an overflow deeper down.
Tokens are opaque, not secret: the cursor is readable by anyone who decodes it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

from gavel.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
#: Far above any token we issue (about 150 characters); checked before any decoding work.
MAX_TOKEN_LENGTH = 1024
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Cursor times are epoch milliseconds; those a datetime (and a Cassandra timestamp) can hold.
MIN_TIME_MS = int((datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) / timedelta(milliseconds=1))
MAX_TIME_MS = int((datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - _EPOCH) / timedelta(milliseconds=1))


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument([FieldViolation("page_size", "must not be negative")])
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def bad_token(why: str = "not a token this service issued") -> InvalidArgument:
    return InvalidArgument([FieldViolation("page_token", why)])


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    # validate=True: characters outside the alphabet are an error, not silently dropped.
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


class PageTokens:
    """Issues and checks the page tokens of one listing (``purpose``, e.g. ``"ListBids"``)."""

    def __init__(self, secret: str, purpose: str) -> None:
        if not secret:
            raise ValueError("a page token secret is required (GAVEL_PAGE_TOKEN_SECRET)")
        self._key = secret.encode()
        self._purpose = purpose.encode()

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, self._purpose + b"\x00" + payload, hashlib.sha256).digest()

    def encode(self, cursor: dict[str, object]) -> str:
        payload = json.dumps(cursor, separators=(",", ":")).encode()
        return f"{_b64encode(payload)}.{_b64encode(self._mac(payload))}"

    def decode(self, token: str) -> dict[str, object]:
        """The cursor of a token this listing issued; INVALID_ARGUMENT on ``page_token`` otherwise."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise bad_token()
        payload_text, dot, mac_text = token.partition(".")
        try:
            payload, mac = _b64decode(payload_text), _b64decode(mac_text)
        except (ValueError, binascii.Error):
            raise bad_token() from None
        if not dot or not hmac.compare_digest(mac, self._mac(payload)):
            raise bad_token()
        try:
            cursor = json.loads(payload)
        except ValueError:
            raise bad_token() from None
        if not isinstance(cursor, dict):
            raise bad_token()
        return cursor


def cursor_int(cursor: dict[str, object], key: str, low: int = INT64_MIN, high: int = INT64_MAX) -> int:
    value = cursor.get(key)
    # bool is an int in Python; JSON true is not a number.
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise bad_token()
    return value


def cursor_time(cursor: dict[str, object], key: str) -> datetime:
    """An epoch-millisecond time, computed without the platform's (narrower) fromtimestamp."""
    return _EPOCH + timedelta(milliseconds=cursor_int(cursor, key, MIN_TIME_MS, MAX_TIME_MS))


def time_value(moment: datetime) -> int:
    """The inverse of ``cursor_time``: exact epoch milliseconds for any datetime."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def cursor_uuid(cursor: dict[str, object], key: str) -> uuid.UUID:
    value = cursor.get(key)
    if not isinstance(value, str):
        raise bad_token()
    try:
        return uuid.UUID(value)
    except ValueError:
        raise bad_token() from None
