"""Public keys of administrators (HS_PUBKEY values) and the signatures that answer challenges.

An administrator may prove itself with a key pair instead of a shared secret: the HS_PUBKEY value at
its index holds the public key, and its answer to a challenge is a signature over the nonce and the
request digest (the same octets a secret-key answer MACs).

HS_PUBKEY data, as Handle.Net lays it out (RFC 3651 leaves the format to the implementation; this
follows Handle.Net's, reconstructed without access to its source, and is tested against itself only):
a UTF8-String key type, two octets of flags (zero), then the key's numbers as byte arrays (big-endian,
unsigned):

- ``RSA_PUB_KEY``: exponent, modulus;
- ``DSA_PUB_KEY``: q, p, g, y;
- ``SM2_PUB_KEY`` (indunet's, for the national commercial algorithms): the uncompressed point
  ``04 || x || y`` on the SM2 curve (GB/T 32918).

A signature answer is a UTF8-String naming the algorithm and a byte array with the signature:
``SHA256withRSA`` (PKCS #1 v1.5), ``SHA256withDSA`` (DER), ``SM3withSM2`` (``r || s``, 64 octets, with
the default user id ``1234567812345678``).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, padding, rsa
from cryptography.utils import CryptographyDeprecationWarning

from indunet.idr.wire.errors import WireError
from indunet.idr.wire.primitives import Reader, Writer
from indunet.security.crypto import der
from indunet.security.crypto.keys import UnsupportedKey, der_of, load_private_key, private_pem
from indunet.security.crypto.sm2 import InvalidKey, Sm2PrivateKey, Sm2PublicKey

RSA: Final = "RSA_PUB_KEY"
DSA: Final = "DSA_PUB_KEY"
SM2: Final = "SM2_PUB_KEY"
SIGNATURES: Final = {RSA: "SHA256withRSA", DSA: "SHA256withDSA", SM2: "SM3withSM2"}
SM2_USER_ID: Final = b"1234567812345678"
MAX_KEY_BYTES: Final = 2048
"""Longest number accepted in a key (16,384 bits); longer keys are refused, not computed with."""


class PublicKeyError(ValueError):
    """Not a public key, private key or signature this module reads."""


@dataclass(frozen=True, slots=True)
class PublicKey:
    kind: str
    numbers: tuple[bytes, ...]


@contextlib.contextmanager
def _dsa() -> Iterator[None]:
    # cryptography deprecates DSA; Handle.Net's administrators still hold DSA keys, so it stays.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "DSA is deprecated", CryptographyDeprecationWarning)
        yield


with _dsa():
    _DSA_PRIVATE: Final = dsa.DSAPrivateKey


def _int_bytes(n: int) -> bytes:
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")


def encode_public(key: PublicKey) -> bytes:
    w = Writer().string(key.kind).u16(0)
    for number in key.numbers:
        w.byte_array(number)
    return w.getvalue()


def decode_public(data: bytes) -> PublicKey:
    try:
        r = Reader(data)
        kind = r.string("key type")
        r.u16("key flags")
        count = {RSA: 2, DSA: 4, SM2: 1}.get(kind)
        if count is None:
            raise PublicKeyError(f"key type {kind[:40]!r} is not RSA, DSA or SM2")
        numbers = tuple(r.byte_array("key number") for _ in range(count))
    except WireError as exc:
        raise PublicKeyError(f"not an HS_PUBKEY value: {exc}") from exc
    if any(len(n) > MAX_KEY_BYTES for n in numbers):
        raise PublicKeyError("key too long")
    if kind == SM2 and (len(numbers[0]) != 65 or numbers[0][0] != 4):
        raise PublicKeyError("an SM2 key is an uncompressed point of 65 octets")
    return PublicKey(kind, numbers)


# -- private keys: what a client signs with -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrivateKey:
    kind: str
    rsa_dsa: rsa.RSAPrivateKey | dsa.DSAPrivateKey | None = None
    sm2: Sm2PrivateKey | None = None

    def public(self) -> PublicKey:
        if self.sm2 is not None:
            return PublicKey(SM2, (self.sm2.public_key().point,))
        assert self.rsa_dsa is not None
        with _dsa():
            numbers = self.rsa_dsa.public_key().public_numbers()
        if isinstance(numbers, rsa.RSAPublicNumbers):
            return PublicKey(RSA, (_int_bytes(numbers.e), _int_bytes(numbers.n)))
        params = numbers.parameter_numbers
        return PublicKey(DSA, tuple(_int_bytes(n) for n in (params.q, params.p, params.g, numbers.y)))

    def to_pem(self) -> bytes:
        """PKCS #8 PEM (for SM2 as OpenSSL writes it: ``openssl pkey`` reads it)."""
        if self.sm2 is not None:
            return private_pem(load_private_key(self.sm2.to_der()))
        assert self.rsa_dsa is not None
        with _dsa():
            return self.rsa_dsa.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )


