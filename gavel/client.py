"""A typed Python client for Gavel's public API (the CLI is built on it; so can other tools).

It speaks native gRPC, by default to the gateway (one address for every service), and adds
the bearer token to every call. Paged lists are plain iterators; WatchAuction is an iterator
of state events that skips heartbeats.
"""

from __future__ import annotations

import functools
import itertools
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc

R = TypeVar("R")


class GavelClient:
    def __init__(self, target: str, token: str | None = None, timeout: float = 30.0) -> None:
        self._channel = grpc.insecure_channel(target)
        self._token = token
        self._timeout = timeout
        self.auctions = pb_grpc.AuctionServiceStub(self._channel)
        self.bids = pb_grpc.BidServiceStub(self._channel)
        self.streams = pb_grpc.StreamServiceStub(self._channel)
        self.dev_auth = pb_grpc.DevAuthServiceStub(self._channel)

    def __enter__(self) -> GavelClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._channel.close()

    @property
    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self._token}"),) if self._token else ()

    def issue_dev_token(self, user_id: str) -> pb.IssueDevTokenResponse:
        return self.dev_auth.IssueDevToken(pb.IssueDevTokenRequest(user_id=user_id), timeout=self._timeout)

    def create_auction(self, request: pb.CreateAuctionRequest) -> pb.Auction:
        """A fresh ``request_id`` is made when the request has none (a retry should reuse one)."""
        request.request_id = request.request_id or uuid.uuid4().hex
        return self.auctions.CreateAuction(request, metadata=self._metadata, timeout=self._timeout)

    def get_auction(self, auction_id: str) -> pb.Auction:
        """As the signed-in caller reads it: the seller's carries the reserve."""
        request = pb.GetAuctionRequest(auction_id=auction_id)
        return self._read(functools.partial(self.auctions.GetAuction, request, timeout=self._timeout))

    def list_auctions(
        self, status: pb.AuctionStatus.ValueType = pb.AUCTION_STATUS_UNSPECIFIED, seller_id: str = ""
    ) -> Iterator[pb.Auction]:
        def page(token: str) -> pb.ListAuctionsResponse:
            request = pb.ListAuctionsRequest(status=status, seller_id=seller_id, page_token=token)
            return self.auctions.ListAuctions(request, timeout=self._timeout)

        return _paged(page, "auctions")

    def place_bid(self, auction_id: str, amount: int, request_id: str | None = None) -> pb.Bid:
        """``request_id`` makes a retry the same bid; a fresh one is made when not given."""
        request = pb.PlaceBidRequest(auction_id=auction_id, amount=amount, request_id=request_id or uuid.uuid4().hex)
        return self.bids.PlaceBid(request, metadata=self._metadata, timeout=self._timeout)

    def buy_now(self, auction_id: str, request_id: str | None = None) -> pb.Bid:
        request = pb.BuyNowRequest(auction_id=auction_id, request_id=request_id or uuid.uuid4().hex)
        return self.bids.BuyNow(request, metadata=self._metadata, timeout=self._timeout)

    def retract_bid(self, auction_id: str, bid_id: str, reason: str = "") -> pb.Bid:
        request = pb.RetractBidRequest(auction_id=auction_id, bid_id=bid_id, reason=reason)
        return self.bids.RetractBid(request, metadata=self._metadata, timeout=self._timeout)

    def cancel_auction(self, auction_id: str, reason: str = "") -> pb.Auction:
        request = pb.CancelAuctionRequest(auction_id=auction_id, reason=reason)
        return self.auctions.CancelAuction(request, metadata=self._metadata, timeout=self._timeout)

    def get_sale(self, auction_id: str) -> pb.Sale:
        return self.auctions.GetSale(
            pb.GetSaleRequest(auction_id=auction_id), metadata=self._metadata, timeout=self._timeout
        )

    def pay_sale(self, auction_id: str, request_id: str | None = None) -> pb.Sale:
        """``request_id`` makes a retry the same payment; a fresh one is made when not given."""
        request = pb.PaySaleRequest(auction_id=auction_id, request_id=request_id or uuid.uuid4().hex)
        return self.auctions.PaySale(request, metadata=self._metadata, timeout=self._timeout)

    def decline_offer(self, auction_id: str) -> pb.Sale:
        request = pb.DeclineOfferRequest(auction_id=auction_id)
        return self.auctions.DeclineOffer(request, metadata=self._metadata, timeout=self._timeout)

    def list_bids(self, auction_id: str) -> Iterator[pb.Bid]:
        """The history as the signed-in caller reads it: their own bids carry their maximum."""

        def page(token: str) -> pb.ListBidsResponse:
            request = pb.ListBidsRequest(auction_id=auction_id, page_token=token)
            return self._read(functools.partial(self.bids.ListBids, request, timeout=self._timeout))

        return _paged(page, "bids")

    def notifications(self) -> Iterator[pb.Notification]:
        """The caller's kept notifications, newest first."""

        def page(token: str) -> pb.ListMyNotificationsResponse:
            request = pb.ListMyNotificationsRequest(page_size=100, page_token=token)
            return self.streams.ListMyNotifications(request, metadata=self._metadata, timeout=self._timeout)

        return _paged(page, "notifications")

    def follow_notifications(self, after: str = "") -> Iterator[pb.Notification]:
        """Those after ``after`` (a notification_id) still kept, then live ones, for as long as
        the stream lasts. The first is a heartbeat, once the stream is live (then later ones
        when it is quiet): a caller without a cursor reads the kept ones only then, so that
        nothing kept in between is missed."""
        request = pb.WatchMyNotificationsRequest(after=after)
        yield from self.streams.WatchMyNotifications(request, metadata=self._metadata)

    def watch_auction(self, auction_id: str) -> pb.Auction:
        request = pb.AddToWatchlistRequest(auction_id=auction_id)
        return self.auctions.AddToWatchlist(request, metadata=self._metadata, timeout=self._timeout)

    def unwatch_auction(self, auction_id: str) -> None:
        request = pb.RemoveFromWatchlistRequest(auction_id=auction_id)
        self.auctions.RemoveFromWatchlist(request, metadata=self._metadata, timeout=self._timeout)

    def watchlist(self) -> Iterator[pb.Auction]:
        """The watched auctions, ending soonest first."""

        def page(token: str) -> pb.ListWatchlistResponse:
            request = pb.ListWatchlistRequest(page_size=100, page_token=token)
            return self.auctions.ListWatchlist(request, metadata=self._metadata, timeout=self._timeout)

        return _paged(page, "auctions")

    def _read(self, call: Callable[..., R]) -> R:
        """A read with the token, or anonymously when the token is refused (expired, or from
        another stack): reads need none, and only add what is the caller's own."""
        try:
            return call(metadata=self._metadata)
        except grpc.RpcError as exc:
            if not self._metadata or exc.code() != grpc.StatusCode.UNAUTHENTICATED:
                raise
            return call(metadata=())

    def watch(self, auction_id: str) -> Iterator[pb.AuctionEvent]:
        """The current state, then every change, until the auction is final (no deadline)."""
        request = pb.WatchAuctionRequest(auction_id=auction_id)
        try:
            events = self.streams.WatchAuction(request, metadata=self._metadata)
            first = next(events, None)
        except grpc.RpcError as exc:  # a refused token: watching needs none (as ``_read``)
            if not self._metadata or exc.code() != grpc.StatusCode.UNAUTHENTICATED:
                raise
            events = self.streams.WatchAuction(request)
            first = next(events, None)
        if first is None:
            return
        for event in itertools.chain([first], events):
            if not event.heartbeat:
                yield event


def _paged(page: Callable[[str], Any], items: str) -> Iterator[Any]:
    """Every item of a paged listing: ``page(token)`` is one call, ``items`` its repeated field."""
    token = ""
    while True:
        reply = page(token)
        yield from getattr(reply, items)
        if not (token := reply.next_page_token):
            return
