"""A typed Python client for Gavel's public API (the CLI is built on it; so can other tools).

It speaks native gRPC, by default to the gateway (one address for every service), and adds
the bearer token to every call. Paged lists are plain iterators; WatchAuction is an iterator
of state events that skips heartbeats.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc

from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.messages import timestamp


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

    def create_auction(
        self,
        item: pb.Item,
        *,
        starting_price: int,
        currency: str,
        ends_in: timedelta,
        starts_in: timedelta = timedelta(0),
        request_id: str | None = None,
    ) -> pb.Auction:
        now = datetime.now(UTC)
        request = pb.CreateAuctionRequest(
            item=item,
            start_date=timestamp(now + starts_in),
            end_date=timestamp(now + ends_in),
            starting_price=starting_price,
            currency=currency,
            request_id=request_id or uuid.uuid4().hex,
        )
        return self.auctions.CreateAuction(request, metadata=self._metadata, timeout=self._timeout)

    def get_auction(self, auction_id: str) -> pb.Auction:
        return self.auctions.GetAuction(pb.GetAuctionRequest(auction_id=auction_id), timeout=self._timeout)

    def list_auctions(
        self, status: pb.AuctionStatus.ValueType = pb.AUCTION_STATUS_UNSPECIFIED, seller_id: str = ""
    ) -> Iterator[pb.Auction]:
        token = ""
        while True:
            page = self.auctions.ListAuctions(
                pb.ListAuctionsRequest(status=status, seller_id=seller_id, page_token=token), timeout=self._timeout
            )
            yield from page.auctions
            if not (token := page.next_page_token):
                return

    def place_bid(self, auction_id: str, amount: int, request_id: str | None = None) -> pb.Bid:
        """``request_id`` makes a retry the same bid; a fresh one is made when not given."""
        request = pb.PlaceBidRequest(auction_id=auction_id, amount=amount, request_id=request_id or uuid.uuid4().hex)
        return self.bids.PlaceBid(request, metadata=self._metadata, timeout=self._timeout)

    def list_bids(self, auction_id: str) -> Iterator[pb.Bid]:
        token = ""
        while True:
            page = self.bids.ListBids(
                pb.ListBidsRequest(auction_id=auction_id, page_token=token), timeout=self._timeout
            )
            yield from page.bids
            if not (token := page.next_page_token):
                return

    def watch(self, auction_id: str) -> Iterator[pb.AuctionEvent]:
        """The current state, then every change, until the auction is final (no deadline)."""
        for event in self.streams.WatchAuction(pb.WatchAuctionRequest(auction_id=auction_id)):
            if not event.heartbeat:
                yield event