def generate(kind: str) -> PrivateKey:
    if kind == RSA:
        return PrivateKey(RSA, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    if kind == DSA:
        with _dsa():
            return PrivateKey(DSA, dsa.generate_private_key(key_size=2048))
    if kind == SM2:
        return PrivateKey(SM2, sm2=Sm2PrivateKey.generate(SM2_USER_ID))
    raise PublicKeyError(f"key type {kind!r} is not RSA, DSA or SM2")


def load_private(pem: bytes) -> PrivateKey:
    """A private key from :meth:`PrivateKey.to_pem`'s output, or any unencrypted RSA, DSA or SM2 PEM
    (SM2 as ``openssl genpkey -algorithm SM2`` writes it)."""
    try:
        secret, _ = der.decode_private_key(der_of(pem))
    except (der.DerError, UnsupportedKey):
        pass  # not SM2: RSA or DSA, or nothing (below)
    else:
        try:
            return PrivateKey(SM2, sm2=Sm2PrivateKey(secret.to_bytes(32, "big"), SM2_USER_ID))
        except (InvalidKey, OverflowError) as exc:
            raise PublicKeyError(f"not an SM2 private key: {exc}") from exc
    try:
        with _dsa():
            loaded = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise PublicKeyError(f"not an unencrypted PEM private key: {exc}") from exc
    if isinstance(loaded, rsa.RSAPrivateKey):
        return PrivateKey(RSA, loaded)
    if isinstance(loaded, _DSA_PRIVATE):
        return PrivateKey(DSA, loaded)
    raise PublicKeyError("only RSA, DSA and SM2 keys are supported")


# -- signatures --------------------------------------------------------------------------------------


def sign(key: PrivateKey, message: bytes) -> bytes:
    """The challenge answer: algorithm name and signature over ``message``."""
    if key.sm2 is not None:
        r, s = der.decode_signature(key.sm2.sign(message))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    elif isinstance(key.rsa_dsa, rsa.RSAPrivateKey):
        signature = key.rsa_dsa.sign(message, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(key.rsa_dsa, _DSA_PRIVATE)
        with _dsa():
            signature = key.rsa_dsa.sign(message, hashes.SHA256())
    return Writer().string(SIGNATURES[key.kind]).byte_array(signature).getvalue()


def verify(public_data: bytes, message: bytes, answer: bytes) -> bool:
    """Whether ``answer`` is a valid signature over ``message`` by the key in ``public_data``; False
    for anything malformed (a bad answer is a failed authentication, never an error)."""
    try:
        key = decode_public(public_data)
        r = Reader(answer)
        algorithm = r.string("signature algorithm")
        signature = r.byte_array("signature")
    except (PublicKeyError, WireError):
        return False
    if algorithm != SIGNATURES[key.kind]:
        return False
    numbers = [int.from_bytes(n, "big") for n in key.numbers]
    try:
        if key.kind == RSA:
            rsa.RSAPublicNumbers(numbers[0], numbers[1]).public_key().verify(
                signature, message, padding.PKCS1v15(), hashes.SHA256()
            )
            return True
        if key.kind == DSA:
            q, p, g, y = numbers
            with _dsa():
                dsa.DSAPublicNumbers(y, dsa.DSAParameterNumbers(p, q, g)).public_key().verify(
                    signature, message, hashes.SHA256()
                )
            return True
        if len(signature) != 64:
            return False
        encoded = der.encode_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        return Sm2PublicKey(key.numbers[0], SM2_USER_ID).verify(encoded, message)
    except (InvalidSignature, InvalidKey, ValueError, ArithmeticError):
        return False
    except Exception:  # a library's own error on a hostile key: still just "not verified"
        return False
