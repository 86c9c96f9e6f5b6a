"""How many watch streams one client may hold open in this process.

The gateway's rate limits bound how fast streams are opened, not how many stay open: a client
opening a few a second for an hour would hold thousands, each a subscription slot and a
mailbox here. A client is the signed-in user, or for anonymous watchers their address: the
last ``x-forwarded-for`` entry, which Envoy appends itself (``use_remote_address``), so a
client cannot choose it; a direct caller without the header is known by its peer address.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from gavel import auth
from gavel.errors import ResourceExhausted


def client_of(metadata: Mapping[str, str], peer: str) -> tuple[str, bool]:
    """The client's key, and whether it is a signed-in user (else an address)."""
    principal = auth.current_principal.get()
    if principal is not None:
        return f"user:{principal.user_id}", True
    forwarded = [part.strip() for part in metadata.get("x-forwarded-for", "").split(",") if part.strip()]
    if forwarded:
        return f"address:{forwarded[-1]}", False
    host = peer.rsplit(":", 1)[0] if peer.count(":") > 1 else peer  # "ipv4:127.0.0.1:5555" → without the port
    return f"address:{host}", False


class WatchQuota:
    def __init__(self, per_user: int, per_address: int) -> None:
        self._per_user = per_user
        self._per_address = per_address
        self._open: Counter[str] = Counter()

    @contextmanager
    def hold(self, client: str, is_user: bool) -> Iterator[None]:
        limit = self._per_user if is_user else self._per_address
        if self._open[client] >= limit:
            raise ResourceExhausted(
                f"at most {limit} open watches per {'user' if is_user else 'address'}; close one first"
            )
        self._open[client] += 1
        try:
            yield
        finally:
            self._open[client] -= 1
            if self._open[client] <= 0:
                del self._open[client]
