"""Signing keys with one interface, so that the algorithm is configuration.

:func:`generate` makes a key of an :class:`Algorithm`; :func:`load_private_key` and
:func:`load_public_key` read PEM or DER (PKCS#8 / SubjectPublicKeyInfo, and SEC 1 ``EC PRIVATE KEY``
for SM2, as ``openssl`` writes them); keys write themselves back with ``to_pem``/``to_der``.
Signatures are what each algorithm's standard and OpenSSL use: DER ``SEQUENCE { r, s }`` for SM2
(over ``SM3(ZA || message)``) and ECDSA P-256 (over SHA-256), 64 octets for Ed25519.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from indunet.security.crypto import der
from indunet.security.crypto.sm2 import DEFAULT_USER_ID, InvalidKey, Sm2PrivateKey, Sm2PublicKey

MAX_KEY_FILE = 16 * 1024


class Algorithm(StrEnum):
    SM2 = "sm2"
    ED25519 = "ed25519"
    ECDSA_P256 = "ecdsa-p256"


class UnsupportedKey(ValueError):
    """Not a key of a supported algorithm, or not a key at all."""


class PublicKey(Protocol):
    @property
    def algorithm(self) -> Algorithm: ...

    def verify(self, signature: bytes, message: bytes) -> bool: ...

    def to_der(self) -> bytes: ...

    def raw(self) -> bytes:
        """The key's own octets: the uncompressed point (SM2, ECDSA) or the 32 octets (Ed25519)."""
        ...


class PrivateKey(Protocol):
    @property
    def algorithm(self) -> Algorithm: ...

    def sign(self, message: bytes) -> bytes: ...

    def public_key(self) -> PublicKey: ...

    def to_der(self) -> bytes: ...


# -- SM2 -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Sm2Public:
    key: Sm2PublicKey
    algorithm: Algorithm = Algorithm.SM2

    def verify(self, signature: bytes, message: bytes) -> bool:
        return self.key.verify(signature, message)

    def to_der(self) -> bytes:
        return self.key.to_der()

    def raw(self) -> bytes:
        return self.key.point


@dataclass(frozen=True, slots=True)
class _Sm2Private:
    key: Sm2PrivateKey
    algorithm: Algorithm = Algorithm.SM2

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)

    def public_key(self) -> PublicKey:
        return _Sm2Public(self.key.public_key())

    def to_der(self) -> bytes:
        return self.key.to_der()


# -- Ed25519 and ECDSA P-256 (the `cryptography` package) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ed25519Public:
    key: ed25519.Ed25519PublicKey
    algorithm: Algorithm = Algorithm.ED25519

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            self.key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def to_der(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def raw(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True, slots=True)
class _EcdsaPublic:
    key: ec.EllipticCurvePublicKey
    algorithm: Algorithm = Algorithm.ECDSA_P256

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            self.key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_der(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def raw(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )


def _pkcs8(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True, slots=True)
class _Ed25519Private:
    key: ed25519.Ed25519PrivateKey
    algorithm: Algorithm = Algorithm.ED25519

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)

    def public_key(self) -> PublicKey:
        return _Ed25519Public(self.key.public_key())

    def to_der(self) -> bytes:
        return _pkcs8(self.key)


@dataclass(frozen=True, slots=True)
class _EcdsaPrivate:
    key: ec.EllipticCurvePrivateKey
    algorithm: Algorithm = Algorithm.ECDSA_P256

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message, ec.ECDSA(hashes.SHA256()))

    def public_key(self) -> PublicKey:
        return _EcdsaPublic(self.key.public_key())

    def to_der(self) -> bytes:
        return _pkcs8(self.key)


# -- making, reading and writing keys -------------------------------------------------------------------


def generate(algorithm: Algorithm | str, *, user_id: bytes = DEFAULT_USER_ID) -> PrivateKey:
    """A new key; ``user_id`` is SM2's signer identity (ZA), ignored by the others."""
    match Algorithm(algorithm):
        case Algorithm.SM2:
            return _Sm2Private(Sm2PrivateKey.generate(user_id))
        case Algorithm.ED25519:
            return _Ed25519Private(ed25519.Ed25519PrivateKey.generate())
        case Algorithm.ECDSA_P256:
            return _EcdsaPrivate(ec.generate_private_key(ec.SECP256R1()))


_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.DOTALL)


