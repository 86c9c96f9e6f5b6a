"""The log's commands as JSON: what a worker accepts from it, and what it refuses."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from gavel import commands


def _bid(placed_at: str) -> bytes:
    return json.dumps(
        {
            "kind": "bid",
            "auction_id": str(uuid.uuid4()),
            "bid_id": str(uuid.uuid4()),
            "bidder_id": "bob",
            "amount": 500,
            "placed_at": placed_at,
        }
    ).encode()


def test_a_command_round_trips_through_its_json() -> None:
    command = commands.PlaceBidCommand(
        auction_id=uuid.uuid4(), bid_id=uuid.uuid4(), bidder_id="bob", amount=500, placed_at=datetime.now(UTC)
    )
    assert commands.decode(commands.encode(command)) == command


def test_a_time_with_its_offset_is_kept_as_that_instant() -> None:
    command = commands.decode(_bid("2026-12-07T15:00:00+01:00"))
    assert command.placed_at == datetime(2026, 12, 7, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize("stamp", ["2026-12-07T14:00:00", "2026-12-07 14:00:00"])
def test_a_time_without_a_timezone_is_not_a_command(stamp: str) -> None:
    """The worker compares a command's stamps with its own clock (UTC): a naive one would be
    read as whatever zone its host is in, so it is refused (and dead-lettered) instead. (The
    state a bid carries is the API's read, whose times the driver makes aware.)"""
    with pytest.raises(ValidationError, match="timezone"):
        commands.decode(_bid(stamp))
