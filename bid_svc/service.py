"""The BidService servicer: checks a bid (or a retraction), appends it to the log, answers
its outcome."""

from __future__ import annotations

import uuid

import grpc
from cachetools import LRUCache
from prometheus_client import Counter, Gauge

from bid_svc.bid_store import BidStore
from gavel import commands
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.auction_store import AuctionStore
from gavel.clock import Clock, utcnow
from gavel.domain.auction import Auction
from gavel.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied
from gavel.interceptors import require_principal, viewer
from gavel.messages import outcome_to_pb, parse_id, timestamp
from gavel.paging import page_size
from gavel.settings import Settings
from gavel.submission import Submitter
from gavel.views import mask_bid

ANSWERS = Counter(
    "gavel_place_bid_answers_total", "PlaceBid answers by bid status (PENDING: decision late).", ["status"]
)

SELLERS_KNOWN = Gauge("gavel_bid_sellers_known", "Auctions whose seller the API has cached (an LRU).")

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["BidService"].full_name
AUTHENTICATED_METHODS = frozenset({f"/{SERVICE_NAME}/{m}" for m in ("PlaceBid", "BuyNow", "ListMyBids", "RetractBid")})

MAX_AMOUNT = 10**15
MAX_REQUEST_ID = 128
MAX_REASON = 500
_BID_NS = uuid.UUID("0c3f7a43-51d2-4d6b-9a3e-6cbb0e1d7f20")
_BUY_NOW_NS = uuid.UUID("5a0e2c1b-7d4f-4e8a-b3c6-91f2d8e4a7b5")


def bid_id_for(auction_id: uuid.UUID, bidder_id: str, request_id: str, namespace: uuid.UUID = _BID_NS) -> uuid.UUID:
    """Derived from the request, so a retry is the same bid wherever and whenever it lands
    (a Buy It Now, in its own namespace, is never the same command as a bid)."""
    if not request_id:
        return uuid.uuid4()
    return uuid.uuid5(namespace, f"{auction_id}\x00{bidder_id}\x00{request_id}")


