"""The AuctionService servicer: proto in, domain calls, proto out; nothing else."""

from __future__ import annotations

import grpc

from auction_svc import creation, listing
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.auction_store import AuctionStore
from gavel.auth import MAX_USER_ID
from gavel.clock import Clock, utcnow
from gavel.errors import FieldViolation, InvalidArgument, NotFound
from gavel.interceptors import require_principal, viewer_id
from gavel.messages import STATUS_FROM_PB, auction_to_pb, parse_id
from gavel.paging import PageTokens, page_size

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AuctionService"].full_name
AUTHENTICATED_METHODS = frozenset({f"/{SERVICE_NAME}/CreateAuction"})


class AuctionService(pb_grpc.AuctionServiceServicer):
    def __init__(self, store: AuctionStore, tokens: PageTokens, clock: Clock = utcnow) -> None:
        self._store = store
        self._tokens = tokens
        self._clock = clock

    async def CreateAuction(
        self, request: pb.CreateAuctionRequest, context: grpc.aio.ServicerContext[pb.CreateAuctionRequest, pb.Auction]
    ) -> pb.Auction:
        seller = require_principal()
        auction = creation.new_auction(request, seller.user_id, self._clock())
        stored, _created = await self._store.create(auction)
        return auction_to_pb(stored, self._clock(), seller.user_id)

    async def GetAuction(
        self, request: pb.GetAuctionRequest, context: grpc.aio.ServicerContext[pb.GetAuctionRequest, pb.Auction]
    ) -> pb.Auction:
        auction_id = parse_id(request.auction_id, "auction_id")
        auction = await self._store.get(auction_id)
        if auction is None:
            raise NotFound(f"auction {auction_id} not found")
        return auction_to_pb(auction, self._clock(), viewer_id())

    async def ListAuctions(
        self,
        request: pb.ListAuctionsRequest,
        context: grpc.aio.ServicerContext[pb.ListAuctionsRequest, pb.ListAuctionsResponse],
    ) -> pb.ListAuctionsResponse:
        bad = []
        if request.status != pb.AUCTION_STATUS_UNSPECIFIED and request.status not in STATUS_FROM_PB:
            bad.append(FieldViolation("status", "unknown status"))
        if len(request.seller_id) > MAX_USER_ID:  # a partition key: Cassandra refuses keys over 64 KiB
            bad.append(FieldViolation("seller_id", f"at most {MAX_USER_ID} characters"))
        if bad:
            raise InvalidArgument(bad)
        query = listing.Query(
            status=STATUS_FROM_PB.get(request.status),
            seller_id=request.seller_id,
            page_size=page_size(request.page_size),
        )
        now = self._clock()
        auctions, token = await listing.list_auctions(self._store, query, request.page_token, now, self._tokens)
        viewer = viewer_id()
        return pb.ListAuctionsResponse(
            auctions=[auction_to_pb(a, now, viewer) for a in auctions], next_page_token=token
        )
