"""An auction's status is a function of the clock and its recorded state."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from gavel.domain.auction import Auction, Item, Status

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def auction(start: datetime, end: datetime, **state: object) -> Auction:
    return Auction(
        auction_id=uuid.uuid4(),
        seller_id="s",
        item=Item("x"),
        start_date=start,
        end_date=end,
        starting_price=1,
        currency="USD",
        created_at=start,
        **state,
    )


@given(start=st.integers(0, 10_000), length=st.integers(1, 10_000), probe=st.integers(-10, 30_000))
def test_status_follows_the_clock(start: int, length: int, probe: int) -> None:
    a = auction(T0 + timedelta(seconds=start), T0 + timedelta(seconds=start + length))
    now = T0 + timedelta(seconds=probe)
    expected = Status.SCHEDULED if probe < start else Status.OPEN if probe < start + length else Status.ENDED
    assert a.status_at(now) is expected


def test_end_is_exclusive() -> None:
    a = auction(T0, T0 + timedelta(hours=1))
    assert a.status_at(T0 + timedelta(hours=1) - timedelta(milliseconds=1)) is Status.OPEN
    assert a.status_at(T0 + timedelta(hours=1)) is Status.ENDED


def test_closed_is_ended_and_cancelled_wins() -> None:
    closed = auction(T0, T0 + timedelta(hours=1), closed_at=T0 + timedelta(minutes=5))
    cancelled = auction(T0, T0 + timedelta(hours=1), cancelled_at=T0 + timedelta(minutes=5))
    assert closed.status_at(T0 + timedelta(minutes=10)) is Status.ENDED
    assert cancelled.status_at(T0 + timedelta(minutes=10)) is Status.CANCELLED
    assert cancelled.status_at(T0 + timedelta(hours=2)) is Status.CANCELLED
