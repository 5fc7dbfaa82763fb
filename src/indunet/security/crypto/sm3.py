"""SM3 (GB/T 32905-2016), a 256-bit hash, and HMAC over it (RFC 2104 construction)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hmac

DIGEST_SIZE = 32


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()
