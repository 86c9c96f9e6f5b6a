"""Masked identities, from outside, through the gateway: no view of another user names a
bidder. Every read (REST and gRPC), list, watch event and SSE line one user can get about an
auction is searched for the other bidders' account names; the aliases are the same for all."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import grpc
import httpx
import jwt
from google.protobuf.json_format import MessageToJson

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from tests.e2e.api_client import bearer, create_auction, rest
from tests.e2e.test_realtime_gateway import SseReader

# No hex digit in a name, so no id, version or UUID elsewhere in a view can contain one by chance.
LETTERS = "ghijklmnopqrstuvwxyz"


def name(role: str) -> str:
    return f"{role}-" + "".join(random.choices(LETTERS, k=10))


class Watcher:
    """A WatchAuction stream through the gateway, as one viewer, read on a thread until the
    state is final (closed, and the sale no longer changing: here, until closed_at)."""

    def __init__(self, target: str, auction_id: str, token: str | None) -> None:
        self.events: list[pb.AuctionEvent] = []
        self.started = threading.Event()
        self.closed = threading.Event()
        self._channel = grpc.insecure_channel(target)
        stub = pb_grpc.StreamServiceStub(self._channel)
        self._stream = stub.WatchAuction(
            pb.WatchAuctionRequest(auction_id=auction_id), metadata=bearer(token) if token else None, timeout=90
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for event in self._stream:
                self.events.append(event)
                if event.HasField("auction"):
                    self.started.set()
                    if event.auction.HasField("closed_at"):
                        self.closed.set()
        except grpc.RpcError:
            pass  # cancelled by the test

    def close(self) -> None:
        self._stream.cancel()
        self._channel.close()


@contextmanager
def watchers(target: str, auction_id: str, tokens: dict[str, str | None]) -> Iterator[dict[str, Watcher]]:
    started = {who: Watcher(target, auction_id, token) for who, token in tokens.items()}
    try:
        for watcher in started.values():
            assert watcher.started.wait(30), "no snapshot"
        yield started
    finally:
        for watcher in started.values():
            watcher.close()


def views(base_url: str, target: str, auction_id: str, token: str | None) -> dict[str, str]:
    """Everything one viewer can read about the auction, as text: REST JSON and gRPC replies."""
    found: dict[str, str] = {}
    with rest(base_url, token) as http:
        found["GET auction"] = http.get(f"/auctions/{auction_id}").text
        found["GET auctions"] = http.get("/auctions", params={"pageSize": 100}).text
        bids = http.get(f"/auctions/{auction_id}/bids").json()["bids"]
        found["GET bids"] = json.dumps(bids)
        for b in bids:
            found[f"GET bid {b['bidId']}"] = http.get(f"/auctions/{auction_id}/bids/{b['bidId']}").text
    metadata = bearer(token) if token else None
    with grpc.insecure_channel(target) as channel:
        auctions, bid_stub = pb_grpc.AuctionServiceStub(channel), pb_grpc.BidServiceStub(channel)
        found["GetAuction"] = MessageToJson(
            auctions.GetAuction(pb.GetAuctionRequest(auction_id=auction_id), metadata=metadata)
        )
        found["ListAuctions"] = MessageToJson(
            auctions.ListAuctions(pb.ListAuctionsRequest(page_size=100), metadata=metadata)
        )
        found["ListBids"] = MessageToJson(
            bid_stub.ListBids(pb.ListBidsRequest(auction_id=auction_id), metadata=metadata)
        )
    return found


def named(texts: dict[str, str], *users: str) -> list[str]:
    """The views that name any of ``users``."""
    return [where for where, text in texts.items() if any(u in text for u in users)]


def test_no_view_of_another_user_names_a_bidder(base_url: str, gateway_target: str, token_for, service_token) -> None:
    seller, alice, bob, carol = (name(r) for r in ("seller", "alice", "bob", "carol"))
    tokens = {u: token_for(u) for u in (seller, alice, bob, carol)}
    auction_id = create_auction(
        base_url, tokens[seller], name="Samovar", ends_in=timedelta(seconds=8), paymentWindow="3600s"
    )
    sse = SseReader(f"{base_url}/auctions/{auction_id}/events")  # browsers' EventSource: anonymous
    with watchers(
        gateway_target, auction_id, {"anonymous": None, carol: tokens[carol], seller: tokens[seller]}
    ) as watching:
        # Alice first (Bidder 1); Bob is answered by her maximum, then takes the lead (Bidder 2).
        for who, amount in ((alice, 2000), (bob, 1500), (bob, 3000), (alice, 2500)):
            with rest(base_url, tokens[who]) as http:
                reply = http.post(f"/auctions/{auction_id}/bids", json={"amount": amount})
                assert reply.status_code == 200, reply.text
                assert reply.json()["bidderId"] == who and reply.json()["yours"]  # the bidder's own answer

        during = {who: views(base_url, gateway_target, auction_id, token) for who, token in tokens.items()}
        during["anonymous"] = views(base_url, gateway_target, auction_id, None)
        for watcher in watching.values():
            assert watcher.closed.wait(60), "the auction did not close"
    sse.until_version(max(e.auction.version for e in watching["anonymous"].events if e.HasField("auction")))
    sse.close()
    after = {who: views(base_url, gateway_target, auction_id, token) for who, token in tokens.items()}
    after["anonymous"] = views(base_url, gateway_target, auction_id, None)

    # While it runs: everyone but the bidder themself sees aliases, the seller included.
    for who in ("anonymous", carol):
        assert named(during[who], alice, bob) == [] and named(after[who], alice, bob) == [], who
    assert named(during[seller], alice, bob) == [], "the seller sees aliases until the close"
    assert named(after[seller], alice) == [], "then the winner's name, and only theirs"
    assert "GetAuction" in named(after[seller], bob)
    assert named(during[alice], bob) == [] and named(after[alice], bob) == []
    assert named(during[bob], alice) == [] and named(after[bob], alice) == []
    # Every watch event and SSE line, for viewers the auction does not concern.
    for who in ("anonymous", carol):
        assert not any(alice in str(e) or bob in str(e) for e in watching[who].events), who
    assert not any(alice in json.dumps(e) or bob in json.dumps(e) for e in sse.events)
    before_close = [e for e in watching[seller].events if not e.auction.HasField("closed_at")]
    assert not any(alice in str(e) or bob in str(e) for e in before_close), "the seller saw a bidder's name"

    # The aliases: in first-bid order, the same in every view.
    with grpc.insecure_channel(gateway_target) as channel:
        stub = pb_grpc.BidServiceStub(channel)
        public = stub.ListBids(pb.ListBidsRequest(auction_id=auction_id)).bids
        whole = stub.ListBids(pb.ListBidsRequest(auction_id=auction_id), metadata=bearer(service_token)).bids
        auctions = pb_grpc.AuctionServiceStub(channel)
        final = auctions.GetAuction(pb.GetAuctionRequest(auction_id=auction_id))
        for_seller = auctions.GetAuction(pb.GetAuctionRequest(auction_id=auction_id), metadata=bearer(tokens[seller]))
        for_service = auctions.GetAuction(pb.GetAuctionRequest(auction_id=auction_id), metadata=bearer(service_token))
    alias = {b.bidder_id: b.bidder_alias for b in whole}
    assert alias == {alice: "Bidder 1", bob: "Bidder 2"}
    assert [b.bidder_alias for b in public] == [b.bidder_alias for b in whole]
    assert not any(b.bidder_id or b.yours or b.max_amount for b in public)
    # Closed: the public sees the winner's alias; the seller, to complete the sale, their name;
    # a service credential sees everything.
    assert (final.highest_bidder_alias, final.highest_bidder_id, final.winner_id) == ("Bidder 2", "", "")
    assert (for_seller.winner_id, for_seller.sale.buyer_id, for_seller.you_lead) == (bob, bob, False)
    assert (for_service.highest_bidder_id, for_service.winner_id) == (bob, bob)


def test_the_dev_token_endpoint_never_issues_the_service_role(base_url: str) -> None:
    user = name("mallory")
    with httpx.Client(base_url=base_url) as http:
        plain = http.post("/dev/token", json={"userId": user})
        asking = http.post("/dev/token", json={"userId": user, "roles": ["service"]})
    assert plain.status_code == 200, plain.text
    claims = jwt.decode(plain.json()["token"], options={"verify_signature": False})
    assert claims["sub"] == user and "roles" not in claims
    # Asking for a role is not a field of the request: the gateway drops it, nothing grants it.
    assert asking.status_code == 200, asking.text
    assert "roles" not in jwt.decode(asking.json()["token"], options={"verify_signature": False})
