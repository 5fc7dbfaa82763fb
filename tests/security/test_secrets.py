"""Machine secrets (API keys, device tokens) and Argon2 hashing."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indunet.security import SecretToken, hash_secret, new_secret_token, parse_secret_token, verify_secret
from indunet.security.passwords import MAX_PASSWORD_LENGTH

HEX = "0123456789abcdef" * 2


@pytest.mark.parametrize("kind", ["ink", "dev"])
def test_new_tokens_parse_back(kind: str) -> None:
    token = new_secret_token(kind)
    text = str(token)
    assert text.startswith(f"{kind}_")
    assert parse_secret_token(text) == token
    assert uuid.UUID(token.id).version == 4
    assert len(token.secret) >= 43  # 256 bits, URL-safe base64
    assert new_secret_token(kind) != token


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        new_secret_token("xyz")


def test_a_secret_may_contain_underscores() -> None:
    token = SecretToken("dev", str(uuid.UUID(HEX)), "a_b_c")
    assert parse_secret_token(str(token)) == token


@pytest.mark.parametrize(
    "text",
    [
        "",
        "dev",
        "dev_",
        "dev__",
        f"dev_{HEX}",
        f"dev_{HEX}_",
        f"xyz_{HEX}_secret",
        f"DEV_{HEX}_secret",
        f"dev_{HEX[:-1]}_secret",
        f"dev_{HEX}0_secret",
        f"dev_{HEX[:-1]}g_secret",
        f"dev_{HEX[:8]}-{HEX[8:12]}-{HEX[12:16]}-{HEX[16:20]}-{HEX[20:]}_secret",
        f"dev_{{{HEX[:30]}}}_secret",
        f"dev_0x{HEX[:30]}_secret",
        f"dev_ {HEX[:30]} _secret",
        f"dev_+{HEX[:31]}_secret",
        f"dev_{HEX}_" + "s" * 200,
        f"Bearer dev_{HEX}_secret",
    ],
    ids=[
        "empty", "kind-only", "kind-underscore", "two-underscores", "no-secret", "empty-secret",
        "unknown-kind", "upper-kind", "short-id", "long-id", "non-hex", "dashed-uuid", "braced-uuid",
        "0x-prefix", "spaces", "plus-sign", "too-long", "with-scheme",
    ],
)  # fmt: skip
def test_malformed_tokens_do_not_parse(text: str) -> None:
    assert parse_secret_token(text) is None


@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    result = parse_secret_token(text)
    assert result is None or isinstance(result, SecretToken)


@given(st.sampled_from(["ink", "dev"]), st.uuids(), st.text(alphabet="abcXYZ019-_", min_size=1, max_size=60))
def test_well_formed_tokens_round_trip(kind: str, token_id: uuid.UUID, secret: str) -> None:
    token = SecretToken(kind, str(token_id), secret)
    assert parse_secret_token(str(token)) == token


def test_hash_and_verify() -> None:
    stored = hash_secret("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert verify_secret(stored, "correct horse battery staple")
    assert not verify_secret(stored, "correct horse battery stapl")
    assert not verify_secret(stored, "")
    # Salted: the same secret hashes differently each time, and both verify.
    again = hash_secret("correct horse battery staple")
    assert again != stored and verify_secret(again, "correct horse battery staple")


def test_machine_hashes_verify_too() -> None:
    token = new_secret_token("dev")
    stored = hash_secret(token.secret, machine=True)
    assert stored.startswith("$argon2id$")
    assert verify_secret(stored, token.secret)
    assert not verify_secret(stored, new_secret_token("dev").secret)


@pytest.mark.parametrize("stored", ["", "not a hash", "$argon2id$v=19$m=8,t=1,p=1$garbage", "$2b$12$abc"])
def test_garbage_hashes_verify_nothing(stored: str) -> None:
    assert verify_secret(stored, "anything") is False


def test_overlong_secrets_are_refused_without_hashing() -> None:
    long_secret = "x" * (MAX_PASSWORD_LENGTH + 1)
    stored = hash_secret(long_secret, machine=True)
    assert verify_secret(stored, long_secret) is False
