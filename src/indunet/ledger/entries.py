"""What the ledger records: allocations, transfers and revocations of identifier prefixes, and
optionally identifier registrations, as canonical JSON (keys sorted, no spaces), so that the octets
hashed into the tree are the same wherever the entry is rebuilt."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from indunet.ledger.store import MAX_ENTRY
from indunet.security.documents import canonical


class Kind(StrEnum):
    ALLOCATION = "allocation"
    TRANSFER = "transfer"
    REVOCATION = "revocation"
    REGISTRATION = "registration"
    """An identifier created, or its public values changed."""
    DELETION = "deletion"
    """An identifier deleted."""


class BadEntry(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    kind: Kind
    subject: str
    """The prefix (allocation, transfer, revocation) or identifier (registration)."""
    by: str
    """Who recorded it: the log's node, by its BID or name."""
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))
    detail: dict[str, Any] = field(default_factory=dict)
    """Kind-specific: the holder, its sites and key digest, a reason, the record's digest."""

    def encode(self) -> bytes:
        body = canonical(
            {
                "kind": str(self.kind),
                "subject": self.subject,
                "by": self.by,
                "at": self.at,
                "detail": self.detail,
            }
        )
        if len(body) > MAX_ENTRY:
            raise BadEntry(f"a ledger entry is at most {MAX_ENTRY} octets")
        return body


def decode(body: bytes) -> LedgerEntry:
    try:
        raw = json.loads(body)
        entry = LedgerEntry(
            Kind(raw["kind"]), str(raw["subject"]), str(raw["by"]), str(raw["at"]), dict(raw["detail"])
        )
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise BadEntry(f"not a ledger entry: {exc}") from None
    if entry.encode() != body:
        raise BadEntry("not in canonical form (re-encoding gives other octets)")
    return entry
