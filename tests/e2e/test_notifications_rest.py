"""Notifications and the watchlist over plain HTTP through the gateway: SSE at
GET /me/notifications/events, the kept list at GET /me/notifications,
and PUT / GET / DELETE /me/watchlist."""

from __future__ import annotations

import uuid

from tests.e2e.api_client import create_auction, rest
from tests.e2e.test_realtime_gateway import SseReader


def test_notifications_and_the_watchlist_over_http(base_url: str, token_for) -> None:
    seller, alice, bob = (f"{r}-{uuid.uuid4().hex[:8]}" for r in ("seller", "alice", "bob"))
    auction_id = create_auction(base_url, token_for(seller), name="Lantern", starting_price=100)
    me = {"authorization": f"Bearer {token_for(alice)}"}
    sse = SseReader(f"{base_url}/me/notifications/events", headers=me)
    try:
        sse.until(lambda events: any(e.get("heartbeat") for e in events))  # live
        with rest(base_url, token_for(alice)) as http:
            assert http.put(f"/me/watchlist/{auction_id}").json()["auctionId"] == auction_id
            assert http.post(f"/auctions/{auction_id}/bids", json={"amount": 200}).status_code == 200
        with rest(base_url, token_for(bob)) as http:
            assert http.post(f"/auctions/{auction_id}/bids", json={"amount": 500}).status_code == 200
        sse.until(lambda events: any(e.get("kind") == "NOTIFICATION_KIND_OUTBID" for e in events))
    finally:
        sse.close()
    assert sse.content_type.startswith("text/event-stream")
    [outbid] = [e for e in sse.events if not e.get("heartbeat")]
    assert outbid["auctionId"] == auction_id and outbid["auction"]["highestBidderAlias"] == "Bidder 2"
    assert bob not in str(sse.events)

    with rest(base_url, token_for(alice)) as http:
        kept = http.get("/me/notifications").json()["notifications"]
        assert [n["notificationId"] for n in kept] == [outbid["notificationId"]]
        listed = http.get("/me/watchlist").json()["auctions"]
        assert [a["auctionId"] for a in listed] == [auction_id]
        assert http.delete(f"/me/watchlist/{auction_id}").status_code == 200
        assert http.get("/me/watchlist").json().get("auctions", []) == []
        assert http.get("/me/notifications", params={"pageToken": "forged"}).status_code == 400
    with rest(base_url) as anonymous:
        assert anonymous.get("/me/notifications").status_code == 401
        assert anonymous.put(f"/me/watchlist/{auction_id}").status_code == 401
