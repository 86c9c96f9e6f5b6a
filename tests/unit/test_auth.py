"""Bearer tokens: what verifies and, above all, what does not."""

from __future__ import annotations

import time
import warnings

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from gavel.auth import InvalidToken, Principal, TokenVerifier, mint_dev_token

SECRET = "unit-secret-at-least-thirty-two-bytes"
verifier = TokenVerifier(SECRET, "gavel")


def bearer(claims: dict[str, object], secret: str = SECRET, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():
        # HS512 with this key is refused by the pinned algorithm anyway; PyJWT warns about its length.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return "Bearer " + jwt.encode(claims, secret, algorithm=algorithm)


def good_claims(**changes: object) -> dict[str, object]:
    claims: dict[str, object] = {"sub": "alice", "aud": "gavel", "exp": int(time.time()) + 60}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_dev_token_verifies_as_its_user() -> None:
    assert verifier.verify("Bearer " + mint_dev_token("alice", SECRET)) == Principal("alice")
    assert verifier.verify(bearer(good_claims(sub="u" * 255))) == Principal("u" * 255)
    assert verifier.verify("bearer " + mint_dev_token("bob", SECRET)) == Principal("bob")


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Basic abc",
        "Bearer ",
        "Bearer not-a-jwt",
        bearer(good_claims(), secret="another-secret-also-thirty-two-bytes-long"),
        bearer(good_claims(exp=int(time.time()) - 10)),
        bearer(good_claims(exp=None)),
        bearer(good_claims(aud="someone-else")),
        bearer(good_claims(aud=None)),
        bearer(good_claims(sub=None)),
        bearer(good_claims(sub="")),
        bearer(good_claims(sub="u" * 256)),
        bearer(good_claims(), algorithm="HS512"),
        "Bearer " + jwt.encode(good_claims(), None, algorithm="none"),
    ],
    ids=[
        "empty",
        "basic",
        "no-token",
        "garbage",
        "wrong-secret",
        "expired",
        "no-exp",
        "wrong-aud",
        "no-aud",
        "no-sub",
        "empty-sub",
        "long-sub",
        "other-alg",
        "alg-none",
    ],
)
def test_bad_tokens_are_refused(header: str) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(header)


def test_a_service_credential_is_the_roles_claim_and_the_dev_token_never_has_it() -> None:
    assert verifier.verify(bearer(good_claims(sub="closer", roles=["service"]))) == Principal("closer", service=True)
    assert verifier.verify(bearer(good_claims(roles=["bidder"]))) == Principal("alice")
    assert "roles" not in jwt.decode(mint_dev_token("alice", SECRET), options={"verify_signature": False})
    for bad in ("service", [1], {"service": True}):
        with pytest.raises(InvalidToken, match="roles"):
            verifier.verify(bearer(good_claims(roles=bad)))
