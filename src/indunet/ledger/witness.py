"""A witness ("fusion" node): it fetches a log's tree heads, checks each against the last one it
saw with a consistency proof, and cosigns what holds. A log that shows two different trees (a head
inconsistent with an earlier one, or two roots for one size) is a split view: :class:`SplitView`,
with both signed heads as evidence, and no cosignature.

The witness keeps the last head it accepted per log in a small JSON file, written atomically, so a
restart cannot be talked into accepting a history it already saw differently.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from indunet.ledger import merkle
from indunet.ledger.client import LedgerClient
from indunet.ledger.heads import Cosignature, TreeHead
from indunet.security.crypto.keys import PrivateKey

Consistency = Callable[[int, int], list[bytes]]


class SplitView(Exception):
    """The log showed this witness two histories that cannot both be true."""

    def __init__(self, reason: str, seen: bytes, shown: bytes) -> None:
        super().__init__(reason)
        self.reason = reason
        self.seen = seen
        self.shown = shown
        self.evidence_path: Path | None = None
        """Where the evidence was written, once it was."""

    def evidence(self) -> dict[str, str]:
        return {"reason": self.reason, "seen": self.seen.decode(), "shown": self.shown.decode()}


@dataclass
class Witness:
    key: PrivateKey
    state_path: Path

    def _seen(self) -> dict[str, str]:
        if not self.state_path.exists():
            return {}
        loaded = json.loads(self.state_path.read_text())
        return {str(k): str(v) for k, v in loaded.items()}

    def _remember(self, seen: dict[str, str]) -> None:
        partial = self.state_path.with_suffix(".partial")
        partial.write_text(json.dumps(seen, indent=1, sort_keys=True))
        os.replace(partial, self.state_path)

    def observe(
        self, head_raw: bytes, consistency: Consistency, pinned_log: str | None = None
    ) -> Cosignature:
        """Check a head against the last one seen from its log; the cosignature if it holds."""
        head = TreeHead.parse(head_raw, pinned_log)
        seen = self._seen()
        last_raw = seen.get(head.log)
        if last_raw is not None:
            last = TreeHead.parse(last_raw.encode(), head.log)
            h = merkle.hasher(head.hash)
            if head.size == last.size:
                if head.root != last.root:
                    raise SplitView(f"two roots for size {head.size}", last.raw, head.raw)
            else:
                old, new = (last, head) if last.size < head.size else (head, last)
                proof = consistency(old.size, new.size) if old.size > 0 else []
                if old.size > 0 and not merkle.verify_consistency(
                    h, old.size, new.size, old.root, new.root, proof
                ):
                    raise SplitView(
                        f"the head of size {head.size} is not consistent with the one of size {last.size}",
                        last.raw,
                        head.raw,
                    )
        if last_raw is None or head.size > TreeHead.parse(last_raw.encode()).size:
            seen[head.log] = head.raw.decode()
            self._remember(seen)
        return Cosignature.sign(self.key, head, int(time.time() * 1000))

    def check_server(self, base_url: str, client: httpx.Client, pinned_log: str | None = None) -> Cosignature:
        """Fetch the head of the ledger at ``base_url`` (its ``/api/v1/ledger``), check, cosign, submit."""
        api = LedgerClient(base_url, client)
        cosignature = self.observe(api.head(), api.consistency, pinned_log)
        api.submit_cosignature(cosignature.raw)
        return cosignature
