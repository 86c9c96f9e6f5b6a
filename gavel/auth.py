"""Who is calling: bearer JWTs from gRPC metadata ``authorization: Bearer <JWT>``.

The algorithm is pinned (HS256 locally) so a token cannot pick its own verification; ``sub``,
``aud`` and ``exp`` are required. Production swaps the shared secret for JWKS-published
asymmetric keys — only :class:`TokenVerifier` changes.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass

import jwt
from cachetools import TLRUCache

ALGORITHM = "HS256"
#: OpenID Connect's limit for ``sub``; user ids are keys in Cassandra (at most 64 KiB).
MAX_USER_ID = 255


#: The role of internal services' credentials: they see bidders' real ids in every view.
SERVICE_ROLE = "service"


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    #: Presented a service credential (``roles`` holds ``SERVICE_ROLE``): nothing is masked.
    service: bool = False


class InvalidToken(Exception):
    """The caller sent a token that does not verify; the message says why, for the status."""


#: The verified caller of the current RPC, or None when it came anonymously.
current_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("current_principal", default=None)


#: Verified tokens remembered (until their ``exp``): a client sends the same one on every call.
VERIFIED_TOKENS = 10_000


def _until_expiry(_header: str, verified: tuple[Principal, float], _now: float) -> float:
    return verified[1]


class TokenVerifier:
    """Verifies a token once, then knows it by its exact text until it expires: a signature
    check and the claims' validation on every call were a measurable share of a call's CPU,
    and the same header verifies the same way until ``exp`` (nothing else here can revoke
    it). Refused tokens are not remembered."""

    def __init__(self, secret: str, audience: str) -> None:
        self._secret = secret
        self._audience = audience
        self._verified: TLRUCache[str, tuple[Principal, float]] = TLRUCache(
            maxsize=VERIFIED_TOKENS, ttu=_until_expiry, timer=time.time
        )

    def verify(self, authorization: str) -> Principal:
        known = self._verified.get(authorization)
        if known is not None:
            return known[0]
        principal, expires = self._verify(authorization)
        self._verified[authorization] = (principal, expires)
        return principal

    def _verify(self, authorization: str) -> tuple[Principal, float]:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("authorization must be 'Bearer <JWT>'")
        try:
            claims = jwt.decode(
                token.strip(),
                self._secret,
                algorithms=[ALGORITHM],
                audience=self._audience,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"invalid token: {exc}") from exc
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub or len(sub) > MAX_USER_ID:
            raise InvalidToken(f"token 'sub' must be a string of 1 to {MAX_USER_ID} characters")
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidToken("token 'roles' must be a list of strings")
        return Principal(user_id=sub, service=SERVICE_ROLE in roles), float(claims["exp"])


def mint_dev_token(user_id: str, secret: str, audience: str = "gavel", ttl_s: int = 12 * 3600) -> str:
    """A token for local use (the launcher's banner, tests, the CLI's ``token``, the dev token
    endpoint): a user's, never with ``roles``, so nobody signs in as a service."""
    now = int(time.time())
    return jwt.encode({"sub": user_id, "aud": audience, "iat": now, "exp": now + ttl_s}, secret, algorithm=ALGORITHM)
