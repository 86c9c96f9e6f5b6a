"""One owner at a time per key, through a NATS KV bucket with a TTL.

Take: create-if-absent. Keep: update by the revision we hold (fails if anyone else wrote).
Hand over: stop renewing, and the bucket's TTL removes the key within ``ttl`` seconds, or
release explicitly. A stale owner that misses its loss is made harmless elsewhere (the
Cassandra compare-and-set on ``version``); the lease only keeps owners from colliding.
"""

from __future__ import annotations

import logging

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)


async def bucket(js: JetStreamContext, name: str, ttl: float | None, replicas: int) -> KeyValue:
    """The bucket, created if missing; an existing one takes ``ttl`` from the settings (a bucket
    left with an older TTL than the renewal interval would expire every lease between rounds).
    ``ttl`` None: entries never expire."""
    try:
        kv = await js.key_value(name)
    except NotFoundError:
        return await js.create_key_value(bucket=name, ttl=ttl, history=1, replicas=replicas)
    status = await kv.status()
    if abs((status.ttl or 0.0) - (ttl or 0.0)) > 1e-3:
        config = status.stream_info.config
        config.max_age = ttl
        await js.update_stream(config)
        log.info("bucket %s: TTL %s s -> %s s", name, status.ttl, ttl)
    return kv


class Leases:
    def __init__(self, kv: KeyValue, owner: str) -> None:
        self._kv = kv
        self._owner = owner.encode()
        self._revisions: dict[str, int] = {}

    @property
    def held(self) -> set[str]:
        return set(self._revisions)

    async def try_acquire(self, key: str) -> bool:
        try:
            self._revisions[key] = await self._kv.create(key, self._owner)
        except KeyWrongLastSequenceError:
            return await self._adopt(key)
        return True

    async def _adopt(self, key: str) -> bool:
        """Takes back a lease that names us but that we do not hold: an earlier run of this
        owner (the same id) died without releasing it. Waiting out the TTL would leave its
        partitions undecided for that long after a restart, for nothing. Two live owners must
        never share an id (a worker's default id is its host and port, which they cannot)."""
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return False
        if entry.value != self._owner or entry.revision is None:
            return False
        try:
            self._revisions[key] = await self._kv.update(key, self._owner, last=entry.revision)
        except (KeyWrongLastSequenceError, KeyNotFoundError):
            return False
        log.info("took back lease %s from an earlier run of %s", key, self._owner.decode())
        return True

    async def renew(self, key: str) -> bool:
        """False means the lease is lost: stop acting as the owner at once."""
        try:
            self._revisions[key] = await self._kv.update(key, self._owner, last=self._revisions[key])
        except (KeyWrongLastSequenceError, KeyNotFoundError):
            self._revisions.pop(key, None)
            return False
        return True

    async def release(self, key: str) -> None:
        revision = self._revisions.pop(key, None)
        if revision is None:
            return
        try:
            await self._kv.delete(key, last=revision)
        except (KeyWrongLastSequenceError, KeyNotFoundError):
            pass  # already someone else's, or already gone