class BidService(pb_grpc.BidServiceServicer):
    def __init__(
        self,
        settings: Settings,
        auctions: AuctionStore,
        bids: BidStore,
        submitter: Submitter,
        clock: Clock = utcnow,
    ) -> None:
        self._settings = settings
        self._auctions = auctions
        self._bids = bids
        self._submitter = submitter
        self._clock = clock
        # An auction's seller never changes: one read per auction, not per bid.
        self._sellers: LRUCache[uuid.UUID, str] = LRUCache(maxsize=100_000)
        SELLERS_KNOWN.set_function(lambda: len(self._sellers))

    async def _seller_of(self, auction_id: uuid.UUID) -> tuple[str, Auction | None]:
        """The seller, and the auction as just read if it had to be read (None: cached)."""
        seller = self._sellers.get(auction_id)
        if seller is not None:
            return seller, None
        auction = await self._auctions.get(auction_id)
        if auction is None:
            raise NotFound(f"auction {auction_id} not found")
        self._sellers[auction_id] = auction.seller_id
        return auction.seller_id, auction

    async def _auction_for(
        self, auction_id: str, request_id: str, bidder: str, bad: list[FieldViolation]
    ) -> tuple[uuid.UUID, Auction | None]:
        """The auction a bid or a purchase is for: the fields both requests share are checked
        here (with ``bad``, the caller's own), and the caller must not be its seller. With it,
        the auction if it was read for this: the command carries it to the worker, which then
        need not read it again (``commands``)."""
        try:
            parsed = uuid.UUID(auction_id)
        except ValueError:
            bad.insert(0, FieldViolation("auction_id", "must be a UUID"))
        if len(request_id) > MAX_REQUEST_ID:
            bad.append(FieldViolation("request_id", f"at most {MAX_REQUEST_ID} characters"))
        if bad:
            raise InvalidArgument(bad)
        seller, state = await self._seller_of(parsed)
        if seller == bidder:
            raise PermissionDenied("sellers cannot bid on (or buy) their own auction")
        return parsed, state

    async def PlaceBid(
        self, request: pb.PlaceBidRequest, context: grpc.aio.ServicerContext[pb.PlaceBidRequest, pb.Bid]
    ) -> pb.Bid:
        bidder = require_principal().user_id
        bad = []
        if request.amount <= 0:
            bad.append(FieldViolation("amount", "must be greater than 0 (minor units)"))
        elif request.amount > MAX_AMOUNT:
            bad.append(FieldViolation("amount", f"at most {MAX_AMOUNT}"))
        auction_id, state = await self._auction_for(request.auction_id, request.request_id, bidder, bad)
        command = commands.PlaceBidCommand(
            auction_id=auction_id,
            bid_id=bid_id_for(auction_id, bidder, request.request_id),
            bidder_id=bidder,
            amount=request.amount,
            placed_at=self._clock(),
            reply_to=self._submitter.reply_to,
            state=state,
        )
        return await self._submit(command, request.amount, pb.BID_KIND_MANUAL)

    async def BuyNow(
        self, request: pb.BuyNowRequest, context: grpc.aio.ServicerContext[pb.BuyNowRequest, pb.Bid]
    ) -> pb.Bid:
        buyer = require_principal().user_id
        auction_id, state = await self._auction_for(request.auction_id, request.request_id, buyer, [])
        command = commands.BuyNowCommand(
            auction_id=auction_id,
            bid_id=bid_id_for(auction_id, buyer, request.request_id, _BUY_NOW_NS),
            bidder_id=buyer,
            placed_at=self._clock(),
            reply_to=self._submitter.reply_to,
            state=state,
        )
        return await self._submit(command, 0, pb.BID_KIND_BUY_NOW)

    async def _submit(self, command: commands.BidCommand, amount: int, kind: pb.BidKind.ValueType) -> pb.Bid:
        """Appends to the log and answers the decision, or PENDING if it is late."""
        auction_id, bidder = command.auction_id, command.bidder_id
        submitted = await self._submitter.submit(command, command.bid_id, str(command.bid_id))
        caller = viewer()
        answer = mask_bid(pb.Bid.FromString(submitted.reply.data), caller) if submitted.reply is not None else None
        if submitted.duplicate:
            # A retry of a bid already in the log: its outcome may be recorded already.
            recorded = await self._bids.get(auction_id, command.bid_id)
            answer = outcome_to_pb(recorded, caller) if recorded is not None else None
        if answer is None:
            answer = pb.Bid(
                bid_id=str(command.bid_id),
                auction_id=str(auction_id),
                bidder_id=bidder,
                amount=amount,
                max_amount=amount,
                kind=kind,
                placed_at=timestamp(command.placed_at),
                status=pb.BID_STATUS_PENDING,
            )
        ANSWERS.labels(pb.BidStatus.Name(answer.status)).inc()
        return answer

    async def RetractBid(
        self, request: pb.RetractBidRequest, context: grpc.aio.ServicerContext[pb.RetractBidRequest, pb.Bid]
    ) -> pb.Bid:
        bidder = require_principal().user_id
        auction_id = parse_id(request.auction_id, "auction_id")
        bid_id = parse_id(request.bid_id, "bid_id")
        if len(request.reason) > MAX_REASON:
            raise InvalidArgument([FieldViolation("reason", f"at most {MAX_REASON} characters")])
        await self._seller_of(auction_id)  # an unknown auction is NOT_FOUND, and nothing is logged
        s = self._settings
        command = commands.RetractBidCommand(
            auction_id=auction_id,
            command_id=uuid.uuid4(),
            received_at=self._clock(),
            reply_to=self._submitter.reply_to,
            bidder_id=bidder,
            bid_id=bid_id,
            reason=request.reason,
            min_remaining=s.cancel_min_remaining,
            recent=s.retract_recent,
        )
        return mask_bid(pb.Bid.FromString((await self._submitter.decided(command)).data), viewer())

    async def GetBid(
        self, request: pb.GetBidRequest, context: grpc.aio.ServicerContext[pb.GetBidRequest, pb.Bid]
    ) -> pb.Bid:
        auction_id = parse_id(request.auction_id, "auction_id")
        bid_id = parse_id(request.bid_id, "bid_id")
        found = await self._bids.get(auction_id, bid_id)
        if found is None:
            raise NotFound(f"bid {bid_id} is not decided on auction {auction_id} (unknown, or still in the log)")
        return outcome_to_pb(found, viewer())

    async def ListBids(
        self, request: pb.ListBidsRequest, context: grpc.aio.ServicerContext[pb.ListBidsRequest, pb.ListBidsResponse]
    ) -> pb.ListBidsResponse:
        auction_id = parse_id(request.auction_id, "auction_id")
        limit = page_size(request.page_size)
        bids, token = await self._bids.history(auction_id, request.page_token, limit)
        if not bids and not request.page_token:
            await self._seller_of(auction_id)  # an unknown auction is NOT_FOUND, not an empty history
        caller = viewer()
        return pb.ListBidsResponse(bids=[outcome_to_pb(b, caller) for b in bids], next_page_token=token)

    async def ListMyBids(
        self,
        request: pb.ListMyBidsRequest,
        context: grpc.aio.ServicerContext[pb.ListMyBidsRequest, pb.ListBidsResponse],
    ) -> pb.ListBidsResponse:
        caller = require_principal()
        bids, token = await self._bids.of_bidder(caller.user_id, request.page_token, page_size(request.page_size))
        return pb.ListBidsResponse(bids=[outcome_to_pb(b, caller) for b in bids], next_page_token=token)
