"""A witness ("fusion" node): it fetches a log's tree heads, checks each against the last one it
saw with a consistency proof, and cosigns what holds. A log that shows two different trees (a head
inconsistent with an earlier one, or two roots for one size) is a split view: :class:`SplitView`,
with both signed heads as evidence, and no cosignature.

Asked to (``entries``), a witness also audits as the log grows: it fetches the entries added since
the last head it checked, folds their leaf hashes into the compact range it keeps (O(log n) hashes)
and compares the root with the signed one, so a log that serves an edited entry is caught too.

The witness keeps the last head it accepted per log (and that range) in a small JSON file, written
atomically, so a restart cannot be talked into accepting a history it already saw differently.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from indunet.ledger import merkle
from indunet.ledger.client import PAGE, LedgerClient
from indunet.ledger.heads import Cosignature, TreeHead
from indunet.security.crypto.keys import PrivateKey

Consistency = Callable[[int, int], list[bytes]]
Entries = Callable[[int, int], list[bytes]]
"""The log's entries ``[start, end)`` (at most a page), as their octets."""


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

    def _state(self) -> tuple[dict[str, str], dict[str, Any]]:
        """The last head accepted per log, and per log the compact range of the entries checked."""
        if not self.state_path.exists():
            return {}, {}
        loaded = json.loads(self.state_path.read_text())
        if "heads" not in loaded:  # the first format: heads only
            return {str(k): str(v) for k, v in loaded.items()}, {}
        return {str(k): str(v) for k, v in loaded["heads"].items()}, dict(loaded.get("ranges", {}))

    def _remember(self, heads: dict[str, str], ranges: dict[str, Any]) -> None:
        partial = self.state_path.with_suffix(".partial")
        partial.write_text(json.dumps({"heads": heads, "ranges": ranges}, indent=1, sort_keys=True))
        os.replace(partial, self.state_path)

    def observe(
        self,
        head_raw: bytes,
        consistency: Consistency,
        pinned_log: str | None = None,
        entries: Entries | None = None,
    ) -> Cosignature:
        """Check a head against the last one seen from its log; the cosignature if it holds.

        With ``entries`` (the log's entries ``[start, end)``), also fetch every entry added since the
        last head this witness checked that way and recompute the root: a log serving entries other
        than the ones its signed head holds (an edited entry) is caught as it grows."""
        head = TreeHead.parse(head_raw, pinned_log)
        heads, ranges = self._state()
        last_raw = heads.get(head.log)
        h = merkle.hasher(head.hash)
        if last_raw is not None:
            last = TreeHead.parse(last_raw.encode(), head.log)
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
        if entries is not None:
            tree = _checked_range(head, h, ranges.get(head.log), entries, last_raw)
            if tree is not None:
                ranges[head.log] = [[width, digest.hex()] for width, digest in tree.stack]
        if last_raw is None or head.size > TreeHead.parse(last_raw.encode()).size:
            heads[head.log] = head.raw.decode()
        self._remember(heads, ranges)
        return Cosignature.sign(self.key, head, int(time.time() * 1000))

    def check_server(
        self, base_url: str, client: httpx.Client, pinned_log: str | None = None, *, entries: bool = False
    ) -> Cosignature:
        """Fetch the head of the ledger at ``base_url`` (its ``/api/v1/ledger``), check, cosign, submit;
        with ``entries``, check the entries added since too."""
        api = LedgerClient(base_url, client)

        def bodies(start: int, end: int) -> list[bytes]:
            return [body for _, body in api.entries(start, end)]

        cosignature = self.observe(api.head(), api.consistency, pinned_log, bodies if entries else None)
        api.submit_cosignature(cosignature.raw)
        return cosignature


def _checked_range(
    head: TreeHead, h: merkle.Hasher, kept: Any, entries: Entries, last_raw: str | None
) -> merkle.CompactRange | None:
    """The compact range at ``head.size`` after folding in the entries since the kept one; None when
    the head is older than what was checked already. SplitView when the entries do not give the root."""
    tree = merkle.CompactRange(h, [(int(w), bytes.fromhex(d)) for w, d in kept or ()])
    if head.size < tree.size:
        return None
    start = tree.size
    while tree.size < head.size:
        page = entries(tree.size, min(head.size, tree.size + PAGE))
        if not page:
            raise SplitView(f"the log serves no entry {tree.size} below its signed size {head.size}",
                            (last_raw or head.raw.decode()).encode(), head.raw)  # fmt: skip
        for body in page:
            tree.add(merkle.leaf_hash(h, body))
    if tree.size != head.size or tree.root() != head.root:
        raise SplitView(
            f"entries {start} to {head.size - 1} as served do not give the root signed at size {head.size}",
            (last_raw or head.raw.decode()).encode(),
            head.raw,
        )
    return tree
