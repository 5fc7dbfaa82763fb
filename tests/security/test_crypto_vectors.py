"""Known answers from the standards: SM3 (GB/T 32905 A.1), SM4 (GB/T 32907 A.1 and A.2, the
1,000,000-fold encryption), SM2 (GB/T 32918.5 annexes: the signature with a fixed k, and the
encryption with a fixed k), and OpenSSL's HMAC-SM3."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from indunet.security.crypto import der, sm4
from indunet.security.crypto.sm2 import Sm2PrivateKey, Sm2PublicKey
from indunet.security.crypto.sm3 import hmac_sm3, sm3

SM4_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")

# GB/T 32918.5-2017 (SM2 with the recommended curve): the example's private key, public key and k.
EXAMPLE_D = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
EXAMPLE_P = bytes.fromhex(
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
EXAMPLE_K = bytes.fromhex("59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21")
EXAMPLE_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
EXAMPLE_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA
EXAMPLE_CIPHER = bytes.fromhex(
    "04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73"
    "E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0"
    "59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766"
    "21886CA989CA9C7D58087307CA93092D651EFA"
)


def _fixed_k(_n: int) -> bytes:
    return EXAMPLE_K[::-1]  # gmalglib takes its random octets little-endian


def test_sm3_of_abc_and_of_the_64_octet_message() -> None:
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_hmac_sm3_matches_openssl() -> None:
    # printf abc | openssl mac -digest SM3 -macopt key:k HMAC
    assert hmac_sm3(b"k", b"abc").hex() == "af684d81732e81f6a9c5dd0aa68f27667b36debcebe29e094a654c3d496a898a"


def test_sm4_one_block_and_a_million_times_over() -> None:
    encryptor = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).encryptor()  # noqa: S305 - known-answer test
    block = SM4_KEY
    assert encryptor.update(block).hex() == "681edf34d206965e86b3e94f536e4246"
    for _ in range(1_000_000):
        block = encryptor.update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


def test_sm4_gcm_seals_and_refuses_any_alteration() -> None:
    key = sm4.new_key()
    sealed = sm4.seal(key, b"device secret", b"88.100.1/pump-7")
    assert len(sealed) == 12 + len(b"device secret") + 16
    assert sm4.open_sealed(key, sealed, b"88.100.1/pump-7") == b"device secret"
    flipped = bytes([sealed[20] ^ 1])
    with pytest.raises(sm4.DecryptionFailed):
        sm4.open_sealed(key, sealed[:20] + flipped + sealed[21:], b"88.100.1/pump-7")
    with pytest.raises(sm4.DecryptionFailed):
        sm4.open_sealed(key, sealed, b"88.100.1/pump-8")  # moved to another record
    with pytest.raises(sm4.DecryptionFailed):
        sm4.open_sealed(sm4.new_key(), sealed, b"88.100.1/pump-7")
    assert sm4.seal(key, b"x") != sm4.seal(key, b"x")  # a fresh nonce every time


def test_sm4_cbc_round_trips_and_refuses_bad_padding() -> None:
    iv = bytes(16)
    encrypted = sm4.encrypt_cbc(SM4_KEY, iv, b"sixteen octets!!")
    assert len(encrypted) == 32 and sm4.decrypt_cbc(SM4_KEY, iv, encrypted) == b"sixteen octets!!"
    with pytest.raises(sm4.DecryptionFailed):
        sm4.decrypt_cbc(bytes(16), iv, encrypted)
    with pytest.raises(sm4.DecryptionFailed):
        sm4.decrypt_cbc(SM4_KEY, iv, encrypted[:-1])


def test_sm2_signature_of_the_standard_example() -> None:
    key = Sm2PrivateKey(EXAMPLE_D, _random=_fixed_k)
    assert key.public_key().point == EXAMPLE_P
    signature = key.sign(b"message digest")
    assert der.decode_signature(signature) == (EXAMPLE_R, EXAMPLE_S)
    public = Sm2PublicKey(EXAMPLE_P)
    assert public.verify(signature, b"message digest")
    assert not public.verify(signature, b"message digesT")
    assert not Sm2PublicKey(EXAMPLE_P, b"another user").verify(
        signature, b"message digest"
    )  # ZA binds the id


def test_sm2_encryption_of_the_standard_example() -> None:
    key = Sm2PrivateKey(EXAMPLE_D)
    x, y, c3, c2 = (EXAMPLE_CIPHER[i:j] for i, j in ((0, 32), (32, 64), (64, 96), (96, None)))
    as_der = der.sequence(
        der.integer(int.from_bytes(x, "big")),
        der.integer(int.from_bytes(y, "big")),
        der.tlv(der.OCTET_STRING, c3),
        der.tlv(der.OCTET_STRING, c2),
    )
    assert key.decrypt(as_der) == b"encryption standard"
