"""Opaque machine secrets (API keys, device access tokens).

Shape: ``<kind>_<id>_<secret>``, e.g. ``ink_3f0c...`` for API keys and ``dev_...`` for devices. The id
part finds the row without a scan; only an Argon2 hash of the secret part is stored. A device token
works as an MQTT user name or HTTP bearer token exactly like a ThingsBoard access token.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass

KINDS = ("ink", "dev")
_HEX32 = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class SecretToken:
    kind: str
    id: str
    secret: str

    def __str__(self) -> str:
        return f"{self.kind}_{self.id.replace('-', '')}_{self.secret}"


def new_secret_token(kind: str) -> SecretToken:
    if kind not in KINDS:
        raise ValueError(f"unknown token kind {kind!r}")
    return SecretToken(kind, str(uuid.uuid4()), secrets.token_urlsafe(32))


def parse_secret_token(text: str) -> SecretToken | None:
    """The parts of a well-formed token, or None: callers answer 401 without touching the database."""
    if len(text) > 200:
        return None
    parts = text.split("_", 2)
    # Exactly 32 lower-case hex digits: uuid.UUID alone would also take "0x", "+" or spaces, giving
    # one credential several spellings.
    if len(parts) != 3 or parts[0] not in KINDS or not _HEX32.fullmatch(parts[1]) or not parts[2]:
        return None
    try:
        token_id = str(uuid.UUID(hex=parts[1]))
    except ValueError:
        return None
    return SecretToken(parts[0], token_id, parts[2])
