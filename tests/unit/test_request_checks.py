"""Every request is checked at the edge: well-known types in range at any depth, named by
path, and bytes that are not the method's message refused as INVALID_ARGUMENT."""

from __future__ import annotations

import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from google.rpc import error_details_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.errors import FieldViolation, InvalidArgument
from gavel.interceptors import _tolerant, check_request
from gavel.validation import TIMESTAMP_MAX_SECONDS, TIMESTAMP_MIN_SECONDS, well_known_violations

INT64 = st.integers(-(2**63), 2**63 - 1)
INT32 = st.integers(-(2**31), 2**31 - 1)


def fields(found: list[FieldViolation]) -> list[str]:
    return [v.field for v in found]


def test_edges_of_the_timestamp_range_are_valid() -> None:
    for seconds, nanos in [(TIMESTAMP_MIN_SECONDS, 0), (TIMESTAMP_MAX_SECONDS, 999_999_999), (0, 0)]:
        request = pb.CreateAuctionRequest(end_date=timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos))
        assert well_known_violations(request) == []


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [
        (TIMESTAMP_MAX_SECONDS + 1, 0),
        (TIMESTAMP_MIN_SECONDS - 1, 0),
        (2**63 - 1, 0),
        (-(2**63), 0),
        (0, -1),
        (0, 10**9),
    ],
)
def test_timestamps_out_of_range_name_their_field(seconds: int, nanos: int) -> None:
    request = pb.CreateAuctionRequest(start_date=timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos))
    assert fields(well_known_violations(request)) == ["start_date"]


def test_nested_and_repeated_fields_are_named_by_path() -> None:
    bad = timestamp_pb2.Timestamp(seconds=2**40)
    message = pb.ListAuctionsResponse(auctions=[pb.Auction(), pb.Auction(end_date=bad, closed_at=bad)])
    assert fields(well_known_violations(message)) == ["auctions[1].end_date", "auctions[1].closed_at"]
    event = pb.AuctionEvent(auction=pb.Auction(start_date=bad), bid=pb.Bid(placed_at=bad))
    assert fields(well_known_violations(event)) == ["auction.start_date", "bid.placed_at"]


@pytest.mark.parametrize(
    ("seconds", "nanos", "valid"),
    [
        (315_576_000_000, 999_999_999, True),
        (-5, -3, True),
        (315_576_000_001, 0, False),
        (0, 10**9, False),
        (1, -1, False),
        (-1, 1, False),
    ],
)
def test_durations(seconds: int, nanos: int, valid: bool) -> None:
    message = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds, nanos=nanos))
    assert fields(well_known_violations(message)) == ([] if valid else ["retry_delay"])


@settings(derandomize=True, max_examples=500)
@given(INT64, INT32)
def test_a_timestamp_passes_the_check_exactly_when_python_can_represent_it(seconds: int, nanos: int) -> None:
    """The property the servicers rely on: what passes converts (no ValueError behind the edge)."""
    ts = timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)
    try:
        ts.ToDatetime()
        representable = True
    except (ValueError, OverflowError, OSError):
        representable = False
    assert (well_known_violations(pb.CreateAuctionRequest(end_date=ts)) == []) == representable


def test_undecodable_bytes_become_invalid_argument() -> None:
    deserialize = _tolerant(pb.GetAuctionRequest.FromString)
    assert deserialize is not None
    request = deserialize(b"\xff\xff\xff")
    with pytest.raises(InvalidArgument) as caught:
        check_request("/auction.v1.AuctionService/GetAuction", request)
    assert "not a valid message for /auction.v1.AuctionService/GetAuction" in str(caught.value)
    good = deserialize(pb.GetAuctionRequest(auction_id="x").SerializeToString())
    check_request("/auction.v1.AuctionService/GetAuction", good)  # passes
    assert good == pb.GetAuctionRequest(auction_id="x")
