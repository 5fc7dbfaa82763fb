"""Administrators with key pairs: HS_PUBKEY values, signatures over challenges (RSA, DSA, SM2), and
the protocol accepting the right key and refusing every other."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.idr import client, pubkey, records
from indunet.idr.bootstrap import ensure_prefix
from indunet.idr.model import HandleValue
from indunet.idr.server import IdrServer
from indunet.idr.service import Service
from indunet.idr.store import open_store
from indunet.idr.wire import CreateHandleRequest, ResponseCode
from indunet.idr.wire.values import AdminPermission, AdminRecord, encode_admin

KINDS = (pubkey.RSA, pubkey.DSA, pubkey.SM2)


@pytest.fixture(scope="module")
def keys() -> dict[str, pubkey.PrivateKey]:
    return {kind: pubkey.generate(kind) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_a_signature_verifies_with_its_key_only(keys: dict[str, pubkey.PrivateKey], kind: str) -> None:
    key = keys[kind]
    public = pubkey.encode_public(key.public())
    assert pubkey.decode_public(public) == key.public()
    answer = pubkey.sign(key, b"nonce and digest")
    assert pubkey.verify(public, b"nonce and digest", answer)
    assert not pubkey.verify(public, b"nonce and digesT", answer)
    other = next(k for k in KINDS if k != kind)
    assert not pubkey.verify(pubkey.encode_public(keys[other].public()), b"nonce and digest", answer)
    # The same kind of key, another pair: refused too.
    stranger = pubkey.generate(kind) if kind != pubkey.DSA else None
    if stranger is not None:
        assert not pubkey.verify(pubkey.encode_public(stranger.public()), b"nonce and digest", answer)
    # The private key survives its file.
    reloaded = pubkey.load_private(key.to_pem())
    assert pubkey.verify(public, b"again", pubkey.sign(reloaded, b"again"))


def test_sm2_signatures_name_their_algorithm(keys: dict[str, pubkey.PrivateKey]) -> None:
    from indunet.idr.wire.primitives import Reader, Writer

    answer = pubkey.sign(keys[pubkey.SM2], b"m")
    reader = Reader(answer)
    assert reader.string() == "SM3withSM2" and len(reader.byte_array()) == 64
    relabelled = Writer().string("SHA256withRSA").byte_array(answer[-64:]).getvalue()
    assert not pubkey.verify(pubkey.encode_public(keys[pubkey.SM2].public()), b"m", relabelled)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_garbage_keys_and_answers_never_verify_and_never_raise(key: bytes, answer: bytes) -> None:
    assert pubkey.verify(key, b"m", answer) is False


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(KINDS), st.lists(st.binary(max_size=80), min_size=1, max_size=4), st.binary(max_size=80)
)
def test_well_formed_but_hostile_keys_never_verify(kind: str, numbers: list[bytes], signature: bytes) -> None:
    from indunet.idr.wire.primitives import Writer

    key = pubkey.encode_public(pubkey.PublicKey(kind, tuple(numbers)))
    answer = Writer().string(pubkey.SIGNATURES[kind]).byte_array(signature).getvalue()
    assert pubkey.verify(key, b"m", answer) is False


def test_unreadable_key_files_are_refused() -> None:
    with pytest.raises(pubkey.PublicKeyError):
        pubkey.load_private(b"-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
    with pytest.raises(pubkey.PublicKeyError):
        pubkey.decode_public(b"\x00\x00\x00\x03XYZ\x00\x00")


@pytest.mark.parametrize("kind", KINDS)
def test_an_administrator_with_a_key_pair_administers_over_the_protocol(
    tmp_path: Path, keys: dict[str, pubkey.PrivateKey], kind: str
) -> None:
    store = open_store(tmp_path / "idr.db")
    ensure_prefix(store, "88.100.1", b"secret", public_key=pubkey.encode_public(keys[kind].public()))
    admin = ("0.NA/88.100.1", 301)
    owner = HandleValue(100, "HS_ADMIN", encode_admin(AdminRecord(AdminPermission.all(), *admin)))
    other = next(k for k in KINDS if k != kind)

    async def main() -> None:
        server = await IdrServer(Service(store, ("88.100.1",)), "127.0.0.1", 0).start()
        try:
            request = CreateHandleRequest("88.100.1/signed", (HandleValue(1, "URL", b"https://s"), owner))
            with pytest.raises(client.ClientError) as wrong:
                await client.administer("127.0.0.1", server.port, request, admin, private_key=keys[other])
            assert wrong.value.code == ResponseCode.RC_AUTHEN_FAILED
            # A secret-key answer does not pass for a public key at that index, nor the reverse.
            with pytest.raises(client.ClientError):
                await client.administer("127.0.0.1", server.port, request, admin, b"secret")
            with pytest.raises(client.ClientError):
                await client.administer(
                    "127.0.0.1", server.port, request, ("0.NA/88.100.1", 300), private_key=keys[kind]
                )
            await client.administer("127.0.0.1", server.port, request, admin, private_key=keys[kind])
        finally:
            await server.stop()

    asyncio.run(main())
    assert records.resolve(store, "88.100.1/signed")[0].data == b"https://s"
