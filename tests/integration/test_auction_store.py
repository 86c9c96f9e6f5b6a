"""AuctionStore and ListAuctions' paging against the real Cassandra.

Each test works in its own far-future stretch of time (and with its own seller), so tests
sharing the session's Cassandra do not see each other's auctions.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from auction_svc.listing import Query, list_auctions
from gavel.auction_store import MIN_ID, AuctionStore, EndEntry, end_hour
from gavel.domain.auction import Auction, IncrementStep, Item, SoftClose, Status
from gavel.paging import PageTokens

TOKENS = PageTokens("test-page-token-secret", "test/ListAuctions")


def epoch() -> datetime:
    """A moment no other test uses: somewhere in a random far-future year, on a whole hour."""
    year = random.randint(2200, 9000)
    return datetime(year, 1, 1, tzinfo=UTC) + timedelta(hours=random.randint(0, 8000))


def make(seller: str, start: datetime, end: datetime, name: str = "Lamp") -> Auction:
    return Auction(
        auction_id=uuid.uuid4(),
        seller_id=seller,
        item=Item(name, "desc", "https://img.example/x.jpg"),
        start_date=start,
        end_date=end,
        starting_price=1000,
        currency="EUR",
        created_at=start,
        original_end_date=end,
    )


async def test_create_then_get_round_trips(store: AuctionStore) -> None:
    t = epoch()
    auction = make(f"s-{uuid.uuid4()}", t, t + timedelta(hours=2))
    stored, created = await store.create(auction)
    assert created
    assert stored == auction
    assert await store.get(auction.auction_id) == auction


async def test_create_is_idempotent_per_id(store: AuctionStore) -> None:
    t = epoch()
    first = make(f"s-{uuid.uuid4()}", t, t + timedelta(hours=2))
    await store.create(first)
    retry = replace(first, item=Item("Changed"), created_at=t + timedelta(seconds=5))
    stored, created = await store.create(retry)
    assert not created
    assert stored == first  # the first write wins; the retry changes nothing
    page, _ = await list_auctions(store, Query(None, first.seller_id, 10), "", t, TOKENS)
    assert [a.auction_id for a in page] == [first.auction_id]  # one seller entry, not two


async def test_imported_auctions_are_indistinguishable_from_created_ones(store: AuctionStore) -> None:
    """The bulk import (the scale bench's load) writes exactly what create writes: the same
    partition, found at its end by the closer's walk and in its seller's listing."""
    t = epoch()
    seller = f"s-{uuid.uuid4()}"
    rules = {
        "reserve_price": 5000,
        "buy_now_price": 9000,
        "increments": (IncrementStep(0, 10), IncrementStep(2000, 50)),
        "soft_close": SoftClose(timedelta(minutes=2), timedelta(minutes=3), t + timedelta(days=1)),
    }
    created = replace(make(seller, t, t + timedelta(hours=2)), **rules)
    imported = [
        replace(make(seller, t, t + timedelta(hours=2, minutes=m)), created_at=t + timedelta(seconds=m), **rules)
        for m in range(1, 4)
    ]
    await store.create(created)
    await store.import_many(imported)

    for a in imported:
        stored = await store.get(a.auction_id)
        assert stored == a
        assert replace(
            stored,
            auction_id=created.auction_id,
            end_date=created.end_date,
            created_at=created.created_at,
            original_end_date=created.original_end_date,
        ) == await store.get(created.auction_id)
    ending = await store.ending_in(end_hour(t + timedelta(hours=2)), EndEntry(t, MIN_ID), ascending=True, limit=10)
    assert [e.auction_id for e in ending] == [created.auction_id] + [a.auction_id for a in imported]
    page, _ = await list_auctions(store, Query(None, seller, 10), "", t, TOKENS)
    assert [a.auction_id for a in page] == [a.auction_id for a in reversed(imported)] + [created.auction_id]


async def test_get_many_reads_the_ones_that_exist(store: AuctionStore) -> None:
    """Each auction as ``get`` reads it, an unknown id left out, a repeated one once (the
    listings read their pages through it)."""
    t = epoch()
    seller = f"s-{uuid.uuid4()}"
    auctions = [make(seller, t, t + timedelta(hours=2, minutes=m)) for m in range(3)]
    for a in auctions:
        await store.create(a)
    unknown = uuid.uuid4()
    ids = [auctions[0].auction_id, unknown, auctions[1].auction_id, auctions[0].auction_id, auctions[2].auction_id]
    found = await store.get_many(ids)
    assert found == {a.auction_id: await store.get(a.auction_id) for a in auctions}
    assert await store.get_many([]) == {}


async def test_get_unknown_is_none(store: AuctionStore) -> None:
    assert await store.get(uuid.uuid4()) is None


async def test_open_auctions_come_ending_soonest_first_across_hours_and_pages(store: AuctionStore) -> None:
    t = epoch()
    seller = f"s-{uuid.uuid4()}"
    ends = [t + timedelta(minutes=m) for m in (5, 50, 61, 130, 131, 400, 2000, 2001, 6000)]
    shuffled = random.sample(ends, len(ends))
    for end in shuffled:
        await store.create(make(seller, t - timedelta(hours=1), end))
    scheduled = make(seller, t + timedelta(hours=1), t + timedelta(minutes=90))
    ended = make(seller, t - timedelta(hours=3), t - timedelta(minutes=1))
    await store.create(scheduled)
    await store.create(ended)

    seen: list[Auction] = []
    token = ""
    for _ in range(10):
        page, token = await list_auctions(store, Query(Status.OPEN, "", 2), token, t, TOKENS)
        assert len(page) <= 2
        seen += page
        if not token:
            break
    assert [a.end_date for a in seen] == ends  # soonest first, nothing twice, nothing missing
    assert len({end_hour(e) for e in ends}) > 3  # the walk really crossed hour buckets

    upcoming, _ = await list_auctions(store, Query(Status.SCHEDULED, "", 10), "", t, TOKENS)
    assert upcoming[0].auction_id == scheduled.auction_id  # later ones belong to other tests' futures
    recent, _ = await list_auctions(store, Query(Status.ENDED, "", 1), "", t, TOKENS)
    assert [a.auction_id for a in recent] == [ended.auction_id]


async def test_seller_listing_is_newest_first_and_filters_by_status(store: AuctionStore) -> None:
    t = epoch()
    seller = f"s-{uuid.uuid4()}"
    created = []
    for i in range(5):
        a = make(seller, t - timedelta(days=1), t + timedelta(hours=i + 1) if i % 2 else t - timedelta(hours=1))
        a = replace(a, created_at=t - timedelta(minutes=10 - i))
        await store.create(a)
        created.append(a)
    everything: list[Auction] = []
    token = ""
    while True:
        page, token = await list_auctions(store, Query(None, seller, 2), token, t, TOKENS)
        everything += page
        if not token:
            break
    assert [a.auction_id for a in everything] == [a.auction_id for a in reversed(created)]
    open_only, _ = await list_auctions(store, Query(Status.OPEN, seller, 10), "", t, TOKENS)
    assert {a.auction_id for a in open_only} == {a.auction_id for a in created[1::2]}


async def test_stale_end_hint_is_skipped(store: AuctionStore, cql_session: object) -> None:
    """A create that died after its end-hour hint, or a retry with another end date, leaves
    a hint the listing must not trust."""
    t = epoch()
    auction = make(f"s-{uuid.uuid4()}", t - timedelta(hours=1), t + timedelta(hours=3))
    await store.create(auction)
    wrong_end = t + timedelta(hours=1)
    cql_session.execute(  # type: ignore[attr-defined]
        "INSERT INTO auctions_by_end_hour (end_hour, end_date, auction_id) VALUES (%s, %s, %s)",
        (end_hour(wrong_end), wrong_end, auction.auction_id),
    )
    cql_session.execute(  # type: ignore[attr-defined]
        "INSERT INTO end_hours (scope, end_hour) VALUES ('auctions', %s)", (end_hour(wrong_end),)
    )
    page, _ = await list_auctions(store, Query(Status.OPEN, "", 10), "", t, TOKENS)
    assert [a.auction_id for a in page] == [auction.auction_id]


@pytest.mark.parametrize("page_size", [1, 3])
async def test_empty_future_lists_nothing(store: AuctionStore, page_size: int) -> None:
    far = datetime(9990, 1, 1, tzinfo=UTC)
    page, token = await list_auctions(store, Query(Status.OPEN, "", page_size), "", far, TOKENS)
    assert (page, token) == ([], "")
