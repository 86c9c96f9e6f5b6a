"""What follows the gavel (the sale, its deadlines, the next bidder) and taking things back
(cancel, retract), against a reference model written from issue 12's words.

The model keeps the bids as placed, in order, and derives everything from them the way the
words do: the price and leader are the rules' (issue 10's reference model, ``Reference``)
over the bids not retracted, "exactly as if the retracted bids had never been placed"; the
next bidder is the best remaining maximum of a bidder not passed over. A retraction does not
move the end back, so the model replays against the end as it stands.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from hypothesis import event, given, settings
from hypothesis import strategies as st

from gavel.domain.auction import Auction, Item, SaleStatus
from gavel.domain.bidding import BidOutcome, BuyNow, CloseAuction, Closed, PlaceBid, RejectReason
from gavel.domain.decision import Command, decide, decide_all
from gavel.domain.refusals import Refusal, Refused
from gavel.domain.sale import DeclineOffer, PaySale, SaleChanged, SaleDeadline
from gavel.domain.takeback import CancelAuction, RetractBid, Retracted
from tests.unit.rules_reference import AUCTION, BIDDERS, END, START, Reference, auctions

MIN_REMAINING = timedelta(minutes=20)
RECENT = timedelta(minutes=5)
TIMING = (RejectReason.AUCTION_ENDED, RejectReason.AUCTION_NOT_STARTED, RejectReason.AUCTION_CANCELLED)


@dataclass
class Placed:
    bid_id: uuid.UUID
    bidder: str
    amount: int
    at: datetime
    #: Refused for its time when placed: it stays refused, whatever else is taken back.
    late: bool
    retracted: bool = False


@dataclass
class RefSale:
    buyer: str
    price: int
    status: SaleStatus
    pay_by: datetime | None
    offer: int
    paid_request: str = ""
    passed: list[str] = field(default_factory=list)


@dataclass
class Model:
    """Issue 12's words, over the bids as placed."""

    auction: Auction
    bids: list[Placed] = field(default_factory=list)
    end: datetime = END
    cancelled: bool = False
    closed: bool = False
    sale: RefSale | None = None
    unpaid: Counter[str] = field(default_factory=Counter)

    def rules(self) -> tuple[Reference, dict[str, tuple[int, int]]]:
        """The rules over the bids never retracted, and each bidder's best standing maximum
        with the place of the bid that first reached it (an outbid maximum counts)."""
        a = self.auction
        table = [(s.from_price, s.increment) for s in a.increments]
        ref = Reference(a.starting_price, a.reserve_price, a.buy_now_price, table, self.end, None)
        best: dict[str, tuple[int, int]] = {}
        for i, b in enumerate(x for x in self.bids if not x.late and not x.retracted):
            own = ref.bid(b.bidder, b.amount, b.at)[0]
            counts = own.accepted or own.reason is RejectReason.OUTBID
            if counts and (b.bidder not in best or b.amount > best[b.bidder][0]):
                best[b.bidder] = (b.amount, i)
        return ref, best

    def ended(self, at: datetime) -> Refusal | None:
        if self.cancelled:
            return Refusal.AUCTION_CANCELLED
        if self.closed or at >= self.end:
            return Refusal.AUCTION_ENDED
        return None

    def cancel(self, seller: str, at: datetime) -> Refusal | None:
        if seller != self.auction.seller_id:
            return Refusal.NOT_THE_SELLER
        if self.cancelled:
            return None
        reason = self.ended(at)
        has_bids = bool(self.rules()[0].leader)
        if reason is None and has_bids and self.end - at <= MIN_REMAINING:
            reason = Refusal.CANCEL_TOO_LATE
        if reason is None:
            self.cancelled = True
        return reason

    def retract(self, bidder: str, bid_id: uuid.UUID, at: datetime) -> Refusal | None:
        target = next((b for b in self.bids if b.bid_id == bid_id), None)
        if target is None or target.bidder != bidder:
            return Refusal.NOT_YOUR_BID
        if target.retracted:
            return None
        reason = self.ended(at)
        if reason is not None:
            return reason
        if self.end - at > MIN_REMAINING:  # more than 12 hours left: any one of their bids
            target.retracted = True
        elif at - target.at < RECENT:  # the last 12 hours: a bid of the last hour takes all theirs
            for b in self.bids:
                if b.bidder == bidder:
                    b.retracted = True
        else:
            return Refusal.RETRACT_TOO_LATE
        return None

    def start_sale(self, buyer: str, price: int, at: datetime) -> None:
        self.sale = RefSale(buyer, price, SaleStatus.AWAITING_PAYMENT, at + self.auction.payment_window, 0)

    def close(self, at: datetime) -> None:
        ref, _ = self.rules()
        self.closed = True
        if ref.leader and ref.reserve_met:
            self.start_sale(ref.leader, ref.price, at)

    def _on_sale(self, who: str, at: datetime) -> Refusal | None:
        s = self.sale
        if self.cancelled:
            return Refusal.AUCTION_CANCELLED
        if s is None:
            return Refusal.NO_SALE
        if s.status is SaleStatus.PAID:
            return Refusal.ALREADY_PAID
        if s.status is SaleStatus.UNSOLD:
            return Refusal.SALE_UNSOLD
        if who != s.buyer:
            return Refusal.NOT_THE_BUYER
        assert s.pay_by is not None
        return Refusal.PAYMENT_WINDOW_PASSED if at >= s.pay_by else None

    def pay(self, who: str, request: str, at: datetime) -> Refusal | None:
        s = self.sale
        if s is not None and s.status is SaleStatus.PAID and (s.buyer, s.paid_request) == (who, request):
            return None  # the same payment again
        reason = self._on_sale(who, at)
        if reason is None:
            assert s is not None
            s.status, s.paid_request = SaleStatus.PAID, request
        return reason

    def decline(self, who: str, at: datetime) -> Refusal | None:
        if self.sale is not None and who in self.sale.passed:
            return None
        reason = self._on_sale(who, at)
        if reason is None and self.sale is not None and self.sale.offer == 0:
            reason = Refusal.WINNER_CANNOT_DECLINE
        if reason is None:
            self.move_on(at)
        return reason

    def deadline(self, offer: int, pay_by: datetime, at: datetime) -> bool:
        s = self.sale
        if s is None or self.cancelled or s.status is not SaleStatus.AWAITING_PAYMENT:
            return False
        if (s.offer, s.pay_by) != (offer, pay_by):
            return False
        if s.offer == 0:
            self.unpaid[s.buyer] += 1  # the winner did not pay
        self.move_on(at)
        return True

    def move_on(self, at: datetime) -> None:
        """To the next highest maximum among the others, at that maximum; at most max_offers
        offers after the winner's; only maxima that met the reserve; nobody passed twice."""
        s = self.sale
        assert s is not None
        s.passed.append(s.buyer)
        reserve = self.auction.reserve_price
        _, best = self.rules()
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[1][1]))
        candidates = [(b, m) for b, (m, _) in ranked if b not in s.passed and (not reserve or m >= reserve)]
        if s.offer + 1 > self.auction.max_offers or not candidates:
            s.buyer, s.price, s.status, s.pay_by = "", 0, SaleStatus.UNSOLD, None
            return
        (s.buyer, s.price), s.pay_by = candidates[0], at + self.auction.payment_window
        s.offer += 1


