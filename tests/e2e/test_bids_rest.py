"""BidService over REST through Envoy: POST /auctions/{id}/bids, GET …/bids, GET /me/bids."""

from __future__ import annotations

import json
import uuid

import httpx

from tests.e2e.api_client import create_auction, rest


def test_place_and_list_bids(base_url: str, token_for) -> None:
    auction_id = create_auction(base_url, token_for("seller-rest-bids"), name="Clock")
    alice = f"alice-{uuid.uuid4().hex[:6]}"
    with rest(base_url, token_for(alice)) as http:
        accepted = http.post(f"/auctions/{auction_id}/bids", json={"amount": 1500, "requestId": "r1"})
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "BID_STATUS_ACCEPTED"
        # The amount is her maximum: alone, she leads at the starting price; she sees her maximum.
        assert (accepted.json()["highestBid"], accepted.json()["maxAmount"]) == ("1000", "1500")
        assert accepted.json()["kind"] == "BID_KIND_MANUAL"
        retried = http.post(f"/auctions/{auction_id}/bids", json={"amount": 1500, "requestId": "r1"})
        assert retried.json() == accepted.json()
        rejected = http.post(f"/auctions/{auction_id}/bids", json={"amount": 1200})
        assert rejected.json()["status"] == "BID_STATUS_REJECTED"
        assert rejected.json()["rejectReason"] == "BID_REJECT_REASON_NOT_ABOVE_OWN_MAX"
        public = httpx.get(f"{base_url}/auctions/{auction_id}/bids/{accepted.json()['bidId']}").json()
        assert public["maxAmount"] == "0"  # an anonymous reader does not see her maximum

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


def test_buy_now_over_rest_sells_once(base_url: str, token_for) -> None:
    auction_id = create_auction(base_url, token_for("seller-rest-buy"), name="Clock", buyNowPrice="4000")
    first, second = f"ann-{uuid.uuid4().hex[:6]}", f"ben-{uuid.uuid4().hex[:6]}"
    with rest(base_url) as anonymous:
        before = anonymous.get(f"/auctions/{auction_id}").json()
        assert before["buyNowPrice"] == "4000" and before["minNextBid"] == "1000"
        assert anonymous.post(f"/auctions/{auction_id}:buyNow", json={}).status_code == 401
    with rest(base_url, token_for(first)) as http:
        bought = http.post(f"/auctions/{auction_id}:buyNow", json={"requestId": "b1"})
        assert bought.status_code == 200, bought.text
        assert (bought.json()["status"], bought.json()["kind"]) == ("BID_STATUS_ACCEPTED", "BID_KIND_BUY_NOW")
        assert http.post(f"/auctions/{auction_id}:buyNow", json={"requestId": "b1"}).json() == bought.json()
    with rest(base_url, token_for(second)) as http:
        late = http.post(f"/auctions/{auction_id}:buyNow", json={}).json()
        assert late["rejectReason"] == "BID_REJECT_REASON_BUY_NOW_UNAVAILABLE"
        bid = http.post(f"/auctions/{auction_id}/bids", json={"amount": 9000}).json()
        assert bid["rejectReason"] == "BID_REJECT_REASON_AUCTION_ENDED"
        after = http.get(f"/auctions/{auction_id}").json()
    # Read by another bidder: the buyer is an alias (their name is theirs and the seller's).
    assert (after["status"], after["highestBidderAlias"], after["highestBid"]) == (
        "AUCTION_STATUS_ENDED",
        "Bidder 1",
        "4000",
    )
    assert after.get("winnerId", "") == "" and first not in json.dumps(after)
    assert after["buyNowPrice"] == "0"  # no longer available


def test_auction_rules_are_validated_over_rest(base_url: str, token_for) -> None:
    with rest(base_url, token_for("seller-rest-rules")) as http:
        bad = http.post(
            "/auctions",
            json={
                "item": {"name": "Clock"},
                "endDate": "2999-01-01T00:00:00Z",
                "startingPrice": 1000,
                "reservePrice": 500,
                "buyNowPrice": 900,
                "increments": [{"fromPrice": 10, "increment": 0}],
                "softClose": {"window": "0s", "extension": "60s"},
            },
        )
    assert bad.status_code == 400
    fields = {v["field"] for v in bad.json()["details"][0]["fieldViolations"]}
    assert {
        "reserve_price",
        "buy_now_price",
        "increments[0].from_price",
        "increments[0].increment",
        "soft_close.window",
        "soft_close.hard_end",
    } <= fields
