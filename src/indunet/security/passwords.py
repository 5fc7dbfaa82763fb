"""Argon2id hashing for everything secret that indunet keeps: passwords, API keys, device tokens."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# RFC 9106's second recommended option (64 MiB, 3 passes) for passwords typed by people.
_PEOPLE = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=1)
# Machine secrets carry 256 bits of entropy, so a brute-force cost buys nothing; a light setting keeps
# device connects cheap while the database still never holds a usable secret.
_MACHINES = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)

MAX_PASSWORD_LENGTH = 1024


def hash_secret(secret: str, *, machine: bool = False) -> str:
    return (_MACHINES if machine else _PEOPLE).hash(secret)


def verify_secret(stored_hash: str, secret: str) -> bool:
    if len(secret) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _PEOPLE.verify(stored_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
