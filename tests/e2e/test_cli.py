"""The `gavel` CLI against the running stack, through the gateway: sign in, create, show,
list, bid (a maximum, by eBay's rules), buy, history, watch; errors are statuses and field
violations, not tracebacks."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

import grpc
import pytest
from click.testing import CliRunner, Result

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
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

    # The amount is a maximum: alone, the bidder leads at the starting price.
    assert gavel("token", "--user", bidder).exit_code == 0
    accepted = gavel("bid", auction_id, "15.00")
    assert (accepted.exit_code, accepted.output.strip()) == (0, "accepted: you lead at €12.50 — your maximum €15.00")
    lower = gavel("bid", auction_id, "14")
    assert lower.exit_code == 2
    assert lower.output.strip() == "rejected: not above your own maximum (you lead with a maximum of €15.00)"

    # A rival's 14.00 is answered by the leader's maximum: 14.00 plus the increment at 14.00 (0.50).
    rival = f"rival-{uuid.uuid4().hex[:6]}"
    assert gavel("token", "--user", rival).exit_code == 0
    outbid = gavel("bid", auction_id, "14")
    assert outbid.exit_code == 2
    assert outbid.output.strip() == "outbid: the price is now €14.50 (another bidder's maximum is higher)"
    too_low = gavel("bid", auction_id, "14.75")
    assert too_low.exit_code == 2
    assert (
        too_low.output.strip()
        == "rejected: below the minimum bid (the price is €14.50 by Bidder 1; bid at least €15.00)"
    )
    # Above the leader's maximum: the rival leads at it plus one increment.
    lead = gavel("bid", auction_id, "20")
    assert (lead.exit_code, lead.output.strip()) == (0, "accepted: you lead at €15.50 — your maximum €20.00")

    # Bidders are aliases in the order they first bid; the caller's own rows say so.
    history = gavel("bids", auction_id).output
    assert bidder not in history, "the rival never sees the other bidder's account name"
    lines = history.splitlines()
    assert len(lines) == 6, lines
    assert re.search(r"€15\.50  Bidder 2 \(you\) +accepted, your maximum €20\.00$", lines[0])  # own rows carry the max
    assert re.search(r"€14\.75  Bidder 2 \(you\) +rejected: below the minimum bid$", lines[1])
    assert re.search(r"€14\.50  Bidder 1 +accepted \(automatic bid\)$", lines[2])  # not the rival's to see
    assert re.search(r"€14\.00  Bidder 2 \(you\) +rejected: outbid by the leader's maximum$", lines[3])
    assert re.search(r"€12\.50  Bidder 1 +rejected: not above your own maximum$", lines[4])  # at the price
    assert re.search(r"€12\.50  Bidder 1 +accepted$", lines[5])


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
    # Alone, the bidder wins at the starting price, not at their maximum.
    assert watched.output.splitlines()[-1] == "Clock · won by Bidder 1 (you) · $5.00 · 1 bids"


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


def show(gavel, auction_id: str) -> dict[str, str]:
    """``auction show``'s rows, label → value."""
    shown = gavel("auction", "show", auction_id)
    assert shown.exit_code == 0, shown.output
    return dict(line.strip().split("  ", 1) for line in shown.output.splitlines())


def test_reserve_and_buy_it_now_through_the_cli(gavel) -> None:
    seller, bidder, buyer = (f"{who}-{uuid.uuid4().hex[:6]}" for who in ("seller", "bidder", "buyer"))
    gavel("token", "--user", seller)
    bad = gavel("auction", "create", "--name", "Loom", "--starting-price", "10", "--buy-now", "9")
    assert bad.exit_code == 1 and "INVALID_ARGUMENT" in bad.output and "  buy_now_price: " in bad.output
    created = gavel(
        "auction", "create", "--name", "Loom", "--starting-price", "10", "--reserve", "30", "--buy-now", "50"
    )
    assert created.exit_code == 0, created.output
    auction_id = created.stdout.strip()
    rows = show(gavel, auction_id)
    # The seller sees the reserve's amount; bidders see only whether it is met.
    assert (rows["reserve"], rows["buy it now"], rows["minimum bid"]) == ("$30.00 (not met)", "$50.00", "$10.00")

    gavel("token", "--user", bidder)
    assert show(gavel, auction_id)["reserve"] == "not met"
    below_reserve = gavel("bid", auction_id, "20")
    assert (
        below_reserve.output.strip()
        == "accepted: you lead at $10.00 — your maximum $20.00 (the reserve is not met yet)"
    )
    # Below the reserve, Buy It Now is still offered (eBay's rule).
    assert show(gavel, auction_id)["buy it now"] == "$50.00"

    gavel("token", "--user", buyer)
    bought = gavel("buy", auction_id)
    assert (bought.exit_code, bought.output.strip()) == (0, "bought: Loom is yours for $50.00")
    rows = show(gavel, auction_id)
    assert (rows["status"], rows["winner"], rows["price"]) == ("ended", "Bidder 2 (you)", "$50.00 by Bidder 2 (you)")
    assert "buy it now" not in rows
    again = gavel("buy", auction_id)
    assert (again.exit_code, again.output.strip()) == (2, "rejected: Buy It Now is not available")
    late = gavel("bid", auction_id, "60")
    assert late.exit_code == 2 and late.output.startswith("rejected: the auction has ended")
    history = gavel("bids", auction_id).output.splitlines()
    assert "accepted (Buy It Now)" in history[2] and "Bidder 2 (you)" in history[2]


