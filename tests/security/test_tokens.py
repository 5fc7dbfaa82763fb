"""Access tokens: what the codec issues it accepts, and nothing an attacker can shape from it."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from indunet.core.errors import AuthenticationFailed
from indunet.security import AccessTokenCodec

SECRET = "a test key that is long enough for HS256, HS384 and HS512 alike: 64+ bytes"


@pytest.fixture
def codec() -> AccessTokenCodec:
    return AccessTokenCodec(SECRET, issuer="indunet", audience="indunet-api", ttl_s=900)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unb64(part: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # type: ignore[no-any-return]


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return _unb64(header), _unb64(payload), signature


def _refused(codec: AccessTokenCodec, token: str, key: str = "error.token_invalid") -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        codec.verify(token)
    assert caught.value.key == key
    assert caught.value.status == 401


def test_issue_and_verify(codec: AccessTokenCodec) -> None:
    before = int(time.time())
    token = codec.issue("user-1", "tenant-1", "engineer")
    claims = codec.verify(token)
    assert (claims.subject, claims.tenant_id, claims.role) == ("user-1", "tenant-1", "engineer")
    assert before + 900 <= claims.expires_at <= int(time.time()) + 900
    header, payload, _ = _parts(token)
    assert header["alg"] == "HS256"
    assert (payload["iss"], payload["aud"]) == ("indunet", "indunet-api")
    # Every token is unique, even for the same user in the same second.
    assert _parts(codec.issue("user-1", "tenant-1", "engineer"))[1]["jti"] != payload["jti"]


def test_a_key_shorter_than_32_characters_is_refused() -> None:
    with pytest.raises(ValueError, match="32"):
        AccessTokenCodec("x" * 31, issuer="i", audience="a", ttl_s=60)


def test_expired_tokens_are_refused(codec: AccessTokenCodec) -> None:
    issued_long_ago = time.time() - 900 - 60
    _refused(codec, codec.issue("u", "t", "viewer", now=issued_long_ago), key="error.token_expired")


def test_tokens_from_the_future_are_refused(codec: AccessTokenCodec) -> None:
    _refused(codec, codec.issue("u", "t", "viewer", now=time.time() + 3600))


def test_tampered_payload_is_refused(codec: AccessTokenCodec) -> None:
    token = codec.issue("user-1", "tenant-1", "viewer")
    header, payload, signature = token.split(".")
    claims = _parts(token)[1]
    assert codec.verify(f"{header}.{payload}.{signature}").role == "viewer"  # the control
    for change in ({"role": "admin"}, {"tid": "tenant-2"}, {"sub": "user-2"}, {"exp": claims["exp"] + 86400}):
        forged = f"{header}.{_b64({**claims, **change})}.{signature}"
        _refused(codec, forged)


def test_tampered_signature_is_refused(codec: AccessTokenCodec) -> None:
    token = codec.issue("u", "t", "viewer")
    head, _, signature = token.rpartition(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    _refused(codec, f"{head}.{flipped}")
    _refused(codec, f"{head}.")
    _refused(codec, head)


def test_alg_none_is_refused(codec: AccessTokenCodec) -> None:
    claims = _parts(codec.issue("u", "t", "admin"))[1]
    for alg in ("none", "None", "NONE"):
        _refused(codec, f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(claims)}.")


def test_other_algorithms_are_refused_even_with_the_right_key(codec: AccessTokenCodec) -> None:
    claims = _parts(codec.issue("u", "t", "admin"))[1]
    for alg in ("HS384", "HS512"):
        _refused(codec, jwt.encode(claims, SECRET, algorithm=alg))
    # The control: the same claims, signed as the codec signs, pass.
    assert codec.verify(jwt.encode(claims, SECRET, algorithm="HS256")).role == "admin"


def test_another_key_is_refused(codec: AccessTokenCodec) -> None:
    other = AccessTokenCodec("a different key, also long enough here", "indunet", "indunet-api", 900)
    _refused(codec, other.issue("u", "t", "admin"))


@pytest.mark.parametrize(
    ("issuer", "audience"), [("someone-else", "indunet-api"), ("indunet", "another-api")], ids=["iss", "aud"]
)
def test_issuer_and_audience_must_match(codec: AccessTokenCodec, issuer: str, audience: str) -> None:
    stranger = AccessTokenCodec(SECRET, issuer=issuer, audience=audience, ttl_s=900)
    _refused(codec, stranger.issue("u", "t", "admin"))


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud", "sub", "tid", "role"])
def test_every_required_claim_must_be_present(codec: AccessTokenCodec, claim: str) -> None:
    claims = _parts(codec.issue("u", "t", "admin"))[1]
    del claims[claim]
    _refused(codec, jwt.encode(claims, SECRET, algorithm="HS256"))


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "a.b.c", "..", "eyJhbGciOiJIUzI1NiJ9..", "x" * 5000, "é.é.é"],
    ids=["empty", "word", "abc", "dots", "no-payload", "huge", "non-ascii"],
)
def test_malformed_tokens_are_refused(codec: AccessTokenCodec, token: str) -> None:
    _refused(codec, token)