class Driver:
    """The implementation, one command at a time, with the history its worker would read."""

    def __init__(self, auction: Auction) -> None:
        self.state, self.history, self.log = auction, list[BidOutcome](), list[Command]()

    def apply(self, command: Command) -> list[object]:
        steps = decide(self.state, command, self.history)
        self.log.append(command)
        for s, o in steps:
            assert s.version >= self.state.version
            if isinstance(o, BidOutcome):
                self.history.append(o)
            elif isinstance(o, Retracted):
                self.history = [replace(b, retracted=True) if b.bid_id in o.bid_ids else b for b in self.history]
        if steps:
            self.state = steps[-1][0]
        return [o for _, o in steps]


def refusal(outcomes: list[object]) -> Refusal | None:
    refused = [o.reason for o in outcomes if isinstance(o, Refused)]
    for o in outcomes:
        event(f"refused {o.reason.value}" if isinstance(o, Refused) else type(o).__name__)
    return refused[0] if refused else None


def same_sale(state: Auction, model: Model) -> bool:
    s, m = state.sale, model.sale
    if s is None or m is None:
        return s is None and m is None
    return (s.buyer_id, s.price, s.status, s.pay_by, s.offer, list(s.passed)) == (
        m.buyer,
        m.price,
        m.status,
        m.pay_by,
        m.offer,
        m.passed,
    )


def someone(data: st.DataObject) -> str:
    return data.draw(st.sampled_from([*BIDDERS, "seller"]))


