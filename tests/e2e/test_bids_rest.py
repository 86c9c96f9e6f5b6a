"""BidService over REST through Envoy: POST /auctions/{id}/bids, GET …/bids, GET /me/bids."""

from __future__ import annotations

import uuid

from tests.e2e.api_client import create_auction, rest


def test_place_and_list_bids(base_url: str, token_for) -> None:
    auction_id = create_auction(base_url, token_for("seller-rest-bids"), name="Clock")
    alice = f"alice-{uuid.uuid4().hex[:6]}"
    with rest(base_url, token_for(alice)) as http:
        accepted = http.post(f"/auctions/{auction_id}/bids", json={"amount": 1500, "requestId": "r1"})
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "BID_STATUS_ACCEPTED"
        assert accepted.json()["highestBid"] == "1500"
        retried = http.post(f"/auctions/{auction_id}/bids", json={"amount": 1500, "requestId": "r1"})
        assert retried.json() == accepted.json()
        rejected = http.post(f"/auctions/{auction_id}/bids", json={"amount": 1200})
        assert rejected.json()["status"] == "BID_STATUS_REJECTED"
        assert rejected.json()["rejectReason"] == "BID_REJECT_REASON_NOT_ABOVE_HIGHEST"

        history = http.get(f"/auctions/{auction_id}/bids").json()["bids"]
        assert [b["bidId"] for b in history] == [rejected.json()["bidId"], accepted.json()["bidId"]]  # newest first
        one = http.get(f"/auctions/{auction_id}/bids/{accepted.json()['bidId']}")
        assert one.json() == accepted.json()
        mine = http.get("/me/bids").json()["bids"]
        assert {b["bidId"] for b in mine} == {b["bidId"] for b in history}


def test_bid_errors_over_rest(base_url: str, token_for) -> None:
    seller = token_for("seller-rest-errors")
    auction_id = create_auction(base_url, seller, name="Clock")
    with rest(base_url) as anonymous:
        assert anonymous.post(f"/auctions/{auction_id}/bids", json={"amount": 5000}).status_code == 401
        assert anonymous.get("/me/bids").status_code == 401
    with rest(base_url, seller) as http:
        assert http.post(f"/auctions/{auction_id}/bids", json={"amount": 5000}).status_code == 403
    with rest(base_url, token_for("bob")) as http:
        bad = http.post(f"/auctions/{auction_id}/bids", json={"amount": 0})
        assert bad.status_code == 400
        assert bad.json()["details"][0]["fieldViolations"][0]["field"] == "amount"
        assert http.post(f"/auctions/{uuid.uuid4()}/bids", json={"amount": 5000}).status_code == 404
        assert http.get(f"/auctions/{uuid.uuid4()}/bids").status_code == 404
        assert http.get(f"/auctions/{auction_id}/bids/{uuid.uuid4()}").status_code == 404
        assert http.get(f"/auctions/{auction_id}/bids").json()["bids"] == []
