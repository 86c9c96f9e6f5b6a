"""CreateAuction's validation: every bad field named, nothing half-accepted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auction_svc import creation
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.errors import InvalidArgument
from gavel.messages import timestamp

NOW = datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=UTC)


def request(**overrides: object) -> pb.CreateAuctionRequest:
    fields: dict[str, object] = {
        "item": pb.Item(name="Lamp", description="brass", image_url="https://img.example/lamp.jpg"),
        "end_date": timestamp(NOW + timedelta(days=1)),
        "starting_price": 1000,
    }
    fields.update(overrides)
    return pb.CreateAuctionRequest(**{k: v for k, v in fields.items() if v is not None})


def violated_fields(req: pb.CreateAuctionRequest) -> set[str]:
    with pytest.raises(InvalidArgument) as caught:
        creation.new_auction(req, "alice", NOW)
    return {v.field for v in caught.value.violations}


def test_valid_request_defaults_start_to_now_and_currency_to_usd() -> None:
    auction = creation.new_auction(request(), "alice", NOW)
    assert auction.start_date == NOW
    assert auction.currency == "USD"
    assert auction.seller_id == "alice"
    assert auction.end_date == NOW + timedelta(days=1)
    assert (auction.version, auction.highest_bid, auction.bid_count) == (0, 0, 0)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"item": pb.Item(name="   ")}, "item.name"),
        ({"item": None}, "item.name"),
        ({"item": pb.Item(name="x" * 201)}, "item.name"),
        ({"item": pb.Item(name="ok", description="d" * 5001)}, "item.description"),
        ({"item": pb.Item(name="ok", image_url="ftp://img.example/a.jpg")}, "item.image_url"),
        ({"item": pb.Item(name="ok", image_url="not a url")}, "item.image_url"),
        ({"item": pb.Item(name="ok", image_url="https://")}, "item.image_url"),
        ({"starting_price": 0}, "starting_price"),
        ({"starting_price": -5}, "starting_price"),
        ({"starting_price": 10**15 + 1}, "starting_price"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"end_date": None}, "end_date"),
        ({"end_date": timestamp(NOW - timedelta(minutes=1))}, "end_date"),
        ({"start_date": timestamp(NOW + timedelta(days=2))}, "end_date"),
        ({"end_date": timestamp(NOW + timedelta(days=31))}, "end_date"),
        (
            {"start_date": timestamp(NOW + timedelta(days=91)), "end_date": timestamp(NOW + timedelta(days=92))},
            "start_date",
        ),
        ({"request_id": "r" * 129}, "request_id"),
    ],
)
def test_each_bad_field_is_named(overrides: dict[str, object], field: str) -> None:
    assert field in violated_fields(request(**overrides))


def test_all_violations_are_reported_together() -> None:
    req = pb.CreateAuctionRequest(item=pb.Item(name=""), starting_price=0, currency="nope")
    assert violated_fields(req) == {"item.name", "starting_price", "currency", "end_date"}


def test_other_currencies_are_accepted() -> None:
    assert creation.new_auction(request(currency="JPY"), "alice", NOW).currency == "JPY"


def test_same_seller_and_request_id_give_the_same_auction_id() -> None:
    first = creation.new_auction(request(request_id="r-1"), "alice", NOW)
    again = creation.new_auction(request(request_id="r-1"), "alice", NOW + timedelta(seconds=3))
    other_seller = creation.new_auction(request(request_id="r-1"), "bob", NOW)
    no_request_id = [creation.new_auction(request(), "alice", NOW).auction_id for _ in range(2)]
    assert first.auction_id == again.auction_id
    assert other_seller.auction_id != first.auction_id
    assert no_request_id[0] != no_request_id[1]


@given(
    start_offset=st.integers(min_value=-3600, max_value=89 * 86400),
    duration=st.integers(min_value=1, max_value=30 * 86400),
    price=st.integers(min_value=1, max_value=10**15),
)
def test_any_valid_schedule_is_accepted_as_given(start_offset: int, duration: int, price: int) -> None:
    start = NOW + timedelta(seconds=start_offset)
    end = start + timedelta(seconds=duration)
    if end <= NOW:
        return  # (an end in the past is rejected; covered above)
    auction = creation.new_auction(
        request(start_date=timestamp(start), end_date=timestamp(end), starting_price=price), "alice", NOW
    )
    assert (auction.start_date, auction.end_date, auction.starting_price) == (start, end, price)
    assert auction.start_date < auction.end_date


def soft(window_s: float = 60, extension_s: float = 60, hard_end: datetime | None = None) -> pb.SoftClose:
    s = pb.SoftClose()
    s.window.FromTimedelta(timedelta(seconds=window_s))
    s.extension.FromTimedelta(timedelta(seconds=extension_s))
    if hard_end is not None:
        s.hard_end.CopyFrom(timestamp(hard_end))
    return s


def test_the_auction_rules_are_kept_as_given() -> None:
    steps = [pb.IncrementStep(from_price=0, increment=10), pb.IncrementStep(from_price=5000, increment=100)]
    hard_end = NOW + timedelta(days=2)
    auction = creation.new_auction(
        request(
            reserve_price=2000,
            buy_now_price=9000,
            increments=steps,
            soft_close=soft(300, 600, hard_end),
        ),
        "alice",
        NOW,
    )
    assert (auction.reserve_price, auction.buy_now_price) == (2000, 9000)
    assert [(s.from_price, s.increment) for s in auction.increments] == [(0, 10), (5000, 100)]
    assert auction.soft_close is not None and auction.soft_close.hard_end == hard_end
    assert (auction.soft_close.window, auction.soft_close.extension) == (timedelta(minutes=5), timedelta(minutes=10))
    assert auction.original_end_date == auction.end_date


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"reserve_price": 999}, {"reserve_price"}),
        ({"reserve_price": -1}, {"reserve_price"}),
        ({"buy_now_price": 1000}, {"buy_now_price"}),
        ({"reserve_price": 3000, "buy_now_price": 3000}, {"buy_now_price"}),
        ({"increments": [pb.IncrementStep(from_price=1, increment=5)]}, {"increments[0].from_price"}),
        (
            {"increments": [pb.IncrementStep(from_price=0, increment=5), pb.IncrementStep(from_price=0, increment=9)]},
            {"increments[1].from_price"},
        ),
        ({"increments": [pb.IncrementStep(from_price=0, increment=0)]}, {"increments[0].increment"}),
        ({"increments": [pb.IncrementStep(from_price=i, increment=1) for i in range(51)]}, {"increments"}),
        ({"soft_close": soft(0, 60, NOW + timedelta(days=2))}, {"soft_close.window"}),
        ({"soft_close": soft(60, -5, NOW + timedelta(days=2))}, {"soft_close.extension"}),
        ({"soft_close": soft(60, 60)}, {"soft_close.hard_end"}),
        ({"soft_close": soft(60, 60, NOW + timedelta(hours=1))}, {"soft_close.hard_end"}),  # before the end
        ({"soft_close": soft(60, 60, NOW + timedelta(days=31))}, {"soft_close.hard_end"}),  # too long
    ],
)
def test_bad_rules_are_field_violations(overrides: dict[str, object], fields: set[str]) -> None:
    assert violated_fields(request(**overrides)) == fields
