"""Time as Gavel stores it: UTC, whole milliseconds (Cassandra's ``timestamp`` precision), so a
moment read back compares equal to the moment written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import overload

Clock = Callable[[], datetime]


def to_ms(moment: datetime) -> datetime:
    moment = moment.astimezone(timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@overload
def from_cassandra(value: datetime) -> datetime: ...
@overload
def from_cassandra(value: None) -> None: ...
def from_cassandra(value: datetime | None) -> datetime | None:
    """The driver returns naive datetimes that are UTC; make them say so."""
    return None if value is None else value.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    return to_ms(datetime.now(timezone.utc))
