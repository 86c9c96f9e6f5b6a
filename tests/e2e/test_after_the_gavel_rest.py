"""What follows the gavel over REST through Envoy: the new POSTs take their request as the JSON
body, and a rule's refusal arrives as 400 with the PreconditionFailure naming it."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.e2e.api_client import create_auction, rest


def test_retract_cancel_and_the_sale_over_rest(base_url: str, token_for) -> None:
    seller, ann = (f"{who}-{uuid.uuid4().hex[:6]}" for who in ("seller", "ann"))
    later = create_auction(base_url, token_for(seller), name="Desk", ends_in=timedelta(days=2))
    soon = create_auction(base_url, token_for(seller), name="Lamp", ends_in=timedelta(hours=1))
    with rest(base_url, token_for(ann)) as http:
        bid = http.post(f"/auctions/{later}/bids", json={"amount": 1500}).json()
        assert http.post(f"/auctions/{soon}/bids", json={"amount": 1500}).json()["status"] == "BID_STATUS_ACCEPTED"
        taken = http.post(f"/auctions/{later}/bids/{bid['bidId']}:retract", json={"reason": "typo"})
        assert taken.status_code == 200, taken.text
        assert taken.json()["retracted"] is True
        assert http.post(f"/auctions/{later}:cancel", json={}).status_code == 403  # not her auction
        assert http.get(f"/auctions/{later}/sale").status_code == 404  # no sale: not closed
    with rest(base_url, token_for(seller)) as http:
        cancelled = http.post(f"/auctions/{later}:cancel", json={"reason": "sold elsewhere"})
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "AUCTION_STATUS_CANCELLED"
        late = http.post(f"/auctions/{soon}:cancel", json={"reason": "changed my mind"})
        assert late.status_code == 400, late.text
        [violation] = late.json()["details"][0]["violations"]
        assert (violation["type"], violation["subject"]) == ("CANCEL_TOO_LATE", f"auctions/{soon}")
        paying = http.post(f"/auctions/{soon}/sale:pay", json={"requestId": "p1"})
        assert paying.status_code == 400 and paying.json()["details"][0]["violations"][0]["type"] == "NO_SALE"
        declining = http.post(f"/auctions/{soon}/sale:decline", json={})
        assert declining.status_code == 400
