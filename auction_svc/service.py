"""The AuctionService servicer: proto in, domain calls, proto out; nothing else.

What changes an auction after its creation (cancel, pay, decline) is a command in the
auction's log (``Submitter``), decided by the worker in order with the bids; only who may
ask is checked here first, so a stranger's request never reaches the log.
"""

from __future__ import annotations

import asyncio
import uuid

import grpc

from auction_svc import creation, listing
from auction_svc.payments import Charge, PaymentProvider
from gavel import commands
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.auction_store import AuctionStore
from gavel.auth import MAX_USER_ID
from gavel.clock import Clock, utcnow
from gavel.domain.auction import Auction
from gavel.domain.refusals import Refused
from gavel.domain.sale import PaySale, SaleChanged, decide_pay
from gavel.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, PermissionDenied
from gavel.interceptors import require_principal, viewer
from gavel.messages import STATUS_FROM_PB, auction_to_pb, parse_id, sale_to_pb
from gavel.paging import PageTokens, page_size
from gavel.settings import Settings
from gavel.submission import Submitter, refusal_error
from gavel.views import mask_auction, mask_sale
from gavel.watchlist import WatchlistStore, page_of

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AuctionService"].full_name
AUTHENTICATED_METHODS = frozenset(
    f"/{SERVICE_NAME}/{m}"
    for m in (
        "CreateAuction",
        "CancelAuction",
        "GetSale",
        "PaySale",
        "DeclineOffer",
        "AddToWatchlist",
        "RemoveFromWatchlist",
        "ListWatchlist",
    )
)
MAX_REASON = 500
MAX_REQUEST_ID = 128


