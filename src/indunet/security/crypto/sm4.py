"""SM4 (GB/T 32907-2016), the 128-bit block cipher, in the two modes indunet uses.

- GCM (authenticated encryption): what data at rest uses. :func:`seal` returns ``nonce || ciphertext
  || tag`` (12 + n + 16 octets) with a fresh random nonce; :func:`open_sealed` checks the tag (and any
  associated data) before returning a single octet, and raises :class:`DecryptionFailed` otherwise.
- CBC with PKCS#7 padding: for exchanges with systems that expect it. It is not authenticated:
  pair it with a MAC (:func:`indunet.security.crypto.sm3.hmac_sm3`).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KEY_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
BLOCK_SIZE = 16


class DecryptionFailed(ValueError):
    """Wrong key, altered octets or altered associated data: nothing is returned."""


def new_key() -> bytes:
    return os.urandom(KEY_SIZE)


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise ValueError(f"an SM4 key is {KEY_SIZE} octets, not {len(key)}")


def seal(key: bytes, plaintext: bytes, associated: bytes = b"", nonce: bytes | None = None) -> bytes:
    """SM4-GCM: ``nonce || ciphertext || tag``. ``nonce`` is for known-answer tests only: reusing
    one with the same key gives the keystream away."""
    _check_key(key)
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"an SM4-GCM nonce is {NONCE_SIZE} octets")
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(associated)
    body = encryptor.update(plaintext) + encryptor.finalize()
    return nonce + body + encryptor.tag


def open_sealed(key: bytes, sealed: bytes, associated: bytes = b"") -> bytes:
    _check_key(key)
    if len(sealed) < NONCE_SIZE + TAG_SIZE:
        raise DecryptionFailed("too short to be SM4-GCM output")
    nonce, body, tag = sealed[:NONCE_SIZE], sealed[NONCE_SIZE:-TAG_SIZE], sealed[-TAG_SIZE:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(associated)
    try:
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag:
        raise DecryptionFailed("SM4-GCM tag does not match: wrong key or altered data") from None


def encrypt_cbc(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    _check_key(key)
    padder = padding.PKCS7(BLOCK_SIZE * 8).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.SM4(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def decrypt_cbc(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    _check_key(key)
    if not ciphertext or len(ciphertext) % BLOCK_SIZE:
        raise DecryptionFailed("SM4-CBC ciphertext is a non-empty multiple of 16 octets")
    decryptor = Cipher(algorithms.SM4(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(BLOCK_SIZE * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise DecryptionFailed("SM4-CBC padding is wrong: wrong key or altered data") from None
