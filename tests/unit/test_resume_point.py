"""Where a taken partition's consumer starts, against a reference written from the rule: the
first unacknowledged command, never below the last consumer's start, never below the start
recorded for this log, and from the beginning for a log created again since the record."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.js.errors import KeyNotFoundError, NotFoundError

from bid_svc.partition import resume_point

CREATED = datetime(2026, 11, 1, tzinfo=UTC)


class FakeJetStream:
    def __init__(self, consumer: SimpleNamespace | None, created: datetime = CREATED) -> None:
        self.consumer = consumer
        self.created = created
        self.deleted: list[str] = []

    async def stream_info(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(created=self.created)

    async def consumer_info(self, stream: str, durable: str) -> SimpleNamespace:
        if self.consumer is None:
            raise NotFoundError
        return self.consumer

    async def delete_consumer(self, stream: str, durable: str) -> bool:
        self.deleted.append(durable)
        self.consumer = None
        return True


class FakeKeyValue:
    def __init__(self, value: bytes | None = None) -> None:
        self.value = value
        self.puts: list[bytes] = []

    async def get(self, key: str) -> SimpleNamespace:
        if self.value is None:
            raise KeyNotFoundError
        return SimpleNamespace(value=self.value)

    async def put(self, key: str, value: bytes) -> int:
        self.value = value
        self.puts.append(value)
        return len(self.puts)


def consumer(floor: int, opt_start: int | None) -> SimpleNamespace:
    return SimpleNamespace(ack_floor=SimpleNamespace(stream_seq=floor), config=SimpleNamespace(opt_start_seq=opt_start))


def record(start: int, created: datetime = CREATED) -> bytes:
    return json.dumps({"log": created.isoformat(), "start": start}).encode()


async def resume(js: FakeJetStream, kv: FakeKeyValue) -> int:
    return await resume_point(js, kv, 7, "worker-p7")  # type: ignore[arg-type]


def expected(floor: int | None, opt_start: int | None, recorded: int | None, same_log: bool) -> int:
    """The rule in the issue's words: what was not acknowledged, never below where the last
    consumer began, never below what was recorded for this same log."""
    candidates = [1]
    if recorded is not None and same_log:
        candidates.append(recorded)
    if floor is not None:
        candidates += [floor + 1, opt_start or 1]
    return max(candidates)


@given(
    floor=st.one_of(st.none(), st.integers(0, 10**6)),
    opt_start=st.one_of(st.none(), st.integers(1, 10**6)),
    recorded=st.one_of(st.none(), st.integers(1, 10**6)),
    same_log=st.booleans(),
)
async def test_the_start_follows_the_rule(
    floor: int | None, opt_start: int | None, recorded: int | None, same_log: bool
) -> None:
    js = FakeJetStream(None if floor is None else consumer(floor, opt_start))
    kv = FakeKeyValue(
        None if recorded is None else record(recorded, CREATED if same_log else datetime(2020, 1, 1, tzinfo=UTC))
    )
    start = await resume(js, kv)
    assert start == expected(floor, opt_start, recorded, same_log)
    assert js.consumer is None, "the old consumer is deleted (after the record is written)"
    if start > 1:
        assert json.loads(kv.value or b"") == {"log": CREATED.isoformat(), "start": start}


async def test_a_quiet_consumer_resumes_at_its_own_start_not_the_beginning() -> None:
    """The measured bug: floor 0 on a consumer that began at 501 once meant "start at 1"."""
    assert await resume(FakeJetStream(consumer(0, 501)), FakeKeyValue()) == 501


async def test_a_worker_that_died_between_delete_and_create_leaves_the_start_recorded() -> None:
    kv = FakeKeyValue()
    assert await resume(FakeJetStream(consumer(899, 501)), kv) == 900
    assert await resume(FakeJetStream(None), kv) == 900  # the consumer is gone, the record is not


async def test_a_log_created_again_is_read_from_its_beginning() -> None:
    recreated = FakeJetStream(None, created=datetime(2026, 11, 30, tzinfo=UTC))
    assert await resume(recreated, FakeKeyValue(record(900))) == 1


@pytest.mark.parametrize("value", [b"900", b"not json", b'{"start": "x", "log": ""}', b"[]"])
async def test_a_record_that_does_not_parse_is_ignored(value: bytes) -> None:
    assert await resume(FakeJetStream(consumer(41, 10)), FakeKeyValue(value)) == 42
