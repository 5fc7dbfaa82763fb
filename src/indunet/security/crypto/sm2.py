"""SM2 (GB/T 32918): signatures with the user id and ZA rules, public-key encryption, key exchange.

Backed by ``gmalglib`` (C), chosen by measurement among the SM2 implementations on PyPI: it passes the
standard's examples, its signatures and ciphertexts cross-verify with OpenSSL 3 both ways, and it
is the fastest that does all three parts (see docs/security.md). Verification goes to the system's
OpenSSL 3 where it has SM2 (:mod:`.openssl_sm2`), which verifies faster still. Formats are OpenSSL's:

- signatures are DER ``SEQUENCE { r, s }`` over ``SM3(ZA || message)``, ZA computed from the signer's
  user id (default ``1234567812345678``, GB/T 35276) and public key;
- ciphertexts are DER ``SEQUENCE { x, y, C3, C2 }`` (GM/T 0009, C1C3C2 order);
- public keys are uncompressed points ``04 || x || y``; private keys 32-octet big-endian scalars.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gmalglib.sm2 import SM2 as _SM2

from indunet.security.crypto import der, openssl_sm2

DEFAULT_USER_ID = b"1234567812345678"
MAX_USER_ID = 1024
POINT_SIZE = 65
SCALAR_SIZE = 32


def _not_yet(_signature: bytes, _message: bytes) -> bool:
    raise AssertionError("placeholder, never called")


_NOT_YET: Callable[[bytes, bytes], bool] = _not_yet


class InvalidKey(ValueError):
    """Not an SM2 key: wrong length, not on the curve, or out of range."""


def _checked_point(point: bytes) -> bytes:
    if len(point) != POINT_SIZE or point[0] != 4 or not _SM2.is_pk_valid(point):
        raise InvalidKey("an SM2 public key is an uncompressed point on the curve (04 || x || y)")
    return point


def _checked_uid(user_id: bytes) -> bytes:
    if not user_id or len(user_id) > MAX_USER_ID:
        raise ValueError(f"an SM2 user id is 1 to {MAX_USER_ID} octets")
    return user_id


@dataclass(frozen=True, slots=True)
class Sm2PublicKey:
    """A public key; verification goes to the system's OpenSSL 3 when it has SM2 (faster, and off
    the GIL), to gmalglib otherwise (``use_openssl=False`` forces that, for comparison)."""

    point: bytes
    user_id: bytes = DEFAULT_USER_ID
    use_openssl: bool = field(default=True, repr=False, compare=False)
    _engine: _SM2 = field(init=False, repr=False, compare=False)
    _openssl: Callable[[bytes, bytes], bool] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        engine = _SM2(pk=_checked_point(self.point), uid=_checked_uid(self.user_id))
        object.__setattr__(self, "_engine", engine)
        object.__setattr__(self, "_openssl", _NOT_YET if self.use_openssl else None)

    def _fast(self) -> Callable[[bytes, bytes], bool] | None:
        # Made on the first verification: a key only carried (or only encrypted to) costs nothing.
        if self._openssl is _NOT_YET:
            object.__setattr__(self, "_openssl", openssl_sm2.verifier(self.to_der(), self.user_id))
        return self._openssl

    @property
    def verified_by(self) -> str:
        return "openssl" if self._fast() is not None else "gmalglib"

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Whether ``signature`` (DER) is this key's over ``message``; False for malformed signatures."""
        try:
            r, s = der.decode_signature(signature)
        except der.DerError:
            return False
        if not (0 < r < 2**256 and 0 < s < 2**256):
            return False
        fast = self._fast()
        if fast is not None:
            return fast(signature, message)
        return bool(self._engine.verify(message, r.to_bytes(32, "big") + s.to_bytes(32, "big")))

    def encrypt(self, plaintext: bytes) -> bytes:
        raw = self._engine.encrypt(plaintext)  # 04 || x || y || C3 || C2
        x, y = int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:65], "big")
        return der.sequence(
            der.integer(x),
            der.integer(y),
            der.tlv(der.OCTET_STRING, raw[65:97]),
            der.tlv(der.OCTET_STRING, raw[97:]),
        )

    def to_der(self) -> bytes:
        return der.encode_public_key(self.point)


@dataclass(frozen=True, slots=True)
class Sm2PrivateKey:
    secret: bytes = field(repr=False)  # never in a log line or a traceback
    user_id: bytes = DEFAULT_USER_ID
    _engine: _SM2 = field(init=False, repr=False, compare=False)
    _random: Callable[[int], bytes] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.secret) != SCALAR_SIZE or not _SM2.is_sk_valid(self.secret):
            raise InvalidKey("an SM2 private key is a 32-octet scalar in 1..n-2")
        uid = _checked_uid(self.user_id)
        # A fixed random source is for the standard's known-answer examples only.
        engine = (
            _SM2(sk=self.secret, uid=uid)
            if self._random is None
            else _SM2(sk=self.secret, uid=uid, rnd_fn=self._random)
        )
        object.__setattr__(self, "_engine", engine)

    @classmethod
    def generate(cls, user_id: bytes = DEFAULT_USER_ID) -> Sm2PrivateKey:
        secret, _ = _SM2().generate_keypair()
        return cls(secret, user_id)

    def public_key(self) -> Sm2PublicKey:
        return Sm2PublicKey(_SM2.get_pk(self.secret), self.user_id)

    def sign(self, message: bytes) -> bytes:
        raw = self._engine.sign(message)
        return der.encode_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))

    def decrypt(self, ciphertext: bytes) -> bytes:
        """The plaintext of a DER ciphertext; ValueError when it is malformed or not for this key."""
        try:
            parts = der.items(der.read_only(ciphertext, der.SEQUENCE))
            if len(parts) != 4 or parts[2].tag != der.OCTET_STRING or parts[3].tag != der.OCTET_STRING:
                raise der.DerError("an SM2 ciphertext is SEQUENCE { x, y, C3, C2 }")
            x, y = der.read_integer(parts[0]), der.read_integer(parts[1])
            if x >= 2**256 or y >= 2**256 or len(parts[2].content) != 32:
                raise der.DerError("an SM2 ciphertext's point or hash is out of range")
            raw = (
                b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big") + parts[2].content + parts[3].content
            )
            return bytes(self._engine.decrypt(raw))
        except der.DerError:
            raise
        except ValueError as exc:
            raise ValueError(f"SM2 decryption failed: {exc}") from None

    def to_der(self) -> bytes:
        return der.encode_private_key(int.from_bytes(self.secret, "big"), _SM2.get_pk(self.secret))


# -- key exchange (GB/T 32918.3) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyExchange:
    """One side of an SM2 key exchange: send :attr:`ephemeral` (the point R) to the other side, then
    :meth:`finish` with theirs. Both sides derive the same key; key confirmation is the caller's (a MAC
    under the derived key over both ephemeral points, say)."""

    own: Sm2PrivateKey
    responder: bool
    _t: bytes = field(repr=False)
    ephemeral: bytes

    @classmethod
    def begin(cls, own: Sm2PrivateKey, *, responder: bool) -> KeyExchange:
        t, point = own._engine.begin_key_exchange()
        return cls(own, responder, t, point)

    def finish(self, peer: Sm2PublicKey, peer_ephemeral: bytes, length: int = 16) -> bytes:
        _checked_point(peer_ephemeral)
        if not 1 <= length <= 1024:
            raise ValueError("a derived key is 1 to 1024 octets")
        key = self.own._engine.end_key_exchange(
            self._t, peer_ephemeral, peer.point, self.responder, length, peer.user_id
        )
        return bytes(key)