class AuctionService(pb_grpc.AuctionServiceServicer):
    def __init__(
        self,
        settings: Settings,
        store: AuctionStore,
        tokens: PageTokens,
        submitter: Submitter,
        payments: PaymentProvider,
        watchlist: WatchlistStore,
        watchlist_tokens: PageTokens,
        clock: Clock = utcnow,
    ) -> None:
        self._watchlist = watchlist
        self._watchlist_tokens = watchlist_tokens
        self._settings = settings
        self._store = store
        self._tokens = tokens
        self._submitter = submitter
        self._payments = payments
        self._terms = creation.SaleTerms.of(settings)
        self._clock = clock

    async def _auction(self, auction_id: str) -> Auction:
        parsed = parse_id(auction_id, "auction_id")
        auction = await self._store.get(parsed)
        if auction is None:
            raise NotFound(f"auction {parsed} not found")
        return auction

    async def CreateAuction(
        self, request: pb.CreateAuctionRequest, context: grpc.aio.ServicerContext[pb.CreateAuctionRequest, pb.Auction]
    ) -> pb.Auction:
        seller = require_principal()
        auction = creation.new_auction(request, seller.user_id, self._clock(), self._terms)
        stored, _created = await self._store.create(auction)
        return auction_to_pb(stored, self._clock(), seller)

    async def GetAuction(
        self, request: pb.GetAuctionRequest, context: grpc.aio.ServicerContext[pb.GetAuctionRequest, pb.Auction]
    ) -> pb.Auction:
        return auction_to_pb(await self._auction(request.auction_id), self._clock(), viewer())

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
        caller = viewer()
        return pb.ListAuctionsResponse(
            auctions=[auction_to_pb(a, now, caller) for a in auctions], next_page_token=token
        )

    async def CancelAuction(
        self, request: pb.CancelAuctionRequest, context: grpc.aio.ServicerContext[pb.CancelAuctionRequest, pb.Auction]
    ) -> pb.Auction:
        principal = require_principal()
        seller = principal.user_id
        if len(request.reason) > MAX_REASON:
            raise InvalidArgument([FieldViolation("reason", f"at most {MAX_REASON} characters")])
        auction = await self._auction(request.auction_id)
        if auction.seller_id != seller:
            raise PermissionDenied("only the seller may cancel the auction")
        command = commands.CancelAuctionCommand(
            auction_id=auction.auction_id,
            command_id=uuid.uuid4(),
            received_at=self._clock(),
            reply_to=self._submitter.reply_to,
            seller_id=seller,
            reason=request.reason,
            min_remaining=self._settings.cancel_min_remaining,
        )
        return mask_auction(pb.Auction.FromString((await self._submitter.decided(command)).data), principal)

    async def GetSale(
        self, request: pb.GetSaleRequest, context: grpc.aio.ServicerContext[pb.GetSaleRequest, pb.Sale]
    ) -> pb.Sale:
        principal = require_principal()
        viewer = principal.user_id
        auction = await self._auction(request.auction_id)
        sale = auction.sale
        if sale is None:
            raise NotFound(f"auction {auction.auction_id} has no sale (it has not closed with a winner)")
        if viewer not in (auction.seller_id, sale.buyer_id) and not principal.service:
            raise PermissionDenied("the sale is the seller's and its buyer's to see")
        unpaid = await self._store.unpaid_items(sale.buyer_id) if viewer == auction.seller_id and sale.buyer_id else 0
        return sale_to_pb(auction, principal, unpaid)

    async def PaySale(
        self, request: pb.PaySaleRequest, context: grpc.aio.ServicerContext[pb.PaySaleRequest, pb.Sale]
    ) -> pb.Sale:
        principal = require_principal()
        buyer = principal.user_id
        if len(request.request_id) > MAX_REQUEST_ID:
            raise InvalidArgument([FieldViolation("request_id", f"at most {MAX_REQUEST_ID} characters")])
        auction = await self._auction(request.auction_id)
        # The rules first on what was just read: a payment they refuse, or repeat, is answered
        # without charging anyone; only one they would take is charged, then decided in the
        # log (which has the last word: a refusal there gives the payment back).
        at = self._clock()
        [(_, judged)] = decide_pay(auction, PaySale(auction.auction_id, buyer, request.request_id, at))
        if isinstance(judged, Refused):
            raise refusal_error(judged.reason.value, auction.auction_id)
        assert isinstance(judged, SaleChanged)
        if judged.version == auction.version:  # the payment that paid, again
            return sale_to_pb(auction, principal)
        command = commands.PaySaleCommand(
            auction_id=auction.auction_id,
            command_id=uuid.uuid4(),
            received_at=at,
            reply_to=self._submitter.reply_to,
            buyer_id=buyer,
            request_id=request.request_id,
        )
        key = f"{auction.auction_id}:{buyer}:{request.request_id}"
        charge = Charge(str(auction.auction_id), buyer, judged.sale.price, auction.currency, key)
        await self._payments.charge(charge)
        try:
            reply = await self._submitter.decided(command)
        except (FailedPrecondition, PermissionDenied):
            await self._payments.refund(charge)
            raise
        return mask_sale(pb.Sale.FromString(reply.data), principal, auction.seller_id)

    async def DeclineOffer(
        self, request: pb.DeclineOfferRequest, context: grpc.aio.ServicerContext[pb.DeclineOfferRequest, pb.Sale]
    ) -> pb.Sale:
        principal = require_principal()
        bidder = principal.user_id
        auction = await self._auction(request.auction_id)
        command = commands.DeclineOfferCommand(
            auction_id=auction.auction_id,
            command_id=uuid.uuid4(),
            received_at=self._clock(),
            reply_to=self._submitter.reply_to,
            bidder_id=bidder,
        )
        return mask_sale(
            pb.Sale.FromString((await self._submitter.decided(command)).data), principal, auction.seller_id
        )

    async def AddToWatchlist(
        self, request: pb.AddToWatchlistRequest, context: grpc.aio.ServicerContext[pb.AddToWatchlistRequest, pb.Auction]
    ) -> pb.Auction:
        me = require_principal()
        auction = await self._auction(request.auction_id)
        entries = await self._watchlist.entries(me.user_id)
        limit = self._settings.watchlist_max
        now = self._clock()
        if auction.auction_id in {e.auction_id for e in entries}:  # already: its place stays
            return auction_to_pb(auction, now, me)
        if len(entries) >= limit:
            raise FailedPrecondition(
                "WATCHLIST_FULL", f"users/{me.user_id}/watchlist", f"at most {limit} auctions are watched at once"
            )
        await self._watchlist.add(me.user_id, auction.auction_id, auction.end_date, now)
        return auction_to_pb(auction, now, me)

    async def RemoveFromWatchlist(
        self,
        request: pb.RemoveFromWatchlistRequest,
        context: grpc.aio.ServicerContext[pb.RemoveFromWatchlistRequest, pb.RemoveFromWatchlistResponse],
    ) -> pb.RemoveFromWatchlistResponse:
        me = require_principal()
        await self._watchlist.remove(me.user_id, parse_id(request.auction_id, "auction_id"))
        return pb.RemoveFromWatchlistResponse()

    async def ListWatchlist(
        self,
        request: pb.ListWatchlistRequest,
        context: grpc.aio.ServicerContext[pb.ListWatchlistRequest, pb.ListWatchlistResponse],
    ) -> pb.ListWatchlistResponse:
        me = require_principal()
        size = page_size(request.page_size)
        entries = await self._watchlist.entries(me.user_id)
        page, token = page_of(entries, size, request.page_token, self._watchlist_tokens)
        auctions = await asyncio.gather(*(self._store.get(e.auction_id) for e in page))
        now = self._clock()
        return pb.ListWatchlistResponse(
            auctions=[auction_to_pb(a, now, me) for a in auctions if a is not None], next_page_token=token
        )
