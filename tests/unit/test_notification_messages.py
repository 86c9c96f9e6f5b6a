"""Building notifications (gavel/notifications.py): what a recipient may see, and one bad
notification never in the way of the others (a peer platform failed every winner notice
because one record could not be rendered)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from gavel import notifications
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.domain.auction import Auction, Item
from gavel.domain.bidding import CloseAuction, PlaceBid
from gavel.domain.decision import decide
from gavel.domain.notices import NoticeKind, notices
from tests.unit.rules_reference import AUCTION, END, START


def closed_with_three_bidders() -> tuple[Auction, list]:
    state = Auction(AUCTION, "seller", Item("Lamp"), START, END, 100, "EUR", START)
    for who, amount in (("ann", 300), ("bob", 500), ("cy", 700)):
        state = decide(state, PlaceBid(uuid.uuid4(), AUCTION, who, amount, START + timedelta(minutes=1)))[-1][0]
    steps = decide(state, CloseAuction(AUCTION, END, END))
    return state, notices(state, steps)


def test_each_recipient_sees_aliases_and_their_own_standing() -> None:
    _, told = closed_with_three_bidders()
    built = notifications.build(told, END)
    by_user = {(o.user_id, o.notification.kind): o.notification for o in built}
    won = by_user[("cy", pb.NOTIFICATION_KIND_WON)]
    assert won.auction.you_lead and won.auction.winner_id == "cy" and won.text == "You won Lamp for €5.50"
    lost = by_user[("ann", pb.NOTIFICATION_KIND_LOST)]
    assert (lost.auction.highest_bidder_id, lost.auction.winner_id, lost.auction.highest_bidder_alias) == (
        "",
        "",
        "Bidder 3",
    )
    assert all(o.key.startswith(f"{AUCTION}:") for o in built)
    assert notifications.decode_outbox(notifications.encode_outbox(built)) == built


def test_one_notification_that_cannot_be_built_leaves_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    _, told = closed_with_three_bidders()
    text = notifications._text
    broken: list[NoticeKind] = []

    def fails_once(kind: NoticeKind, auction: pb.Auction) -> str:
        if kind is NoticeKind.LOST and not broken:  # the first loser's cannot be rendered
            broken.append(kind)
            raise ValueError("a record that cannot be rendered")
        return text(kind, auction)

    monkeypatch.setattr(notifications, "_text", fails_once)
    built = notifications.build(told, END)
    assert len(built) == len(told) - 1
    assert {o.notification.kind for o in built} >= {pb.NOTIFICATION_KIND_WON, pb.NOTIFICATION_KIND_PAYMENT_DUE}


def test_a_user_subject_is_a_fixed_token_whatever_the_id() -> None:
    for user_id in ("alice", "a.b*c>d", "ü" * 64):
        subject = notifications.subject(user_id)
        assert subject.count(".") == 1 and "*" not in subject and ">" not in subject and len(subject) == 39
    assert notifications.subject("a") != notifications.subject("b")


def test_the_outbox_of_a_close_watched_by_thousands_stays_small() -> None:
    """A close tells every watcher; its outbox keeps each state once, so it grows by a few
    dozen bytes per watcher, and never past MAX_OUTBOX_BYTES (one Paxos write)."""
    state, _ = closed_with_three_bidders()
    steps = decide(state, CloseAuction(AUCTION, END, END))
    watchers = [f"watcher-{i:05d}" for i in range(10_000)]
    built = notifications.build(notices(state, steps, watchers), END)
    assert len(built) == 3 + 1 + 10_000  # WON, PAYMENT_DUE, two LOST bidders, every watcher LOST
    box = notifications.encode_outbox(built)
    assert len(box) < notifications.MAX_OUTBOX_BYTES and len(box) / len(built) < 40
    assert notifications.decode_outbox(box) == built
    crowd = [f"watcher-{i:07d}" for i in range(40_000)]
    overflowing = notifications.build(notices(state, steps, crowd), END)
    kept = notifications.decode_outbox(notifications.encode_outbox(overflowing))
    assert 0 < len(kept) < len(overflowing) and kept == overflowing[: len(kept)]  # bidders first