def test_a_bid_in_the_soft_close_window_extends_the_end(gavel) -> None:
    seller, bidder = (f"{who}-{uuid.uuid4().hex[:6]}" for who in ("seller", "bidder"))
    gavel("token", "--user", seller)
    # Ends in 10 minutes with a 1-hour window: any bid now is in the window and moves the end
    # to an hour after it.
    created = gavel(
        "auction", "create", "--name", "Kite", "--starting-price", "3", "--ends-in", "10m", "--soft-close", "1h"
    )
    assert created.exit_code == 0, created.output
    auction_id = created.stdout.strip()
    rows = show(gavel, auction_id)
    end = datetime.fromisoformat(rows["ends"])
    hard_end = datetime.fromisoformat(rows["soft close"].rsplit("until ", 1)[1].removesuffix(" at the latest"))
    assert rows["soft close"].startswith("a bid in the last 1h moves the end to 1h after it, until ")
    assert abs(hard_end - end - timedelta(days=1)) < timedelta(seconds=1)  # the CLI's cap: a day past the end

    gavel("token", "--user", bidder)
    before = datetime.now(end.tzinfo)
    assert gavel("bid", auction_id, "4").exit_code == 0
    extended = show(gavel, auction_id)["ends"]
    match = re.fullmatch(r"(\S+) \(extended from (\S+)\)", extended)
    assert match, extended
    new_end, original = (datetime.fromisoformat(t) for t in match.groups())
    assert original == end and before + timedelta(minutes=59) < new_end <= datetime.now(end.tzinfo) + timedelta(hours=1)


def test_sale_cancel_and_retract_through_the_cli(gavel) -> None:
    seller, winner, rival = (f"{who}-{uuid.uuid4().hex[:6]}" for who in ("seller", "winner", "rival"))
    assert gavel("token", "--user", seller).exit_code == 0
    soon = gavel(
        "auction", "create", "--name", "Kettle", "--starting-price", "10", "--ends-in", "4s", "--payment-window", "60s"
    )
    later = gavel("auction", "create", "--name", "Lamp", "--starting-price", "10", "--ends-in", "3d")
    assert soon.exit_code == later.exit_code == 0, (soon.output, later.output)
    soon_id, later_id = soon.stdout.strip(), later.stdout.strip()
    assert gavel("token", "--user", rival).exit_code == 0
    assert gavel("bid", soon_id, "11").exit_code == 0
    assert gavel("bid", later_id, "12").exit_code == 0
    assert gavel("token", "--user", winner).exit_code == 0
    assert gavel("bid", soon_id, "15").exit_code == 0

    # More than 12 hours left: the rival takes the bid back; then the seller cancels.
    [line] = gavel("bids", "--ids", later_id).output.splitlines()
    bid_id = line.split()[0]
    assert gavel("token", "--user", rival).exit_code == 0
    taken = gavel("retract", later_id, bid_id)
    assert taken.exit_code == 0 and taken.output.startswith(f"retracted bid {bid_id}"), taken.output
    assert "[retracted]" in gavel("bids", later_id).output
    assert gavel("token", "--user", seller).exit_code == 0
    assert gavel("cancel", later_id).output.strip() == "cancelled: Lamp"
    refused = gavel("cancel", soon_id)
    assert refused.exit_code == 1 and "FAILED_PRECONDITION" in refused.output, refused.output
    assert "rule: " in refused.output  # CANCEL_TOO_LATE, or AUCTION_ENDED if the end came first

    # The close, then the winner's sale: 11.00 + the increment at 11.00 (0.50).
    assert gavel("watch", soon_id).exit_code == 0
    assert gavel("token", "--user", winner).exit_code == 0
    assert re.match(rf"awaiting payment: \$11\.50 by {winner}, pay within \d+m\d\ds$", gavel("sale", soon_id).output)
    paid = gavel("pay", soon_id)
    assert (paid.exit_code, paid.output.strip()) == (0, f"paid: $11.50 by {winner}")
    declined = gavel("decline", soon_id)
    assert declined.exit_code == 1 and "rule: ALREADY_PAID" in declined.output, declined.output


