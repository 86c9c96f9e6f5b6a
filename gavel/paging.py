"""Paged listings, the same way in every service: page sizes and opaque page tokens.

A token is base64url JSON of a small cursor. It is opaque to clients, not secret; every
reader checks that a token's cursor belongs to the query it comes back with.
"""

from __future__ import annotations

import base64
import binascii
import json

from gavel.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument([FieldViolation("page_size", "must not be negative")])
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def bad_token(why: str = "not a token this service issued") -> InvalidArgument:
    return InvalidArgument([FieldViolation("page_token", why)])


def encode_token(cursor: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode().rstrip("=")


def decode_token(token: str) -> dict[str, object]:
    try:
        cursor = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        raise bad_token() from None
    if not isinstance(cursor, dict):
        raise bad_token()
    return cursor
