"""What the gateway adds for browsers and plain HTTP: SSE on GET /auctions/{id}/events, CORS,
the dev sign-in, the web page's files, and gRPC-Web for every service."""

from __future__ import annotations

import json
import struct
import threading
import uuid
from collections.abc import Callable, Iterator

import httpx

from gavel.api.auction.v1 import auction_pb2 as pb
from tests.e2e.api_client import create_auction, rest


class SseReader:
    """Reads `data:` lines of an event stream on a thread; a test awaits a version on it."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.events: list[dict] = []
        self._headers = {"accept": "text/event-stream", **(headers or {})}
        self.content_type = ""
        self._changed = threading.Condition()
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=None))
        self._thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self._thread.start()

    def _read(self, url: str) -> None:
        try:
            with self._client.stream("GET", url, headers=self._headers) as reply:
                self.content_type = reply.headers.get("content-type", "")
                for line in reply.iter_lines():
                    if line.startswith("data:"):
                        with self._changed:
                            self.events.append(json.loads(line[len("data:") :]))
                            self._changed.notify_all()
        except httpx.HTTPError:
            pass  # closed by the test

    def until(self, predicate: Callable[[list[dict]], bool], timeout: float = 30) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: predicate(self.events), timeout), f"not reached: {self.events}"

    def until_version(self, version: int, timeout: float = 30) -> None:
        def reached() -> bool:
            return any(int(e.get("auction", {}).get("version", 0)) >= version for e in self.events)

        with self._changed:
            assert self._changed.wait_for(reached, timeout), f"no event with version {version}: {self.events}"

    def close(self) -> None:
        self._client.close()


def _values(tree: object) -> Iterator[str]:
    """Every scalar in parsed JSON, as text (int64s are strings in proto JSON)."""
    if isinstance(tree, dict):
        for v in tree.values():
            yield from _values(v)
    elif isinstance(tree, list):
        for v in tree:
            yield from _values(v)
    else:
        yield str(tree)


def test_sse_delivers_events_in_version_order_as_bids_land(base_url: str, token_for) -> None:
    auction_id = create_auction(base_url, token_for("seller-sse"), name="Radio", starting_price=100)
    reader = SseReader(f"{base_url}/auctions/{auction_id}/events")
    try:
        reader.until_version(0)
        replies = []
        # Alice's maximum of 777 must never appear on the stream; bob's outbid bids answer it.
        for who, amount in (("alice", 777), ("bob", 150), ("bob", 120), ("bob", 300)):
            with rest(base_url, token_for(f"{who}-{auction_id[:8]}")) as http:
                replies.append(http.post(f"/auctions/{auction_id}/bids", json={"amount": amount}).json())
        reader.until_version(int(replies[-1]["auctionVersion"]) + 1)  # and the proxy's answer
    finally:
        reader.close()
    assert reader.content_type.startswith("text/event-stream")
    states = [e for e in reader.events if "auction" in e]
    versions = [int(e["auction"]["version"]) for e in states]
    assert versions == sorted(set(versions)) and versions[0] == 0
    assert states[-1]["auction"]["highestBid"] == "325"  # 300 + 25, under alice's maximum
    assert "777" not in set(_values(reader.events)), "a maximum reached the stream"
    seen = {e["bid"]["bidId"]: e["bid"] for e in states if "bid" in e}
    for reply in replies:
        if reply["bidId"] in seen:
            assert seen[reply["bidId"]]["status"] == reply["status"]


def test_cors_preflight_allows_local_origins_only(base_url: str) -> None:
    asked = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,x-grpc-web",
    }
    with httpx.Client(base_url=base_url) as http:
        local = http.options("/auction.v1.BidService/PlaceBid", headers={"origin": "http://localhost:5173", **asked})
        foreign = http.options("/auction.v1.BidService/PlaceBid", headers={"origin": "https://evil.example", **asked})
    assert local.headers.get("access-control-allow-origin") == "http://localhost:5173"
    assert "authorization" in local.headers.get("access-control-allow-headers", "")
    assert "grpc-status" in local.headers.get("access-control-expose-headers", "")
    assert "access-control-allow-origin" not in foreign.headers


def test_dev_sign_in_gives_a_token_the_api_accepts(base_url: str) -> None:
    user = f"carol-{uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=base_url) as http:
        issued = http.post("/dev/token", json={"userId": user})
        refused = http.post("/dev/token", json={"userId": "no spaces allowed"})
    assert issued.status_code == 200, issued.text
    assert refused.status_code == 400
    assert refused.json()["details"][0]["fieldViolations"][0]["field"] == "user_id"
    auction_id = create_auction(base_url, issued.json()["token"], name="Radio", starting_price=100)
    with httpx.Client(base_url=base_url) as http:
        assert http.get(f"/auctions/{auction_id}").json()["sellerId"] == user


def test_the_page_and_its_assets_are_served_on_the_api_origin(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as http:
        page, script, style = http.get("/"), http.get("/app.js"), http.get("/app.css")
    assert (page.status_code, script.status_code, style.status_code) == (200, 200, 200)
    assert page.headers["content-type"].startswith("text/html")
    assert script.headers["content-type"].startswith("text/javascript")
    assert style.headers["content-type"].startswith("text/css")
    assert "app.js" in page.text


def grpc_web_frame(message: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", len(message)) + message


def test_grpc_web_reaches_every_service(base_url: str, token_for) -> None:
    auction_id = create_auction(base_url, token_for("seller-grpcweb"), name="Radio", starting_price=100)
    headers = {"content-type": "application/grpc-web+proto", "x-grpc-web": "1"}
    with httpx.Client(base_url=base_url) as http:
        got = http.post(
            "/auction.v1.AuctionService/GetAuction",
            headers=headers,
            content=grpc_web_frame(pb.GetAuctionRequest(auction_id=auction_id).SerializeToString()),
        )
        bids = http.post(
            "/auction.v1.BidService/ListBids",
            headers=headers,
            content=grpc_web_frame(pb.ListBidsRequest(auction_id=auction_id).SerializeToString()),
        )
        with http.stream(
            "POST",
            "/auction.v1.StreamService/WatchAuction",
            headers=headers,
            content=grpc_web_frame(pb.WatchAuctionRequest(auction_id=auction_id).SerializeToString()),
        ) as watch:
            first = b""
            for chunk in watch.iter_bytes():
                first += chunk
                if len(first) >= 5 and len(first) >= 5 + struct.unpack(">I", first[1:5])[0]:
                    break
    assert pb.Auction.FromString(got.content[5 : 5 + struct.unpack(">I", got.content[1:5])[0]]).auction_id == auction_id
    assert b"grpc-status:0" in bids.content.replace(b" ", b"")
    event = pb.AuctionEvent.FromString(first[5 : 5 + struct.unpack(">I", first[1:5])[0]])
    assert event.auction.auction_id == auction_id
