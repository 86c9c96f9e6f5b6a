"""Who is told what (issue 13), against a model written from the words, per command rather
than per step of the decision:

- OUTBID "goes to a bidder when they lose the lead": the leader before a bid by someone else
  is not the leader after it, and the auction is still open; "a challenger whose bid is
  answered at once by the leader's maximum learns it from the PlaceBid answer, not a
  notification". Losing the lead by one's own retraction is not being outbid.
- ENDING_SOON "for auctions the user bid on or watches", once per end the timer was set for;
  WON (and PAYMENT_DUE) to the winner at the close, LOST to every other bidder and watcher;
  AUCTION_CANCELLED to every bidder and watcher (never to the seller: theirs are below); RESERVE_MET to the seller when the price reaches the
  reserve (each time: a retraction can take it back below);
  SECOND_CHANCE_OFFER to each next bidder offered the sale; SALE_PAID to the seller.
- "exactly once per cause": no two notices share a key, and a repeated command tells no one.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gavel.domain.auction import Auction, Item, SaleStatus
from gavel.domain.bidding import BuyNow, CloseAuction, PlaceBid
from gavel.domain.decision import Command, decide
from gavel.domain.notices import Notice, NoticeKind, needs_watchers, notices
from gavel.domain.reminders import EndingSoon
from gavel.domain.sale import DeclineOffer, PaySale, SaleDeadline
from gavel.domain.takeback import CancelAuction, RetractBid
from tests.unit.rules_reference import AUCTION, BIDDERS, END, START, auctions
from tests.unit.test_after_the_gavel import Driver

K = NoticeKind


def someone(data: st.DataObject) -> str:
    return data.draw(st.sampled_from([*BIDDERS, "seller"]))


class Run(Driver):
    """The implementation, one command at a time, keeping every notice it causes."""

    def __init__(self, auction: Auction, watchers: frozenset[str]) -> None:
        super().__init__(auction)
        self.watchers = watchers
        self.told: list[Notice] = []

    def apply_told(self, command: Command) -> list[Notice]:
        before = self.state
        steps = decide(before, command, self.history)
        super().apply(command)
        found = notices(before, steps, self.watchers if needs_watchers(before, steps) else ())
        self.told += found
        return found


@settings(max_examples=400, deadline=None)
@given(auctions(), st.data())
def test_notices_follow_the_words(auction: Auction, data: st.DataObject) -> None:
    auction = replace(auction, payment_window=timedelta(minutes=10), max_offers=data.draw(st.integers(0, 3)))
    watchers = frozenset(data.draw(st.sets(st.sampled_from([*BIDDERS, "seller", "wes", "val"]))))
    run = Run(auction, watchers)
    expected: Counter[tuple[str, NoticeKind]] = Counter()
    bidders: set[str] = set()
    soon: set[tuple[str, datetime]] = set()  # (user, the end they were told of)

    def everyone() -> set[str]:
        return (bidders | watchers) - {"seller"}

    at = START - timedelta(minutes=1)
    for _ in range(data.draw(st.integers(1, 30))):
        at += timedelta(seconds=data.draw(st.sampled_from([1, 30, 120, 300, 900])))
        before = run.state
        what = data.draw(st.sampled_from(["bid"] * 7 + ["retract", "cancel", "buy", "soon", "soon"]))
        who = data.draw(st.sampled_from(BIDDERS))
        if what == "bid":
            s = run.state
            pivot = data.draw(st.sampled_from([s.min_next_bid, s.leader_max or s.starting_price, s.reserve_price]))
            command: Command = PlaceBid(
                uuid.uuid4(), AUCTION, who, max(1, pivot + data.draw(st.integers(-60, 300))), at
            )
        elif what == "retract":
            bid_ids = [o.bid_id for o in run.history if o.bidder_id == who]
            target = data.draw(st.sampled_from(bid_ids)) if bid_ids else uuid.uuid4()
            command = RetractBid(AUCTION, who, target, "typo", at, timedelta(minutes=20), timedelta(minutes=5))
        elif what == "cancel":
            command = CancelAuction(AUCTION, "seller", "", at, timedelta(minutes=20))
        elif what == "soon":  # the timer, for the end as it stands or one it had
            end = data.draw(st.sampled_from([run.state.end_date, auction.end_date]))
            command = EndingSoon(AUCTION, end, at)
        else:
            command = BuyNow(uuid.uuid4(), AUCTION, who, at)
        found = run.apply_told(command)
        after = run.state
        if isinstance(command, (PlaceBid, BuyNow)) and after.version != before.version:
            bidders.add(who)
        open_after = after.closed_at is None and after.cancelled_at is None
        lost_lead = before.highest_bidder_id and after.highest_bidder_id != before.highest_bidder_id
        if isinstance(command, PlaceBid) and lost_lead and open_after:
            expected[(before.highest_bidder_id, K.OUTBID)] += 1
        if before.reserve_price and not before.reserve_met and after.reserve_met and open_after:
            expected[("seller", K.RESERVE_MET)] += 1
        if isinstance(command, EndingSoon):
            live = before.closed_at is None and before.cancelled_at is None
            if live and command.end_date == before.end_date and at < before.end_date:
                soon |= {(u, command.end_date) for u in everyone()}
        if before.cancelled_at is None and after.cancelled_at is not None:
            for u in everyone():
                expected[(u, K.AUCTION_CANCELLED)] += 1
        if before.closed_at is None and after.closed_at is not None:  # bought
            expected.update(_at_the_close(after, everyone()))
        assert all(n.state.auction_id == AUCTION for n in found)
    if run.state.closed_at is None and run.state.cancelled_at is None:
        at = max(at, run.state.end_date)
        run.apply_told(CloseAuction(AUCTION, run.state.end_date, at))
        expected.update(_at_the_close(run.state, everyone()))
    offered: list[str] = []
    for _ in range(data.draw(st.integers(0, 12))):
        sale = run.state.sale
        if sale is None:
            break
        before_sale = sale
        pay_by = sale.pay_by or at
        at = max(at, pay_by + timedelta(seconds=data.draw(st.integers(-120, 60))))
        what = data.draw(st.sampled_from(["pay", "decline", "deadline", "deadline"]))
        who = data.draw(st.sampled_from([sale.buyer_id, sale.buyer_id, someone(data)]))
        if what == "pay":
            run.apply_told(PaySale(AUCTION, who, data.draw(st.sampled_from(["r1", "r2"])), at))
        elif what == "decline":
            run.apply_told(DeclineOffer(AUCTION, who, at))
        elif sale.pay_by is not None:
            run.apply_told(SaleDeadline(AUCTION, sale.offer, sale.pay_by, max(at, sale.pay_by)))
        after_sale = run.state.sale
        assert after_sale is not None
        if after_sale.status is SaleStatus.PAID and before_sale.status is not SaleStatus.PAID:
            expected[("seller", K.SALE_PAID)] += 1
        if after_sale.buyer_id != before_sale.buyer_id and after_sale.status is SaleStatus.AWAITING_PAYMENT:
            offered.append(after_sale.buyer_id)
            expected[(after_sale.buyer_id, K.SECOND_CHANCE_OFFER)] += 1
    for user, _end in soon:
        expected[(user, K.ENDING_SOON)] += 1
    # What the log keeps: one notification per key. A timer decided twice repeats its keys
    # (and is stored once); every other cause has keys of its own.
    kept = {n.key: n for n in run.told}
    assert Counter((n.user_id, n.kind) for n in kept.values()) == expected
    repeated = [n for n in run.told if n.kind is not K.ENDING_SOON]
    assert len({n.key for n in repeated}) == len(repeated), "a cause told twice"
    assert all((n.user_id and n.user_id != "seller") or n.kind in (K.SALE_PAID, K.RESERVE_MET) for n in run.told)


def _at_the_close(state: Auction, everyone: set[str]) -> Counter[tuple[str, NoticeKind]]:
    told: Counter[tuple[str, NoticeKind]] = Counter()
    if state.winner_id:
        told[(state.winner_id, K.WON)] += 1
        told[(state.winner_id, K.PAYMENT_DUE)] += 1
    for b in everyone - {state.winner_id}:
        told[(b, K.LOST)] += 1
    return told


def test_a_challenger_answered_by_the_leaders_maximum_is_not_told() -> None:
    """The worked example: Ann leads with a maximum of 30; Bob's 20 is answered at once by
    her maximum (he learns it from his PlaceBid answer); Cy's 50 takes the lead: Ann is told."""
    auction = Auction(AUCTION, "seller", Item("Lamp"), START, END, 10, "EUR", START)
    run = Run(auction, frozenset({"wes"}))
    at = START + timedelta(minutes=1)
    assert run.apply_told(PlaceBid(uuid.uuid4(), AUCTION, "ann", 30, at)) == []
    assert run.apply_told(PlaceBid(uuid.uuid4(), AUCTION, "bob", 20, at)) == []
    [outbid] = run.apply_told(PlaceBid(uuid.uuid4(), AUCTION, "cy", 50, at))
    assert (outbid.user_id, outbid.kind, outbid.state.highest_bidder_id) == ("ann", K.OUTBID, "cy")
    soon = EndingSoon(AUCTION, END, END - timedelta(minutes=15))
    told = run.apply_told(soon) + run.apply_told(soon)  # the timer twice: the same keys
    assert {(n.user_id, n.kind) for n in told} == {(u, K.ENDING_SOON) for u in ("ann", "bob", "cy", "wes")}
    assert len({n.key for n in told}) == 4
    closed = run.apply_told(CloseAuction(AUCTION, END, END))
    assert Counter((n.user_id, n.kind) for n in closed) == Counter(
        {("cy", K.WON): 1, ("cy", K.PAYMENT_DUE): 1, ("ann", K.LOST): 1, ("bob", K.LOST): 1, ("wes", K.LOST): 1}
    )
