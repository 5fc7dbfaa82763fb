"""A ledger's HTTP API (``/api/v1/ledger``) from the outside: what auditors, witnesses and the
platform's console read. Nothing here is trusted: callers check heads' signatures and proofs."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import httpx

PAGE = 1000
"""Entries per request (the API's own limit)."""


@dataclass
class LedgerClient:
    base_url: str
    client: httpx.Client

    def _get(self, path: str, **params: int) -> object:
        response = self.client.get(f"{self.base_url.rstrip('/')}{path}", params=params)
        response.raise_for_status()
        return response.json()

    def head(self) -> bytes:
        """The latest signed tree head, as the octets that were signed."""
        # Served as a JSON object; what was signed is its canonical form: serialise it the same way.
        found = self._get("/head")
        return json.dumps(found, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def heads(self) -> list[bytes]:
        found = self._get("/heads")
        return [str(item).encode() for item in found] if isinstance(found, list) else []

    def cosignatures(self, size: int | None = None) -> list[bytes]:
        found = self._get("/cosignatures") if size is None else self._get("/cosignatures", size=size)
        return [str(item).encode() for item in found] if isinstance(found, list) else []

    def entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """Entries ``start`` to ``end`` (at most :data:`PAGE`), as (sequence number, octets)."""
        found = self._get("/entries", start=start, end=end)
        if not isinstance(found, list):
            return []
        return [(int(item["seq"]), base64.b64decode(item["body"])) for item in found]

    def inclusion(self, seq: int, size: int) -> list[bytes]:
        found = self._get("/proof/inclusion", seq=seq, size=size)
        return [bytes.fromhex(p) for p in found["path"]] if isinstance(found, dict) else []

    def consistency(self, old: int, new: int) -> list[bytes]:
        found = self._get("/proof/consistency", old=old, new=new)
        return [bytes.fromhex(p) for p in found["path"]] if isinstance(found, dict) else []

    def submit_cosignature(self, raw: bytes) -> None:
        self.client.post(f"{self.base_url.rstrip('/')}/cosignatures", content=raw).raise_for_status()
