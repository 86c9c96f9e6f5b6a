"""Shared by the fuzz tests (native gRPC and REST): request strategies built from the proto's
descriptors, real ids and page tokens to aim them with, the checks that nothing was written
by a rejected request, and a tally of what was sent and answered (printed at session end).

Strategies come from descriptors, not from a hand-written list, so every RPC in
``auction.v1`` is fuzzed, and a new method or field is fuzzed without touching the tests.
Runs are reproducible (``derandomize``); ``GAVEL_FUZZ_EXAMPLES`` sets examples per test for a
larger run than CI's.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import grpc
import nats
from google.protobuf import descriptor as d
from google.protobuf import message_factory, timestamp_pb2
from google.protobuf.message import Message
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from gavel import bus, commands
from gavel.api.auction.v1 import auction_pb2 as pb
from gavel.api.auction.v1 import auction_pb2_grpc as pb_grpc
from gavel.messages import timestamp
from gavel.paging import PageTokens
from gavel.settings import DEV_PAGE_TOKEN_SECRET, Settings

EXAMPLES = int(os.environ.get("GAVEL_FUZZ_EXAMPLES", "0"))


def fuzz_settings(ci_examples: int) -> settings:
    """A fixed, derandomized run of ``ci_examples`` (or ``GAVEL_FUZZ_EXAMPLES``) examples.
    No example database: a run's result depends on the seed alone, not on earlier runs."""
    return settings(
        max_examples=EXAMPLES or ci_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


#: The gRPC statuses bad input must never get (UNAVAILABLE is a 503 through Envoy).
FORBIDDEN_CODES = {
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.DATA_LOSS,
    grpc.StatusCode.UNAVAILABLE,
}


@dataclass
class Tally:
    """Requests sent and answers seen, by transport: the numbers a closing note quotes."""

    answers: dict[str, Counter[str]] = field(default_factory=dict)

    def record(self, transport: str, method: str, answer: str) -> None:
        self.answers.setdefault(transport, Counter())[f"{method} {answer}"] += 1

    def lines(self) -> Iterator[str]:
        """Per transport: the total, then each method's answers, most frequent first."""
        for transport, counts in sorted(self.answers.items()):
            by_method: dict[str, Counter[str]] = {}
            for key, n in counts.items():
                method, answer = key.rsplit(" ", 1)
                by_method.setdefault(method, Counter())[answer] += n
            yield f"{transport}: {sum(counts.values())} requests"
            for method, answers in by_method.items():
                yield f"  {method}: " + ", ".join(f"{a} {n}" for a, n in answers.most_common())


TALLY = Tally()


# --- What the requests aim at ---------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """Real things in the stack, so fuzzed requests reach past the id checks: an auction with
    bids, its seller and bidder, and genuine page tokens of every listing."""

    auction_id: str
    bid_id: str
    seller_id: str
    bidder_id: str
    tokens: dict[str, str]  # listing method name -> a next_page_token it issued


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def build_world(settings: Settings, token_for: Callable[[str], str]) -> World:
    seller, bidder = f"fuzz-owner-{uuid.uuid4().hex[:8]}", f"fuzz-real-bidder-{uuid.uuid4().hex[:8]}"
    end = datetime.now(UTC) + timedelta(days=2)
    with grpc.insecure_channel(settings.target("auction")) as channel:
        auctions = pb_grpc.AuctionServiceStub(channel)
        lots = [
            auctions.CreateAuction(
                pb.CreateAuctionRequest(
                    item=pb.Item(name=f"Fuzz lot {n}"), end_date=timestamp(end), starting_price=100
                ),
                metadata=bearer(token_for(seller)),
            )
            for n in range(2)
        ]
        listed = auctions.ListAuctions(pb.ListAuctionsRequest(seller_id=seller, page_size=1))
    with grpc.insecure_channel(settings.target("bid")) as channel:
        bids = pb_grpc.BidServiceStub(channel)
        placed = [
            bids.PlaceBid(
                pb.PlaceBidRequest(auction_id=lots[0].auction_id, amount=amount, request_id=uuid.uuid4().hex),
                metadata=bearer(token_for(bidder)),
            )
            for amount in (200, 300)
        ]
        history = bids.ListBids(pb.ListBidsRequest(auction_id=lots[0].auction_id, page_size=1))
        mine = bids.ListMyBids(pb.ListMyBidsRequest(page_size=1), metadata=bearer(token_for(bidder)))
    tokens = {
        "ListAuctions": listed.next_page_token,
        "ListBids": history.next_page_token,
        "ListMyBids": mine.next_page_token,
    }
    assert all(tokens.values()), f"every listing should have a second page: {tokens}"
    return World(lots[0].auction_id, placed[-1].bid_id, seller, bidder, tokens)


def _unsigned(cursor: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode().rstrip("=")


def altered_tokens(genuine: str) -> st.SearchStrategy[str]:
    """Tokens a client could make from a genuine one: its cursor with numbers pushed out of
    range (unsigned as before, or signed with the wrong key), a changed character, a swapped
    or missing signature."""
    payload, _, mac = genuine.partition(".")
    cursor = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    wrong_key = PageTokens(DEV_PAGE_TOKEN_SECRET + "-guess", "x")
    numbers = st.one_of(
        st.sampled_from([2**63, 2**64, -(2**63) - 1, -1, 0, 2**53 + 1, 10**20, 253402300800000, -62135596800001]),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=5),
        st.none(),
        st.booleans(),
    )

    def changed(values: dict[str, object]) -> dict[str, object]:
        return {**cursor, **values}

    keys = sorted(cursor) or ["x"]
    forged = st.dictionaries(st.sampled_from(keys), numbers, min_size=1).map(changed)
    flipped = st.tuples(st.integers(0, len(genuine) - 1), st.characters(codec="ascii")).map(
        lambda at_c: genuine[: at_c[0]] + at_c[1] + genuine[at_c[0] + 1 :]
    )
    return st.one_of(
        forged.map(_unsigned),
        forged.map(lambda c: f"{_unsigned(c)}.{mac}"),
        forged.map(wrong_key.encode),
        flipped,
        st.just(payload),
        st.just(f"{payload}."),
        st.just(genuine + genuine),
        st.just(genuine),
    )


# --- Values -------------------------------------------------------------------------------

INT_BOUNDS = [0, 1, -1, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63), 2**32 - 1, 2**64 - 1, 10**15, 10**15 + 1]
HUGE_STRINGS = ["a" * 65_536, "é" * 40_000, "x" * 300_000]
TIMESTAMP_SECONDS = [253_402_300_799, 253_402_300_800, -62_135_596_800, -62_135_596_801, 2**63 - 1, -(2**63), 0]


def text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=40),
        st.text(st.characters(codec="utf-8"), max_size=300),
        st.sampled_from(HUGE_STRINGS),
        st.just(""),
    )


def _int_range(f: d.FieldDescriptor) -> tuple[int, int]:
    t = f.type
    if t in (
        d.FieldDescriptor.TYPE_INT32,
        d.FieldDescriptor.TYPE_SINT32,
        d.FieldDescriptor.TYPE_SFIXED32,
        d.FieldDescriptor.TYPE_ENUM,
    ):
        return -(2**31), 2**31 - 1
    if t in (d.FieldDescriptor.TYPE_UINT32, d.FieldDescriptor.TYPE_FIXED32):
        return 0, 2**32 - 1
    if t in (d.FieldDescriptor.TYPE_UINT64, d.FieldDescriptor.TYPE_FIXED64):
        return 0, 2**64 - 1
    return -(2**63), 2**63 - 1


def integers(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.one_of(
        st.sampled_from([b for b in INT_BOUNDS if lo <= b <= hi]),
        st.integers(lo, hi),
        st.integers(-1000, 10**6).filter(lambda n: lo <= n <= hi),
    )


def timestamps() -> st.SearchStrategy[timestamp_pb2.Timestamp]:
    now = int(datetime.now(UTC).timestamp())
    seconds = st.one_of(
        st.sampled_from(TIMESTAMP_SECONDS),
        st.integers(-(2**63), 2**63 - 1),
        st.integers(now - 86_400, now + 40 * 86_400),
    )
    nanos = st.one_of(st.sampled_from([0, 999_999_999, 10**9, -1, 2**31 - 1, -(2**31)]), st.integers(0, 999_999_999))
    return st.builds(timestamp_pb2.Timestamp, seconds=seconds, nanos=nanos)


def field_values(
    f: d.FieldDescriptor, hints: dict[str, st.SearchStrategy[object]], depth: int
) -> st.SearchStrategy[object]:
    if f.name in hints:
        return hints[f.name]
    if f.type == d.FieldDescriptor.TYPE_MESSAGE:
        return messages(f.message_type, hints, depth + 1)
    if f.type == d.FieldDescriptor.TYPE_STRING:
        return text()
    if f.type == d.FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=100)
    if f.type == d.FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if f.type in (d.FieldDescriptor.TYPE_DOUBLE, d.FieldDescriptor.TYPE_FLOAT):
        return st.floats(width=32 if f.type == d.FieldDescriptor.TYPE_FLOAT else 64)
    lo, hi = _int_range(f)
    if f.type == d.FieldDescriptor.TYPE_ENUM:  # known values, and unknown ones (open enums)
        return st.one_of(st.sampled_from([v.number for v in f.enum_type.values]), integers(lo, hi))
    return integers(lo, hi)


def messages(
    descriptor: d.Descriptor, hints: dict[str, st.SearchStrategy[object]] | None = None, depth: int = 0
) -> st.SearchStrategy[Message]:
    """Any message of this type: each field absent or set to a value of its type, the edges
    of its range included (Timestamps of any int64 seconds, enums of unknown numbers)."""
    hints = hints or {}
    cls = message_factory.GetMessageClass(descriptor)
    if descriptor.full_name == "google.protobuf.Timestamp":
        return timestamps()
    if depth > 3:
        return st.just(cls())
    optional: dict[str, st.SearchStrategy[object]] = {}
    for f in descriptor.fields:
        values = field_values(f, hints, depth)
        optional[f.name] = st.lists(values, max_size=3) if f.is_repeated else values
    return st.fixed_dictionaries({}, optional=optional).map(lambda kw: cls(**kw))


def hints_for(world: World, method: str) -> dict[str, st.SearchStrategy[object]]:
    """Per-field values that reach further than random text: the real ids and tokens, valid
    UUIDs that name nothing, and altered tokens; random text stays in the mix."""

    def ids(real: str) -> st.SearchStrategy[object]:
        return st.one_of(
            st.just(real),
            st.uuids().map(str),
            text(),
            st.just(real.upper()),
            st.just("{" + real + "}"),
        )

    hints: dict[str, st.SearchStrategy[object]] = {
        "auction_id": ids(world.auction_id),
        "bid_id": ids(world.bid_id),
        "seller_id": st.one_of(st.just(world.seller_id), text()),
        "user_id": st.one_of(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,70}\Z"), text()),
        "request_id": st.one_of(st.uuids().map(str), text()),
    }
    genuine = world.tokens.get(method)
    if genuine:
        hints["page_token"] = st.one_of(altered_tokens(genuine), text())
    return hints


# --- Nothing written by a rejected request --------------------------------------------------


def sellers_auctions(settings: Settings, seller: str) -> set[str]:
    found: set[str] = set()
    token = ""
    with grpc.insecure_channel(settings.target("auction")) as channel:
        stub = pb_grpc.AuctionServiceStub(channel)
        while True:
            page = stub.ListAuctions(pb.ListAuctionsRequest(seller_id=seller, page_size=100, page_token=token))
            found |= {a.auction_id for a in page.auctions}
            token = page.next_page_token
            if not token:
                return found


def bid_log_position(settings: Settings) -> int:
    """The BIDS stream's last sequence number."""

    async def read() -> int:
        nc = await nats.connect(settings.nats_url)
        try:
            return (await nc.jetstream().stream_info(bus.BIDS_STREAM)).state.last_seq
        finally:
            await nc.close()

    return asyncio.run(read())


def bids_logged_since(settings: Settings, after: int, bidders: set[str]) -> set[str]:
    """Bid ids of the PlaceBid and BuyNow commands by ``bidders`` appended to BIDS after ``after``.

    Other messages (close commands of other tests' auctions) may land meanwhile; they are
    not the fuzzed requests' and are skipped."""

    async def read() -> set[str]:
        nc = await nats.connect(settings.nats_url)
        try:
            js = nc.jetstream()
            last = (await js.stream_info(bus.BIDS_STREAM)).state.last_seq
            found: set[str] = set()
            for seq in range(after + 1, last + 1):
                try:
                    msg = await js.get_msg(bus.BIDS_STREAM, seq)
                except nats.js.errors.NotFoundError:
                    continue  # acknowledged and removed (work-queue retention) or purged
                command = commands.decode(msg.data or b"")
                if isinstance(command, commands.BID_COMMANDS) and command.bidder_id in bidders:
                    found.add(str(command.bid_id))
            return found
        finally:
            await nc.close()

    return asyncio.run(read())
