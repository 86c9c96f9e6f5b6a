"""AuctionService over REST through Envoy, with the seed's JSON bodies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from gavel.settings import Settings
from tests.e2e.api_client import iso, rest


def seed_body(**changes: object) -> dict[str, object]:
    now = datetime.now(UTC)
    body: dict[str, object] = {
        "item": {"name": "Vintage lamp", "description": "Brass, 1950s", "imageUrl": "https://img.example/lamp.jpg"},
        "startDate": iso(now),
        "endDate": iso(now + timedelta(days=3)),
        "startingPrice": 1000,
    }
    body.update(changes)
    return body


def test_create_then_get(base_url: str, token_for) -> None:
    with rest(base_url, token_for("seller-rest")) as http:
        created = http.post("/auctions", json=seed_body())
        assert created.status_code == 200, created.text
        auction = created.json()
        assert uuid.UUID(auction["auctionId"])
        assert auction["sellerId"] == "seller-rest"
        assert auction["status"] == "AUCTION_STATUS_OPEN"
        assert auction["startingPrice"] == "1000"  # proto3 JSON: int64 as a string
        assert auction["currency"] == "USD"
        fetched = http.get(f"/auctions/{auction['auctionId']}")
    assert fetched.status_code == 200
    assert fetched.json() == auction


def test_no_token_is_401_and_writes_nothing(base_url: str, settings: Settings) -> None:
    marker = f"nobody-{uuid.uuid4()}"
    with rest(base_url) as http:
        reply = http.post("/auctions", json=seed_body(requestId=marker))
        assert reply.status_code == 401
        assert reply.json()["code"] == 16
        with rest(base_url, "not-a-jwt") as bad:
            assert bad.post("/auctions", json=seed_body()).status_code == 401


def test_bad_body_is_400_naming_the_fields(base_url: str, token_for) -> None:
    seller = f"seller-{uuid.uuid4()}"
    body = seed_body(item={"name": "", "imageUrl": "javascript:alert(1)"}, startingPrice=0, currency="ZZZ")
    with rest(base_url, token_for(seller)) as http:
        reply = http.post("/auctions", json=body)
        assert reply.status_code == 400
        details = reply.json()["details"][0]
        assert details["@type"] == "type.googleapis.com/google.rpc.BadRequest"
        assert {v["field"] for v in details["fieldViolations"]} == {
            "item.name",
            "item.image_url",
            "starting_price",
            "currency",
        }
        # Nothing was written: the seller has no auctions.
        listed = http.get("/auctions", params={"sellerId": seller}).json()
        assert listed["auctions"] == []


def test_unknown_is_404_malformed_is_400(base_url: str) -> None:
    with rest(base_url) as http:
        missing = http.get(f"/auctions/{uuid.uuid4()}")
        assert missing.status_code == 404
        assert missing.json()["code"] == 5
        malformed = http.get("/auctions/not-a-uuid")
        assert malformed.status_code == 400
        assert malformed.json()["details"][0]["fieldViolations"][0]["field"] == "auction_id"


def test_retry_with_request_id_returns_the_same_auction(base_url: str, token_for) -> None:
    request_id = str(uuid.uuid4())
    with rest(base_url, token_for("seller-retry")) as http:
        first = http.post("/auctions", json=seed_body(requestId=request_id)).json()
        again = http.post("/auctions", json=seed_body(requestId=request_id)).json()
        other = http.post("/auctions", json=seed_body(requestId=str(uuid.uuid4()))).json()
    assert again == first
    assert other["auctionId"] != first["auctionId"]


def test_list_by_seller_pages_with_tokens(base_url: str, token_for) -> None:
    seller = f"seller-{uuid.uuid4()}"
    with rest(base_url, token_for(seller)) as http:
        ids = [http.post("/auctions", json=seed_body()).json()["auctionId"] for _ in range(3)]
        first = http.get("/auctions", params={"sellerId": seller, "pageSize": 2}).json()
        second = http.get(
            "/auctions", params={"sellerId": seller, "pageSize": 2, "pageToken": first["nextPageToken"]}
        ).json()
        bad_token = http.get("/auctions", params={"sellerId": seller, "pageToken": "garbage"})
    listed = [a["auctionId"] for a in first["auctions"] + second["auctions"]]
    assert listed == list(reversed(ids))
    assert second["nextPageToken"] == ""
    assert bad_token.status_code == 400
