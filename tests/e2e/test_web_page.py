"""The web page in a real browser: Debian's Chromium (installed by `make test`), driven headless by
Playwright, loads the page from the gateway and talks gRPC-Web to the whole stack.

Each user is a separate browser context (own localStorage, so own dev sign-in). Waits are
Playwright's auto-waiting expectations, never sleeps. Screenshots go to build/test-artifacts/web/.

Bidding follows eBay's rules: a bid's amount is the bidder's maximum, and the price shown is the
one the proxy rules set (the first bid stands at the starting price).
"""

from __future__ import annotations

import collections
import re
import signal
import struct
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf.message import Message
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect, sync_playwright

from devstack.stack import Stack
from gavel import services
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from tests.e2e import api_client
from tests.e2e.api_client import rest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts" / "web"
# Generous for a shared 2-core machine; expectations return as soon as they hold.
WAIT_MS = 30_000
expect.set_options(timeout=WAIT_MS)

#: Opens a page for a user, signed in through the page's dev sign-in (None: anonymous).
OpenPage = Callable[[str | None], Page]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # No sandbox as root in a container; no GPU; /dev/shm is small in containers.
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def open_page(browser: Browser, base_url: str, request: pytest.FixtureRequest) -> Iterator[OpenPage]:
    """Each page in its own browser context (own localStorage, so own session). Every page's
    last state is saved as a screenshot (what a failure looked like); any uncaught error in a
    page fails the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def open_(user: str | None) -> Page:
        context = browser.new_context(base_url=base_url, viewport={"width": 1100, "height": 900})
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{user}: {exc}"))
        page.goto("/#/")
        if user:
            page.get_by_test_id("signin-user").fill(user)
            page.get_by_test_id("signin").click()
            expect(page.get_by_test_id("signed-in-user")).to_have_text(user)
        return page

    yield open_
    for n, context in enumerate(contexts):
        for page in context.pages:
            screenshot(page, f"{request.node.name}-{n}-last")
        context.close()
    assert errors == [], "uncaught errors in the page"


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def create_auction(
    base_url: str, token: str, name: str, *, ends_in: timedelta = timedelta(hours=1), **fields: object
) -> str:
    """An open auction starting at 10.00 EUR; ``fields`` join the REST body (e.g. reservePrice)."""
    item = {"name": name, "description": "Brass, 1930s.\nWorks."}
    return api_client.create_auction(base_url, token, ends_in=ends_in, item=item, currency="EUR", **fields)


def watch(page: Page, auction_id: str) -> None:
    page.goto(f"/#/auctions/{auction_id}")
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live")


def bid(page: Page, amount: str) -> None:
    page.get_by_test_id("bid-amount").fill(amount)
    page.get_by_test_id("place-bid").click()


def history_amounts(page: Page) -> list[str]:
    return page.get_by_test_id("bid-history").locator("[data-testid=bid] .amount").all_inner_texts()


def test_two_watchers_see_each_others_bids_live(base_url: str, token_for, open_page: OpenPage) -> None:
    name = unique("Lamp")
    auction_id = create_auction(base_url, token_for(unique("seller")), name)
    alice_name, bob_name = unique("alice"), unique("bob")
    alice, bob = open_page(alice_name), open_page(bob_name)
    for page in (alice, bob):
        watch(page, auction_id)
        expect(page.get_by_test_id("item-name")).to_contain_text(name)
        expect(page.get_by_test_id("highest-bid")).to_have_text("No bids yet")
        expect(page.get_by_test_id("starting-price")).to_have_text("10.00 EUR")
        expect(page.get_by_test_id("bid-minimum")).to_have_text("at least 10.00 EUR")
        expect(page.get_by_test_id("my-status")).to_have_text("")

    # Bob's 15 is his maximum: alone, he leads at the starting price.
    bid(bob, "15")
    expect(bob.get_by_test_id("bid-result")).to_have_text("ACCEPTED: you lead at 10.00 EUR — your maximum 15.00 EUR")
    expect(bob.get_by_test_id("my-status")).to_have_text("You lead — your maximum 15.00 EUR")
    expect(bob.get_by_test_id("bid-minimum")).to_have_text("more than your maximum of 15.00 EUR")
    # Alice placed nothing: only the watch stream can have told her page.
    expect(alice.get_by_test_id("highest-bid")).to_have_text("10.00 EUR")
    expect(alice.get_by_test_id("highest-bidder")).to_have_text("by Bidder 1")  # an alias, not Bob's name
    expect(alice.get_by_test_id("bid-minimum")).to_have_text("at least 10.50 EUR")  # the price plus its increment
    expect(alice.get_by_test_id("my-status")).to_have_text("")  # she has not bid

    # Alice's maximum beats Bob's: she leads at his maximum plus one increment.
    bid(alice, "20.50")
    expect(alice.get_by_test_id("bid-result")).to_have_text("ACCEPTED: you lead at 15.50 EUR — your maximum 20.50 EUR")
    expect(alice.get_by_test_id("my-status")).to_have_text("You lead — your maximum 20.50 EUR")
    expect(alice.get_by_test_id("my-status")).to_have_attribute("data-state", "leading")
    expect(bob.get_by_test_id("highest-bid")).to_have_text("15.50 EUR")
    expect(bob.get_by_test_id("highest-bidder")).to_have_text("by Bidder 2")
    expect(bob.get_by_test_id("my-status")).to_have_text("Outbid: the price is now 15.50 EUR")
    expect(bob.get_by_test_id("my-status")).to_have_attribute("data-state", "outbid")

    # Bob's 18 is below Alice's maximum: her automatic bid answers at 18.50.
    bid(bob, "18.00")
    expect(bob.get_by_test_id("bid-result")).to_have_text(
        "OUTBID: another bidder's maximum is higher; the price is now 18.50 EUR"
    )
    expect(bob.get_by_test_id("bid-result")).to_have_attribute("data-status", "rejected")
    for page in (alice, bob):
        expect(page.get_by_test_id("highest-bid")).to_have_text("18.50 EUR")
        expect(page.get_by_test_id("highest-bidder")).to_contain_text("by Bidder 2")
    expect(bob.get_by_test_id("my-status")).to_have_text("Outbid: the price is now 18.50 EUR")
    expect(bob.get_by_test_id("bid-minimum")).to_have_text("at least 19.00 EUR")
    expect(alice.get_by_test_id("my-status")).to_have_text("You lead — your maximum 20.50 EUR")

    bid(bob, "18.75")
    expect(bob.get_by_test_id("bid-result")).to_have_text("REJECTED: 18.75 EUR is below the minimum bid")

    # Both histories, newest first, with reasons and the automatic bid: Alice's from watch events.
    for page in (alice, bob):
        rows = page.get_by_test_id("bid-history").get_by_test_id("bid")
        expect(rows).to_have_count(5)
        assert history_amounts(page) == ["18.75 EUR", "18.50 EUR", "18.00 EUR", "15.50 EUR", "10.00 EUR"]
        expect(rows.first).to_have_attribute("data-status", "rejected")
        expect(rows.first).to_contain_text("REJECTED (below the minimum bid)")
        expect(rows.nth(1)).to_have_attribute("data-kind", "proxy")
        expect(rows.nth(1)).to_contain_text("Bidder 2")
        expect(rows.nth(1)).to_contain_text("ACCEPTED · automatic bid")
        expect(rows.nth(2)).to_contain_text("REJECTED (outbid by the leader's maximum)")
        expect(rows.nth(3)).to_have_attribute("data-kind", "manual")
        expect(rows.get_by_test_id("bid-kind")).to_have_count(1)
    # Each sees only their own maximum in the history: Bob's standing bid of his 15.
    expect(bob.get_by_test_id("bid-history").get_by_test_id("bid-max")).to_have_text(["max 15.00 EUR"])
    # (Alice's automatic bid carries hers only if the page re-read the history: events never do.)
    alice_rows = alice.get_by_test_id("bid-history").get_by_test_id("bid")
    expect(alice_rows.nth(3).get_by_test_id("bid-max")).to_have_text("max 20.50 EUR")
    expect(alice_rows.nth(4).get_by_test_id("bid-max")).to_have_count(0)  # Bob's
    # Four bids placed and decided (the automatic one is not counted, but has its own version),
    # seen by both pages, which then show the same version.
    for page in (alice, bob):
        expect(page.get_by_test_id("bid-count")).to_have_text("4 bids decided")
        expect(page.get_by_test_id("auction-version")).to_have_text("version 5")
    expect(alice.get_by_test_id("auction-version")).to_have_text(bob.get_by_test_id("auction-version").inner_text())
    expect(alice.get_by_test_id("bid-history").locator(".bidder").first).to_have_text("Bidder 1")
    expect(bob.get_by_test_id("bid-history").locator(".bidder").first).to_have_text("Bidder 1 (you)")
    # Neither page ever shows the other's account name.
    assert bob_name not in alice.content() and alice_name not in bob.content()
    screenshot(alice, "watchers-alice")
    screenshot(bob, "watchers-bob")

    # A fresh load knows Alice's maximum from her own ListBids (her token): no answer to go by.
    alice.reload()
    expect(alice.get_by_test_id("live-status")).to_have_attribute("data-state", "live")
    expect(alice.get_by_test_id("my-status")).to_have_text("You lead — your maximum 20.50 EUR")
    # ...and an anonymous visitor sees no one's maximum.
    anonymous = open_page(None)
    watch(anonymous, auction_id)
    expect(anonymous.get_by_test_id("bid-history").get_by_test_id("bid")).to_have_count(5)
    expect(anonymous.get_by_test_id("bid-history").get_by_test_id("bid-max")).to_have_count(0)
    expect(anonymous.get_by_test_id("my-status")).to_have_text("")


def test_post_an_auction_then_find_it_listed(base_url: str, open_page: OpenPage) -> None:
    carol = open_page(unique("carol"))
    form = carol.get_by_test_id("create-auction")

    # The service's field violation (google.rpc.BadRequest) lands next to its field.
    carol.get_by_test_id("create-price").fill("12.5")
    carol.get_by_test_id("create-submit").click()
    expect(form.locator('[data-error-for="item.name"]')).to_have_text("required")
    expect(carol.get_by_test_id("create-error")).to_contain_text("InvalidArgument")
    screenshot(carol, "create-error")

    # A bad amount is caught before any call, next to the price.
    name = unique("Gramophone")
    carol.get_by_test_id("create-name").fill(name)
    carol.get_by_test_id("create-price").fill("12.505")
    carol.get_by_test_id("create-submit").click()
    expect(form.locator('[data-error-for="starting_price"]')).to_have_text("EUR has 2 decimal places")

    # Buy It Now must be above the starting price: the service says so next to the field.
    carol.get_by_test_id("create-price").fill("12.50")
    carol.get_by_test_id("create-buy-now").fill("5")
    carol.get_by_test_id("create-submit").click()
    expect(form.locator('[data-error-for="buy_now_price"]')).to_have_text("must be above starting_price")

    carol.get_by_test_id("create-reserve").fill("20")
    carol.get_by_test_id("create-buy-now").fill("40")
    carol.get_by_test_id("create-soft-close").check()
    carol.get_by_test_id("create-soft-close-minutes").fill("5")
    carol.get_by_test_id("create-image").fill("http://127.0.0.1:9/gone.png")  # nothing listens on port 9
    # Ends soon: the list shows the 100 open auctions ending soonest, and the suite's earlier
    # layers leave many ending within the hour.
    carol.get_by_test_id("create-duration").fill("10")
    carol.get_by_test_id("create-submit").click()
    expect(carol).to_have_url(re.compile(r"#/auctions/[0-9a-f-]{36}$"))
    auction_id = carol.url.rsplit("/", 1)[1]
    expect(carol.get_by_test_id("item-name")).to_contain_text(name)
    expect(carol.get_by_test_id("auction-status")).to_have_text("open")
    expect(carol.get_by_test_id("ends-in")).to_have_text(re.compile(r"^(9m [0-5]\d|10m 00)s$"))
    expect(carol.get_by_test_id("bid-seller-hint")).to_be_visible()  # the seller cannot bid
    expect(carol.locator(".photo.noimage")).to_have_text("no image")  # a dead image link
    # The seller alone sees the reserve's amount.
    expect(carol.get_by_test_id("reserve-status")).to_have_text("Reserve not met (your reserve: 20.00 EUR)")
    expect(carol.get_by_test_id("buy-now-price")).to_have_text("Buy It Now price 40.00 EUR")
    expect(carol.get_by_test_id("soft-close")).to_have_text(
        re.compile(r"^Soft close: a bid in the last 5m moves the end to 5m after it \(at the latest .+\)\.$")
    )
    expect(carol.get_by_test_id("end-extended")).to_be_hidden()

    carol.goto("/#/")
    card = carol.locator(f'[data-testid=auction-card][data-auction-id="{auction_id}"]')
    expect(card).to_contain_text(name)
    expect(card.get_by_test_id("card-price")).to_have_text("12.50 EUR starting price")
    expect(card.get_by_test_id("card-buy-now")).to_have_text("Buy It Now 40.00 EUR")
    screenshot(carol, "auction-list")

    # An anonymous visitor sees the list too, and is asked to sign in to post.
    anonymous = open_page(None)
    expect(anonymous.locator(f'[data-auction-id="{auction_id}"]')).to_be_visible()
    expect(anonymous.get_by_test_id("create-submit")).to_be_disabled()
    anonymous.goto(f"/#/auctions/{auction_id}")
    expect(anonymous.get_by_test_id("reserve-status")).to_have_text("Reserve not met")
    expect(anonymous.get_by_test_id("bid-signin-hint")).to_be_visible()
    expect(anonymous.get_by_test_id("buy-now")).to_have_count(0)  # no button without a sign-in


def test_the_page_shows_the_winner_when_the_auction_ends(base_url: str, token_for, open_page: OpenPage) -> None:
    dave_name = unique("dave")
    # A short payment window: with no one else to offer it to, the sale ends unsold, and the
    # watch with it.
    auction_id = create_auction(
        base_url, token_for(unique("seller")), unique("Clock"), ends_in=timedelta(seconds=12), paymentWindow="3s"
    )
    dave = open_page(dave_name)
    watch(dave, auction_id)
    bid(dave, "11")
    expect(dave.get_by_test_id("bid-result")).to_contain_text("ACCEPTED")

    # The closer ends it on time; the stream's final state ends the watch. Alone, Dave wins at
    # the starting price, not at his maximum.
    expect(dave.get_by_test_id("auction-status")).to_have_text("ended")
    expect(dave.get_by_test_id("winner")).to_have_text("Won by Bidder 1 (you) for 10.00 EUR")
    expect(dave.get_by_test_id("my-status")).to_have_text("")  # the winner line says it all
    expect(dave.get_by_test_id("live-status")).to_have_attribute("data-state", "closed")
    expect(dave.get_by_test_id("bid-form")).to_have_count(0)
    screenshot(dave, "ended")


def test_the_watch_resumes_after_the_stream_service_restarts(
    stack: Stack, base_url: str, token_for, open_page: OpenPage
) -> None:
    auction_id = create_auction(base_url, token_for(unique("seller")), unique("Radio"))
    erin = open_page(unique("erin"))
    watch(erin, auction_id)

    stack.processes[services.STREAM.module].signal(signal.SIGKILL)
    try:
        expect(erin.get_by_test_id("live-status")).to_have_attribute("data-state", "retrying")
        screenshot(erin, "reconnecting")
    finally:
        stack.processes[services.STREAM.module] = stack.start_service(services.STREAM)
    expect(erin.get_by_test_id("live-status")).to_have_attribute("data-state", "live")

    # A bid from elsewhere (REST) reaches the resumed page.
    frank = unique("frank")
    with rest(base_url, token_for(frank)) as http:
        reply = http.post(f"/auctions/{auction_id}/bids", json={"amount": 1234, "requestId": "r1"})
        assert reply.json()["status"] == "BID_STATUS_ACCEPTED", reply.text
    expect(erin.get_by_test_id("highest-bid")).to_have_text("10.00 EUR")  # the first bid: the starting price
    expect(erin.get_by_test_id("highest-bidder")).to_have_text("by Bidder 1")
    expect(erin.get_by_test_id("bid-history").get_by_test_id("bid")).to_have_count(1)


def grpc_web_body(*messages: Message) -> bytes:
    """A whole gRPC-Web response: one data frame per message, then an OK trailer frame."""
    payloads = [m.SerializeToString() for m in messages]
    frames = [b"\x00" + struct.pack(">I", len(p)) + p for p in payloads]
    trailer = b"grpc-status:0\r\n"
    return b"".join(frames) + b"\x80" + struct.pack(">I", len(trailer)) + trailer


def fake_first_call(page: Page, calls: collections.Counter[str], method: str, body: bytes) -> None:
    """The page's first call of ``method`` ("Service/Method") gets ``body``; later calls reach
    the real stack. ``calls`` counts them all."""

    def handle(route: Route) -> None:
        calls[method] += 1
        if calls[method] > 1:
            route.continue_()
            return
        route.fulfill(status=200, headers={"content-type": "application/grpc-web+proto"}, body=body)

    page.route(f"**/auction.v1.{method}", handle)


def test_skipped_versions_make_the_page_reread_the_history(
    base_url: str, gateway_target: str, token_for, open_page: OpenPage
) -> None:
    """A conflated stream skips versions; the page must then re-read ListBids, not trust its events.

    The page is made to start behind (its first GetAuction and ListBids answered with the state
    before any bid) and its first stream replaced by one that jumps from version 0 to the last
    bid's: only a re-read of the history can show the two bids the stream skipped.
    """
    auction_id = create_auction(base_url, token_for(unique("seller")), unique("Vase"))
    grace = unique("grace")
    with rest(base_url, token_for(grace)) as http:
        # Accepted (at the starting price), rejected (not above her own maximum), accepted (her
        # raised maximum: the price stays, she bids against no one).
        for amount in (1100, 1050, 1200):
            assert http.post(f"/auctions/{auction_id}/bids", json={"amount": amount}).status_code == 200
    with grpc.insecure_channel(gateway_target) as channel:
        now = pb_grpc.AuctionServiceStub(channel).GetAuction(pb.GetAuctionRequest(auction_id=auction_id))
        history = pb_grpc.BidServiceStub(channel).ListBids(pb.ListBidsRequest(auction_id=auction_id)).bids
    assert now.version == 3 and len(history) == 3
    before = pb.Auction()
    before.CopyFrom(now)
    before.version, before.highest_bid, before.highest_bidder_id, before.bid_count = 0, 0, "", 0

    calls: collections.Counter[str] = collections.Counter()
    page = open_page(None)
    fake_first_call(page, calls, "AuctionService/GetAuction", grpc_web_body(before))
    fake_first_call(page, calls, "BidService/ListBids", grpc_web_body(pb.ListBidsResponse()))
    stream = grpc_web_body(
        pb.AuctionEvent(heartbeat=True),
        pb.AuctionEvent(auction=before),  # the snapshot: what the page shows already
        pb.AuctionEvent(auction=now, bid=history[0]),  # version 3 after 0: two skipped
    )  # ...and the stream ends without a final state, so the page reconnects (to the real one)
    fake_first_call(page, calls, "StreamService/WatchAuction", stream)
    page.goto(f"/#/auctions/{auction_id}")

    expect(page.get_by_test_id("highest-bid")).to_have_text("10.00 EUR")
    expect(page.get_by_test_id("bid-history").get_by_test_id("bid")).to_have_count(3)
    # The refused raise is shown at the price it left standing, never at what the leader entered.
    assert history_amounts(page) == ["10.00 EUR", "10.00 EUR", "10.00 EUR"]
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live")
    assert calls["BidService/ListBids"] == 2 and calls["StreamService/WatchAuction"] == 2
    screenshot(page, "gap-refetched")


def test_an_ended_auction_keeps_watching_until_the_winner_is_decided(
    base_url: str, gateway_target: str, token_for, open_page: OpenPage
) -> None:
    """ENDED follows the clock; the winner comes with the close, through the bid log, just after.
    A page that first sees ENDED without ``closed_at`` must keep watching, not call it final.

    The page is made to open in that moment (its first GetAuction and stream answer the ended
    state before the close); only by watching on can it show the winner the close decided.
    """
    auction_id = create_auction(
        base_url, token_for(unique("seller")), unique("Globe"), ends_in=timedelta(seconds=4), paymentWindow="3s"
    )
    ivy = unique("ivy")
    with rest(base_url, token_for(ivy)) as http:
        reply = http.post(f"/auctions/{auction_id}/bids", json={"amount": 1100})
        assert reply.json()["status"] == "BID_STATUS_ACCEPTED", reply.text
    with grpc.insecure_channel(gateway_target) as channel:
        events = pb_grpc.StreamServiceStub(channel).WatchAuction(
            pb.WatchAuctionRequest(auction_id=auction_id), timeout=60
        )
        closed = next(e.auction for e in events if e.HasField("auction") and e.auction.HasField("closed_at"))
    # Read anonymously: the winner is an alias, their account name is theirs and the seller's.
    assert (closed.HasField("sale"), closed.highest_bidder_alias, closed.winner_id) == (True, "Bidder 1", "")
    before_close = pb.Auction()
    before_close.CopyFrom(closed)
    before_close.ClearField("closed_at")
    before_close.ClearField("sale")
    before_close.version -= 1
    assert before_close.status == pb.AUCTION_STATUS_ENDED

    calls: collections.Counter[str] = collections.Counter()
    page = open_page(None)
    fake_first_call(page, calls, "AuctionService/GetAuction", grpc_web_body(before_close))
    # The stream's snapshot is the ended state before the close; then it ends (as on a restart).
    fake_first_call(page, calls, "StreamService/WatchAuction", grpc_web_body(pb.AuctionEvent(auction=before_close)))
    page.goto(f"/#/auctions/{auction_id}")

    expect(page.get_by_test_id("winner")).to_have_text("Won by Bidder 1 for 10.00 EUR")
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "closed")
    assert calls["StreamService/WatchAuction"] == 2
    screenshot(page, "winner-after-the-end")


def test_reserve_and_buy_it_now_on_the_page(base_url: str, token_for, open_page: OpenPage) -> None:
    """Buy It Now lasts until the first bid, or with a reserve until the reserve is met (eBay's
    rule); buying ends the auction at once, with the buyer as winner."""
    seller = token_for(unique("seller"))
    rules = {"reservePrice": 3000, "buyNowPrice": 5000}
    first, second = (create_auction(base_url, seller, unique("Loom"), **rules) for _ in range(2))
    hank_name, iris_name = unique("hank"), unique("iris")
    hank, iris = open_page(hank_name), open_page(iris_name)

    for page in (hank, iris):
        watch(page, first)
        expect(page.get_by_test_id("reserve-status")).to_have_text("Reserve not met")  # no amount: not the seller
        expect(page.get_by_test_id("buy-now")).to_have_text("Buy It Now for 50.00 EUR")
    bid(hank, "20")  # below the reserve: the price stays at the start, Buy It Now stays
    expect(hank.get_by_test_id("bid-result")).to_have_text("ACCEPTED: you lead at 10.00 EUR — your maximum 20.00 EUR")
    expect(hank.get_by_test_id("my-status")).to_have_text(
        "You lead — your maximum 20.00 EUR (the reserve is not met yet)"
    )
    expect(iris.get_by_test_id("highest-bidder")).to_have_text("by Bidder 1")
    expect(iris.get_by_test_id("reserve-status")).to_have_text("Reserve not met")
    expect(iris.get_by_test_id("buy-now")).to_be_visible()

    iris.get_by_test_id("buy-now").click()
    expect(iris.get_by_test_id("bid-result")).to_have_text("BOUGHT: the item is yours for 50.00 EUR")
    for page, you in ((iris, " (you)"), (hank, "")):
        expect(page.get_by_test_id("auction-status")).to_have_text("ended")
        expect(page.get_by_test_id("winner")).to_have_text(f"Won by Bidder 2{you} for 50.00 EUR")
        # Sold, not yet paid: the sale is still to change, so the watch goes on.
        expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live")
        expect(page.get_by_test_id("buy-now-price")).to_be_hidden()
        expect(page.get_by_test_id("ends-in")).to_have_text("ended")  # at the purchase, not the end set
        rows = page.get_by_test_id("bid-history").get_by_test_id("bid")
        expect(rows).to_have_count(2)
        expect(rows.first).to_have_attribute("data-kind", "buy-now")
        expect(rows.first).to_contain_text("ACCEPTED · Buy It Now")
    expect(hank.get_by_test_id("bid-form")).to_have_count(0)
    expect(iris.get_by_test_id("sale-status")).to_have_text("You won: pay 50.00 EUR")
    expect(hank.get_by_test_id("sale-status")).to_have_text("Awaiting the winner's payment of 50.00 EUR")
    screenshot(iris, "bought")

    # A bid that meets the reserve raises the price to it, and ends Buy It Now.
    for page in (hank, iris):
        watch(page, second)
        expect(page.get_by_test_id("buy-now")).to_be_visible()
    bid(hank, "35")
    expect(hank.get_by_test_id("bid-result")).to_have_text("ACCEPTED: you lead at 30.00 EUR — your maximum 35.00 EUR")
    expect(iris.get_by_test_id("highest-bid")).to_have_text("30.00 EUR")
    expect(iris.get_by_test_id("reserve-status")).to_have_text("Reserve met")
    expect(iris.get_by_test_id("buy-now")).to_be_hidden()
    expect(iris.get_by_test_id("buy-now-price")).to_be_hidden()
    expect(hank.get_by_test_id("my-status")).to_have_text("You lead — your maximum 35.00 EUR")


def test_a_bid_in_the_soft_close_window_extends_the_end(base_url: str, token_for, open_page: OpenPage) -> None:
    """Ends in 10 minutes with a window of an hour: any bid now is in the window and moves the
    end to 2 hours after it; every watcher sees the new end, marked as extended."""
    end = datetime.now(UTC) + timedelta(minutes=10)
    soft = {"window": "3600s", "extension": "7200s", "hardEnd": api_client.iso(end + timedelta(days=1))}
    auction_id = create_auction(
        base_url, token_for(unique("seller")), unique("Kite"), ends_in=timedelta(minutes=10), softClose=soft
    )
    jack, kim = open_page(unique("jack")), open_page(None)
    for page in (jack, kim):
        watch(page, auction_id)
        expect(page.get_by_test_id("end-extended")).to_be_hidden()
        expect(page.get_by_test_id("ends-in")).to_have_text(re.compile(r"^(9m [0-5]\d|10m 00)s$"))
        expect(page.get_by_test_id("soft-close")).to_contain_text("a bid in the last 1h moves the end to 2h after it")
    ends_at = kim.get_by_test_id("ends-at").inner_text()

    bid(jack, "11")
    expect(jack.get_by_test_id("bid-result")).to_contain_text("ACCEPTED")
    for page in (jack, kim):
        expect(page.get_by_test_id("end-extended")).to_be_visible()
        expect(page.get_by_test_id("end-extended")).to_have_text("extended")
        expect(page.get_by_test_id("end-extended")).to_have_attribute("title", f"originally {ends_at}")
        expect(page.get_by_test_id("ends-in")).to_have_text(re.compile(r"^(1h 59m|2h 00m)$"))
        expect(page.get_by_test_id("ends-at")).not_to_have_text(ends_at)
    screenshot(kim, "extended")


def _rest_bid(base_url: str, token: str, auction_id: str, amount: int) -> None:
    with rest(base_url, token) as http:
        reply = http.post(f"/auctions/{auction_id}/bids", json={"amount": amount})
        assert reply.json()["status"] in ("BID_STATUS_ACCEPTED", "BID_STATUS_REJECTED"), reply.text


def test_the_sale_cancel_and_retract_on_the_page(base_url: str, token_for, open_page: OpenPage) -> None:
    """After the close the winner pays from the page (a countdown to the deadline beside the
    button); a winner who lets the window pass hands the item to the next bidder, offered at
    their maximum, who may decline it; the seller cancels an open auction; a bidder retracts."""
    seller, dave, erin = unique("seller"), unique("dave"), unique("erin")
    # Erin's 11.00 is outbid by Dave's maximum: Dave wins at 11.00 + 0.50.
    paid_lot = create_auction(
        base_url, token_for(seller), unique("Lamp"), ends_in=timedelta(seconds=8), paymentWindow="60s"
    )
    lapsed_lot = create_auction(
        base_url, token_for(seller), unique("Vase"), ends_in=timedelta(seconds=8), paymentWindow="3s"
    )
    for lot in (paid_lot, lapsed_lot):
        _rest_bid(base_url, token_for(erin), lot, 1100)
        _rest_bid(base_url, token_for(dave), lot, 1500)

    winner = open_page(dave)
    winner.goto(f"/#/auctions/{paid_lot}")
    expect(winner.get_by_test_id("sale-status")).to_have_text("You won: pay 11.50 EUR")
    expect(winner.get_by_test_id("pay-by")).to_have_text(re.compile(r"\d+ ?s|\d+ ?m"))
    winner.get_by_test_id("pay-sale").click()
    expect(winner.get_by_test_id("action-result")).to_have_text("Paid. Thank you!")
    expect(winner.get_by_test_id("sale-status")).to_have_text("Paid: 11.50 EUR")
    expect(winner.get_by_test_id("live-status")).to_have_attribute("data-state", "closed")  # nothing left to change
    screenshot(winner, "sale-paid")

    next_bidder = open_page(erin)
    next_bidder.goto(f"/#/auctions/{lapsed_lot}")
    expect(next_bidder.get_by_test_id("sale-status")).to_have_text("Offered to you at your maximum, 11.00 EUR")
    screenshot(next_bidder, "sale-offered")
    next_bidder.get_by_test_id("decline-offer").click()
    expect(next_bidder.get_by_test_id("action-result")).to_have_text("Declined.")
    expect(next_bidder.get_by_test_id("sale-status")).to_have_text("Unsold: no buyer paid")

    # More than 12 hours left: Erin takes her bid back, then the seller cancels.
    open_lot = create_auction(base_url, token_for(seller), unique("Desk"), ends_in=timedelta(days=2))
    _rest_bid(base_url, token_for(erin), open_lot, 1200)
    next_bidder.goto(f"/#/auctions/{open_lot}")
    own = next_bidder.get_by_test_id("bid").filter(has_text="(you)")
    own.get_by_test_id("retract-bid").click()
    expect(next_bidder.get_by_test_id("action-result")).to_contain_text("Retracted")
    expect(own).to_have_attribute("data-retracted", "true")
    expect(next_bidder.get_by_test_id("highest-bid")).to_have_text("No bids yet")
    owner = open_page(seller)
    owner.goto(f"/#/auctions/{open_lot}")
    owner.get_by_test_id("cancel-auction").click()
    expect(owner.get_by_test_id("auction-status")).to_have_text("cancelled")
    expect(next_bidder.get_by_test_id("auction-status")).to_have_text("cancelled")  # live, for everyone
    screenshot(owner, "cancelled")


def test_notifications_watching_and_my_bids_on_the_page(base_url: str, token_for, open_page: OpenPage) -> None:
    """Outbid elsewhere, told in the header live (an unread count, the list under it); the
    watch button puts the auction on the Watching view; My bids lists the bid."""
    name = unique("Teapot")
    auction_id = create_auction(base_url, token_for(unique("seller")), name)
    jo_name, kim = unique("jo"), unique("kim")
    jo = open_page(jo_name)
    watch(jo, auction_id)
    jo.get_by_test_id("watch-button").click()
    expect(jo.get_by_test_id("watch-button")).to_have_text("Watching ✓")
    bid(jo, "12")
    expect(jo.get_by_test_id("bid-result")).to_contain_text("ACCEPTED")
    expect(jo.get_by_test_id("notifications")).to_have_attribute("data-live", "true")

    with rest(base_url, token_for(kim)) as http:  # outbid from elsewhere
        assert (
            http.post(f"/auctions/{auction_id}/bids", json={"amount": 2000}).json()["status"] == "BID_STATUS_ACCEPTED"
        )
    expect(jo.get_by_test_id("unread-count")).to_have_text("(1)")
    jo.get_by_test_id("notifications-button").click()
    told = jo.get_by_test_id("notifications").get_by_test_id("notification")
    expect(told).to_have_count(1)
    expect(told.first).to_have_text(re.compile(rf"^You were outbid on {name}: the price is now €12\.50"))
    expect(jo.get_by_test_id("unread-count")).to_have_text("")  # opened: read
    assert kim not in jo.content()
    screenshot(jo, "notifications")

    jo.get_by_test_id("watching-link").click()
    expect(jo.get_by_test_id("watchlist").get_by_test_id("auction-card")).to_have_attribute(
        "data-auction-id", auction_id
    )
    jo.get_by_test_id("my-bids-link").click()
    mine = jo.get_by_test_id("my-bids").get_by_test_id("my-bid")
    expect(mine).to_have_count(1)
    expect(mine.first).to_contain_text(name)
    expect(mine.first).to_contain_text("10.00 EUR max 12.00 EUR")  # the price it set, and her maximum
    screenshot(jo, "my-bids")