@settings(max_examples=400, deadline=None)
@given(auctions(), st.data())
def test_sale_cancel_and_retraction_follow_the_words(auction: Auction, data: st.DataObject) -> None:
    auction = replace(
        auction,
        payment_window=timedelta(minutes=data.draw(st.integers(1, 30))),
        max_offers=data.draw(st.integers(0, 3)),
    )
    model, impl = Model(auction), Driver(auction)
    at = START - timedelta(minutes=1)
    sold = False
    # Bidding, with retractions and cancellations among the bids.
    for _ in range(data.draw(st.integers(1, 30))):
        at += timedelta(seconds=data.draw(st.sampled_from([1, 30, 120, 300, 900])))
        if data.draw(st.booleans()):  # near the end, where the time rules bite
            at = max(at, model.end - MIN_REMAINING - timedelta(seconds=data.draw(st.integers(-600, 600))))
        what = data.draw(st.sampled_from(["bid"] * 7 + ["retract"] * 3 + ["cancel", "buy"]))
        who = someone(data)
        if what == "bid":
            s = impl.state
            pivot = data.draw(st.sampled_from([s.min_next_bid, s.leader_max or s.starting_price, s.reserve_price]))
            command: Command = PlaceBid(
                uuid.uuid4(), AUCTION, who, max(1, pivot + data.draw(st.integers(-60, 300))), at
            )
            [own, *_] = impl.apply(command)
            assert isinstance(own, BidOutcome)
            model.bids.append(Placed(command.bid_id, who, command.amount, at, own.reason in TIMING))
            model.end = impl.state.end_date  # soft close is issue 10's, checked there
        elif what == "retract":
            target = data.draw(st.sampled_from(model.bids)) if model.bids else None
            if target is not None and data.draw(st.integers(0, 4)):  # mostly one's own bid
                who = target.bidder
            bid_id = target.bid_id if target is not None else uuid.uuid4()
            command = RetractBid(AUCTION, who, bid_id, "typo", at, MIN_REMAINING, RECENT)
            assert refusal(impl.apply(command)) == model.retract(who, bid_id, at)
        elif what == "cancel":
            command = CancelAuction(AUCTION, data.draw(st.sampled_from(["seller", who])), "", at, MIN_REMAINING)
            assert refusal(impl.apply(command)) == model.cancel(command.seller_id, at)
        else:
            outcomes = impl.apply(BuyNow(uuid.uuid4(), AUCTION, who, at))
            bought = next(o for o in outcomes if isinstance(o, BidOutcome))
            if bought.accepted:
                sold, model.closed = True, True
                model.start_sale(who, auction.buy_now_price, at)
        ref, _ = model.rules()
        state = impl.state
        if not sold:  # price and leader: the rules over the bids never retracted
            assert (state.highest_bid, state.highest_bidder_id, state.leader_max) == (
                ref.price,
                ref.leader,
                ref.leader_max,
            )
        assert (state.cancelled_at is not None) == model.cancelled
        assert same_sale(state, model)
    # The gavel, then the sale.
    if not sold and not model.cancelled:
        at = max(at, model.end)
        closed = impl.apply(CloseAuction(AUCTION, impl.state.end_date, at))
        assert closed and isinstance(closed[0], Closed)
        model.close(at)
        assert same_sale(impl.state, model)
    stale: list[tuple[int, datetime]] = []
    for _ in range(data.draw(st.integers(0, 14))):
        sale = impl.state.sale
        pay_by = sale.pay_by if sale is not None and sale.pay_by is not None else at
        at = max(at, pay_by + timedelta(seconds=data.draw(st.integers(-120, 60))))
        what = data.draw(st.sampled_from(["pay", "pay", "decline", "deadline", "deadline", "stale"]))
        buyer = sale.buyer_id if sale is not None and sale.buyer_id else someone(data)
        who = data.draw(st.sampled_from([buyer, buyer, someone(data)]))
        if what == "pay":
            request = data.draw(st.sampled_from(["r1", "r2"]))
            assert refusal(impl.apply(PaySale(AUCTION, who, request, at))) == model.pay(who, request, at)
        elif what == "decline":
            assert refusal(impl.apply(DeclineOffer(AUCTION, who, at))) == model.decline(who, at)
        elif sale is not None and sale.pay_by is not None and what == "deadline":
            at = max(at, sale.pay_by)
            stale.append((sale.offer, sale.pay_by))
            outcomes = impl.apply(SaleDeadline(AUCTION, sale.offer, sale.pay_by, at))
            unpaid = [o.unpaid_buyer for o in outcomes if isinstance(o, SaleChanged) and o.unpaid_buyer]
            assert bool(outcomes) == model.deadline(sale.offer, sale.pay_by, at)
            assert Counter(unpaid) == Counter({sale.buyer_id: 1} if sale.offer == 0 and outcomes else {})
        elif stale:  # a deadline of an offer that is over: it changes nothing
            offer, old = data.draw(st.sampled_from(stale))
            assert impl.apply(SaleDeadline(AUCTION, offer, old, at)) == []
        assert same_sale(impl.state, model)
    event(
        f"sale ended {impl.state.sale.status.value} at offer {impl.state.sale.offer}" if impl.state.sale else "no sale"
    )
    # Folding the whole log at once (group commit) gives the same auction.
    final, _ = decide_all(auction, impl.log)
    assert final == impl.state


