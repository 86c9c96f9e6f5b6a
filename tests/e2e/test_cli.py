"""The `gavel` CLI against the running stack, through the gateway: sign in, create, show,
list, bid, history, watch; errors are statuses and field violations, not tracebacks."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gavel.cli import main


@pytest.fixture
def gavel(gateway_target: str, tmp_path: Path):
    runner = CliRunner()
    env = {"GAVEL_TARGET": gateway_target, "XDG_CONFIG_HOME": str(tmp_path), "GAVEL_TOKEN": None}

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return run


def test_a_seller_and_a_bidder_through_the_cli(gavel) -> None:
    seller, bidder = (f"{who}-{uuid.uuid4().hex[:6]}" for who in ("seller", "bidder"))
    assert gavel("token", "--user", seller).exit_code == 0
    created = gavel(
        "auction", "create", "--name", "Gramophone", "--starting-price", "12.50", "--currency", "eur", "--ends-in", "2h"
    )
    assert created.exit_code == 0, created.output
    auction_id = created.stdout.strip()

    shown = gavel("auction", "show", auction_id)
    assert "Gramophone" in shown.output and "€12.50" in shown.output and seller in shown.output
    assert auction_id in gavel("auction", "list", "--seller", seller).output

    own = gavel("bid", auction_id, "20")
    assert own.exit_code == 1 and "PERMISSION_DENIED" in own.output

    assert gavel("token", "--user", bidder).exit_code == 0
    accepted = gavel("bid", auction_id, "15.00")
    assert (accepted.exit_code, accepted.output.strip()) == (0, "accepted: you lead with €15.00")
    rejected = gavel("bid", auction_id, "14")
    assert rejected.exit_code == 2
    assert rejected.output.strip() == "rejected: not above the highest bid (highest is €15.00)"

    history = gavel("bids", auction_id).output.splitlines()
    assert len(history) == 2 and "rejected: not above the highest bid" in history[0] and "accepted" in history[1]


def test_watch_prints_the_state_until_the_auction_ends(gavel) -> None:
    seller, bidder = (f"{who}-{uuid.uuid4().hex[:6]}" for who in ("seller", "bidder"))
    gavel("token", "--user", seller)
    auction_id = gavel(
        "auction", "create", "--name", "Clock", "--starting-price", "5", "--ends-in", "2s"
    ).stdout.strip()
    gavel("token", "--user", bidder)
    assert gavel("bid", auction_id, "7.25").exit_code == 0
    watched = gavel("watch", auction_id)  # returns once the auction is closed
    assert watched.exit_code == 0
    assert watched.output.splitlines()[-1] == f"Clock · won by {bidder} · $7.25 · 1 bids"


def test_errors_are_statuses_with_field_violations_not_tracebacks(gavel) -> None:
    missing = gavel("auction", "show", str(uuid.uuid4()))
    assert missing.exit_code == 1 and missing.output.startswith("error: NOT_FOUND")
    anonymous = gavel("auction", "create", "--name", "X", "--starting-price", "1")
    assert anonymous.exit_code == 1 and "UNAUTHENTICATED" in anonymous.output
    gavel("token", "--user", f"seller-{uuid.uuid4().hex[:6]}")
    bad = gavel("auction", "create", "--name", " ", "--starting-price", "1", "--currency", "XYZ")
    assert bad.exit_code == 1 and "INVALID_ARGUMENT" in bad.output
    assert "  currency: " in bad.output and "  item.name: " in bad.output
    assert "Traceback" not in missing.output + anonymous.output + bad.output


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "gavel"
    reply = subprocess.run([script, "--help"], capture_output=True, text=True, check=True)
    assert "watch" in reply.stdout and "auction" in reply.stdout
