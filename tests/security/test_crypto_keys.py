"""One interface over SM2, Ed25519 and ECDSA P-256: a key of any algorithm signs, verifies, writes
itself out and reads back as the same key; hostile key files and signatures are refused cleanly."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.security.crypto import der, keys
from indunet.security.crypto.keys import Algorithm, UnsupportedKey
from indunet.security.crypto.sm2 import KeyExchange, Sm2PrivateKey, Sm2PublicKey

FUZZ = settings(max_examples=300, deadline=None)


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_every_algorithm_round_trips_through_pem_and_der(algorithm: Algorithm) -> None:
    private = keys.generate(algorithm)
    signature = private.sign(b"record")
    for text in (keys.private_pem(private), private.to_der()):
        again = keys.load_private_key(text)
        assert again.algorithm is algorithm and again.public_key().raw() == private.public_key().raw()
    public = keys.load_public_key(keys.public_pem(private.public_key()))
    assert public.verify(signature, b"record") and not public.verify(signature, b"recorD")
    raw = keys.public_key_from_raw(algorithm, public.raw())
    assert raw.verify(signature, b"record")
    other = keys.generate(algorithm).public_key()
    assert not other.verify(signature, b"record")


def test_algorithms_do_not_accept_each_others_signatures() -> None:
    sm2, ecdsa = keys.generate(Algorithm.SM2), keys.generate(Algorithm.ECDSA_P256)
    assert not ecdsa.public_key().verify(sm2.sign(b"m"), b"m")
    assert not sm2.public_key().verify(ecdsa.sign(b"m"), b"m")
    with pytest.raises(UnsupportedKey):
        keys.as_sm2(ecdsa)


def test_sm2_key_exchange_agrees_only_between_the_right_keys() -> None:
    alice, bob = Sm2PrivateKey.generate(), Sm2PrivateKey.generate(b"bob@88.100.1")
    a, b = KeyExchange.begin(alice, responder=False), KeyExchange.begin(bob, responder=True)
    shared = a.finish(bob.public_key(), b.ephemeral, 32)
    assert shared == b.finish(alice.public_key(), a.ephemeral, 32) and len(shared) == 32
    mallory = Sm2PrivateKey.generate()
    assert a.finish(mallory.public_key(), b.ephemeral, 32) != shared


@FUZZ
@given(st.binary(max_size=200))
def test_garbage_is_never_a_key_or_a_signature(data: bytes) -> None:
    for load in (keys.load_private_key, keys.load_public_key):
        with contextlib.suppress(UnsupportedKey):
            load(data)
    sm2 = keys.generate(Algorithm.SM2).public_key()
    assert not sm2.verify(data, b"message")


@FUZZ
@given(st.integers(0, 2**300), st.integers(0, 2**300), st.data())
def test_signature_der_round_trips_and_damage_is_refused(r: int, s: int, data: st.DataObject) -> None:
    encoded = der.encode_signature(r, s)
    assert der.decode_signature(encoded) == (r, s)
    cut = encoded[: data.draw(st.integers(0, len(encoded) - 1))]
    with pytest.raises(der.DerError):
        der.decode_signature(cut)


def test_pem_of_another_kind_and_oversized_input_are_refused() -> None:
    with pytest.raises(UnsupportedKey):
        keys.load_private_key(b"-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n")
    with pytest.raises(UnsupportedKey):
        keys.load_public_key(b"x" * 100_000)
    with pytest.raises(UnsupportedKey):
        keys.load_public_key(
            keys.private_pem(keys.generate(Algorithm.SM2))
        )  # a private key is not a public one


_SIGNER = Sm2PrivateKey.generate()
_MESSAGE = b"88.100.1/pump-7"
_GOOD = _SIGNER.sign(_MESSAGE)


def test_sm2_verification_uses_the_systems_openssl_here() -> None:
    assert _SIGNER.public_key().verified_by == "openssl"  # OpenSSL 3 with SM2, as on Debian
    assert Sm2PublicKey(_SIGNER.public_key().point, use_openssl=False).verified_by == "gmalglib"


@FUZZ
@given(st.binary(max_size=80), st.integers(0, len(_GOOD) - 1), st.integers(1, 255), st.binary(max_size=40))
def test_openssl_and_gmalglib_agree_on_every_signature(
    garbage: bytes, at: int, flip: int, message: bytes
) -> None:
    point = _SIGNER.public_key().point
    fast, portable = Sm2PublicKey(point), Sm2PublicKey(point, use_openssl=False)
    damaged = _GOOD[:at] + bytes([_GOOD[at] ^ flip]) + _GOOD[at + 1 :]
    for signature, signed in ((_GOOD, _MESSAGE), (_GOOD, message), (damaged, _MESSAGE), (garbage, _MESSAGE)):
        assert fast.verify(signature, signed) == portable.verify(signature, signed)
    assert fast.verify(_GOOD, _MESSAGE)