def _bid(driver: Driver, who: str, amount: int, at: datetime) -> PlaceBid:
    command = PlaceBid(uuid.uuid4(), AUCTION, who, amount, at)
    driver.apply(command)
    return command


def test_worked_example_retraction_and_next_bidders() -> None:
    """By hand, on the default ladder: a retraction undoes a bid's effect on the price, and an
    unpaid winner's item goes to the next maxima, each at its own maximum."""
    a = Auction(
        AUCTION, "seller", Item("Lamp"), START, END, 100, "USD", START,
        original_end_date=END, payment_window=timedelta(minutes=10), max_offers=2,
    )  # fmt: skip
    d = Driver(a)
    t = START + timedelta(minutes=1)
    _bid(d, "ann", 1000, t)
    bob = _bid(d, "bob", 1500, t)
    _bid(d, "cy", 1200, t)
    assert (d.state.highest_bidder_id, d.state.highest_bid) == ("bob", 1250)  # cy's 1200 + 50
    # Bob takes his bid back with more than MIN_REMAINING left: as if he had never bid.
    [done] = d.apply(RetractBid(AUCTION, "bob", bob.bid_id, "typo", t, MIN_REMAINING, RECENT))
    assert isinstance(done, Retracted) and done.bid_ids == (bob.bid_id,)
    assert (d.state.highest_bidder_id, d.state.highest_bid) == ("cy", 1050)  # ann's 1000 + 50
    late = END - MIN_REMAINING + timedelta(minutes=1)
    [refused] = d.apply(RetractBid(AUCTION, "bob", bob.bid_id, "again", late, MIN_REMAINING, RECENT))
    assert not isinstance(refused, Refused)  # a repeat answers the same, changes nothing
    [too_late] = d.apply(CancelAuction(AUCTION, "seller", "", late, MIN_REMAINING))
    assert isinstance(too_late, Refused) and too_late.reason is Refusal.CANCEL_TOO_LATE
    dee = _bid(d, "dee", 1150, START + timedelta(minutes=2))  # outbid by cy's proxy: still a maximum
    assert (d.state.highest_bidder_id, d.state.highest_bid) == ("cy", 1200)
    [old] = d.apply(RetractBid(AUCTION, "dee", dee.bid_id, "", late + RECENT, MIN_REMAINING, RECENT))
    assert isinstance(old, Refused) and old.reason is Refusal.RETRACT_TOO_LATE
    d.apply(CloseAuction(AUCTION, END, END))
    sale = d.state.sale
    assert sale is not None and (sale.buyer_id, sale.price, sale.offer) == ("cy", 1200, 0)
    assert sale.pay_by == END + timedelta(minutes=10)
    [moved] = d.apply(SaleDeadline(AUCTION, 0, sale.pay_by, sale.pay_by))
    assert isinstance(moved, SaleChanged) and moved.unpaid_buyer == "cy"
    assert (moved.sale.buyer_id, moved.sale.price, moved.sale.offer) == ("dee", 1150, 1)  # at her maximum
    assert moved.sale.pay_by == sale.pay_by + timedelta(minutes=10)
    [declined] = d.apply(DeclineOffer(AUCTION, "dee", sale.pay_by + timedelta(minutes=1)))
    assert isinstance(declined, SaleChanged) and (declined.sale.buyer_id, declined.sale.price) == ("ann", 1000)
    assert d.apply(SaleDeadline(AUCTION, 1, moved.sale.pay_by, END)) == []  # dee's: over
    [paid] = d.apply(PaySale(AUCTION, "ann", "pay-1", sale.pay_by + timedelta(minutes=2)))
    assert isinstance(paid, SaleChanged) and paid.sale.status is SaleStatus.PAID
    [again] = d.apply(PaySale(AUCTION, "ann", "pay-1", sale.pay_by + timedelta(minutes=3)))
    assert isinstance(again, SaleChanged) and again.version == paid.version  # idempotent
    [other] = d.apply(PaySale(AUCTION, "ann", "pay-2", sale.pay_by + timedelta(minutes=3)))
    assert isinstance(other, Refused) and other.reason is Refusal.ALREADY_PAID
    assert declined.sale.pay_by is not None
    assert d.apply(SaleDeadline(AUCTION, 2, declined.sale.pay_by, declined.sale.pay_by)) == []