def der_of(data: bytes) -> bytes:
    """The DER body of a PEM block, or ``data`` itself when it is DER already."""
    if len(data) > MAX_KEY_FILE:
        raise UnsupportedKey(f"a key file is at most {MAX_KEY_FILE} octets")
    found = _PEM.search(data)
    if found is None:
        if data.lstrip().startswith(b"-----"):
            raise UnsupportedKey("malformed PEM")
        return data
    try:
        return base64.b64decode(b"".join(found.group(2).split()), validate=True)
    except binascii.Error:
        raise UnsupportedKey("malformed PEM: not base64") from None


def _pem(label: str, body: bytes) -> bytes:
    text = base64.b64encode(body).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode()


def private_pem(key: PrivateKey) -> bytes:
    return _pem("PRIVATE KEY", key.to_der())


def public_pem(key: PublicKey) -> bytes:
    return _pem("PUBLIC KEY", key.to_der())


def load_private_key(data: bytes, *, user_id: bytes = DEFAULT_USER_ID) -> PrivateKey:
    body = der_of(data)
    try:
        secret, _ = der.decode_private_key(body)
    except der.DerError:
        pass  # not SM2: the other algorithms below
    else:
        try:
            return _Sm2Private(Sm2PrivateKey(secret.to_bytes(32, "big"), user_id))
        except (InvalidKey, OverflowError):
            raise UnsupportedKey("an SM2 private key out of range") from None
    try:
        loaded = serialization.load_der_private_key(body, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise UnsupportedKey("not an unencrypted SM2, Ed25519 or ECDSA P-256 private key") from None
    if isinstance(loaded, ed25519.Ed25519PrivateKey):
        return _Ed25519Private(loaded)
    if isinstance(loaded, ec.EllipticCurvePrivateKey) and isinstance(loaded.curve, ec.SECP256R1):
        return _EcdsaPrivate(loaded)
    raise UnsupportedKey(f"{type(loaded).__name__} keys are not supported (SM2, Ed25519, ECDSA P-256)")


def load_public_key(data: bytes, *, user_id: bytes = DEFAULT_USER_ID) -> PublicKey:
    body = der_of(data)
    try:
        point = der.decode_public_key(body)
    except der.DerError:
        pass
    else:
        try:
            return _Sm2Public(Sm2PublicKey(point, user_id))
        except InvalidKey:
            raise UnsupportedKey("an SM2 public key not on the curve") from None
    try:
        loaded = serialization.load_der_public_key(body)
    except (ValueError, UnsupportedAlgorithm):
        raise UnsupportedKey("not an SM2, Ed25519 or ECDSA P-256 public key") from None
    if isinstance(loaded, ed25519.Ed25519PublicKey):
        return _Ed25519Public(loaded)
    if isinstance(loaded, ec.EllipticCurvePublicKey) and isinstance(loaded.curve, ec.SECP256R1):
        return _EcdsaPublic(loaded)
    raise UnsupportedKey(f"{type(loaded).__name__} keys are not supported (SM2, Ed25519, ECDSA P-256)")


def as_sm2(key: PrivateKey) -> Sm2PrivateKey:
    """The SM2 key inside ``key``, for what only SM2 does (decryption, key exchange)."""
    if not isinstance(key, _Sm2Private):
        raise UnsupportedKey(f"an {key.algorithm} key is not an SM2 key")
    return key.key


def own_key(path: Path, algorithm: Algorithm = Algorithm.SM2) -> PrivateKey:
    """The key kept at ``path``, made there on first use (PEM, readable by its owner only)."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_pem(generate(algorithm)))
    return load_private_key(path.read_bytes())


def public_key_from_raw(
    algorithm: Algorithm | str, raw: bytes, *, user_id: bytes = DEFAULT_USER_ID
) -> PublicKey:
    """A public key from its own octets (:meth:`PublicKey.raw`)."""
    try:
        match Algorithm(algorithm):
            case Algorithm.SM2:
                return _Sm2Public(Sm2PublicKey(raw, user_id))
            case Algorithm.ED25519:
                return _Ed25519Public(ed25519.Ed25519PublicKey.from_public_bytes(raw))
            case Algorithm.ECDSA_P256:
                return _EcdsaPublic(ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw))
    except ValueError as exc:
        raise UnsupportedKey(f"not a {algorithm} public key: {exc}") from None
