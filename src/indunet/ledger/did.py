"""BID identifiers (``did:bid:...``, the W3C DID method of the national "Xinghuo" blockchain
infrastructure) derived from public keys, for the entities the ledger names.

A BID is ``did:bid:`` + [AC code ``:``] + key type (``e`` Ed25519, ``z`` SM2) + encoding (``f``,
Base58) + the Base58 of the last 22 octets of the public key's hash (SHA-256 for Ed25519, SM3 for
SM2; the key as raw octets, SM2's as the uncompressed point).
"""

from __future__ import annotations

import hashlib
import re

from indunet.security.crypto.keys import Algorithm, PublicKey, UnsupportedKey
from indunet.security.crypto.sm3 import sm3

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_TYPES = {Algorithm.ED25519: "e", Algorithm.SM2: "z"}
PATTERN = re.compile(r"did:bid:(?:[a-z0-9]{4}:)?[ez]f[1-9A-HJ-NP-Za-km-z]{22,31}")


def base58(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, digit = divmod(n, 58)
        out = _ALPHABET[digit] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def bid_of(key: PublicKey, chain: str | None = None) -> str:
    """The BID of ``key`` (on a sub-chain when ``chain``, its four-character AC code, is given)."""
    kind = _TYPES.get(key.algorithm)
    if kind is None:
        raise UnsupportedKey(f"BIDs are made of Ed25519 and SM2 keys, not {key.algorithm}")
    digest = sm3(key.raw()) if key.algorithm is Algorithm.SM2 else hashlib.sha256(key.raw()).digest()
    if chain is not None and not re.fullmatch(r"[a-z0-9]{4}", chain):
        raise ValueError("an AC code is four lower-case letters or digits")
    return "did:bid:" + (f"{chain}:" if chain else "") + kind + "f" + base58(digest[-22:])


def is_bid(text: str) -> bool:
    return PATTERN.fullmatch(text) is not None