def test_notifications_and_the_watchlist_through_the_cli(gavel, gateway_target: str) -> None:
    seller, alice, bob = (f"{who}-{uuid.uuid4().hex[:6]}" for who in ("seller", "alice", "bob"))
    gavel("token", "--user", seller)
    auction_id = gavel(
        "auction", "create", "--name", "Kettle", "--starting-price", "5", "--ends-in", "2h"
    ).stdout.strip()
    alice_token = gavel("token", "--user", alice).stdout.strip()
    assert gavel("notifications").output == ""  # nothing yet
    watched = gavel("watchlist", "add", auction_id)
    assert watched.exit_code == 0 and watched.output.startswith("watching Kettle: Kettle · no bids")
    assert gavel("watchlist", "ls").output.splitlines()[0].startswith(f"{auction_id}  Kettle")
    assert gavel("bid", auction_id, "6").exit_code == 0

    # Alice's stream is live before Bob bids, so the test awaits the notification, not a clock.
    with grpc.insecure_channel(gateway_target) as channel:
        stream = pb_grpc.StreamServiceStub(channel).WatchMyNotifications(
            pb.WatchMyNotificationsRequest(), metadata=(("authorization", f"Bearer {alice_token}"),), timeout=60
        )
        assert next(stream).heartbeat  # live
        gavel("token", "--user", bob)
        assert gavel("bid", auction_id, "9").exit_code == 0
        outbid = next(stream)
        stream.cancel()
    gavel("token", "--user", alice)
    [line] = gavel("notifications").output.splitlines()
    assert re.match(
        rf"\s*{outbid.notification_id}  \S+ \S+  outbid +You were outbid on Kettle: the price is now \$6\.50", line
    )
    assert bob not in line
    assert gavel("watchlist", "rm", auction_id).exit_code == 0
    assert gavel("watchlist", "ls").output == ""


def test_notifications_follow_prints_each_once_as_they_come(gavel, gateway_target: str) -> None:
    """`gavel notifications --follow`: the kept ones (read once its stream is live), then live
    ones, each once; run as the installed command, read line by line."""
    seller, alice, bob, carol = (f"{who}-{uuid.uuid4().hex[:6]}" for who in ("seller", "alice", "bob", "carol"))
    gavel("token", "--user", seller)
    auction_id = gavel(
        "auction", "create", "--name", "Clock", "--starting-price", "5", "--ends-in", "2h"
    ).stdout.strip()
    alice_token = gavel("token", "--user", alice).stdout.strip()
    assert gavel("bid", auction_id, "6").exit_code == 0
    gavel("token", "--user", bob)
    assert gavel("bid", auction_id, "8").exit_code == 0  # Alice outbid before she follows
    script = Path(sys.executable).parent / "gavel"
    env = {**os.environ, "GAVEL_TARGET": gateway_target, "GAVEL_TOKEN": alice_token, "PYTHONUNBUFFERED": "1"}
    follower = subprocess.Popen(
        [str(script), "notifications", "--follow"], env=env, stdout=subprocess.PIPE, text=True, bufsize=1
    )
    try:
        assert follower.stdout is not None
        lines = [_line_within(follower.stdout, 60)]  # the kept one
        gavel("token", "--user", alice)
        assert gavel("bid", auction_id, "10").exit_code == 0
        gavel("token", "--user", carol)
        assert gavel("bid", auction_id, "20").exit_code == 0  # outbid again, live
        lines.append(_line_within(follower.stdout, 60))
    finally:
        follower.terminate()
        follower.wait()
    ids = [int(line.split()[0]) for line in lines]
    assert ids[0] < ids[1] and all(" outbid " in line for line in lines)
    assert "the price is now $6.50" in lines[0] and "the price is now $10.50" in lines[1]


def _line_within(stream: IO[str], seconds: float) -> str:
    ready, _, _ = select.select([stream], [], [], seconds)
    assert ready, "no line in time"
    return stream.readline().rstrip("\n")
