"""Auditing a whole ledger offline: every tree head's signature, every entry, every root.

Entries are read in order from a :class:`Source` (a dump file or a ledger's API), their leaf hashes
folded into a compact range (the hashes of the complete subtrees so far, O(log n) of them), and the
root at each signed head's size compared with the head's. So an edited, inserted, dropped or
reordered entry, a head signed by another key, or a head whose root the entries do not give, is
found, with memory that does not grow with the log.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from indunet.ledger import merkle
from indunet.ledger.client import PAGE, LedgerClient
from indunet.ledger.entries import BadEntry, decode
from indunet.ledger.heads import Cosignature, TreeHead
from indunet.security.documents import BadDocument


class Source(Protocol):
    def heads(self) -> list[bytes]: ...

    def entries(self) -> Iterator[tuple[int, bytes]]: ...

    def cosignatures(self) -> list[bytes]: ...


@dataclass
class Report:
    log: str | None = None
    entries: int = 0
    heads: int = 0
    cosignatures: int = 0
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems and self.heads > 0


def audit(source: Source, expected_log: str | None = None) -> Report:
    report = Report()
    heads: list[TreeHead] = []
    for raw in source.heads():
        try:
            heads.append(TreeHead.parse(raw, expected_log))
        except BadDocument as exc:
            report.problems.append(f"tree head rejected: {exc}")
    heads.sort(key=lambda head: head.size)
    report.heads = len(heads)
    if not heads:
        report.problems.append("no signed tree head to check against")
        return report
    report.log = heads[0].log
    for each in heads:
        if each.log != report.log:
            report.problems.append(f"head of size {each.size} signed by {each.log}, others by {report.log}")
    for earlier, later in itertools.pairwise(heads):
        if earlier.size == later.size and earlier.root != later.root:
            report.problems.append(f"two heads of size {earlier.size} with different roots (a split view)")
    try:
        h = merkle.hasher(heads[0].hash)
    except ValueError:
        report.problems.append(f"unknown hash {heads[0].hash!r}")
        return report
    report.checked.append(
        f"{len(heads)} tree heads signed by {report.log}" + (" (the pinned log)" if expected_log else "")
    )
    tree = merkle.CompactRange(h)
    pending = iter(heads)
    head = next(pending, None)
    for seq, body in source.entries():
        while head is not None and head.size == tree.size:
            _compare(report, head, tree)
            head = next(pending, None)
        if seq != tree.size:
            report.problems.append(f"entry {seq} where entry {tree.size} was expected (dropped or reordered)")
            return report
        try:
            decode(body)
        except BadEntry as exc:
            report.problems.append(f"entry {seq}: {exc}")
        tree.add(merkle.leaf_hash(h, body))
    while head is not None and head.size == tree.size:
        _compare(report, head, tree)
        head = next(pending, None)
    if head is not None:
        report.problems.append(f"a head of size {head.size} but only {tree.size} entries")
    report.entries = tree.size
    report.checked.append(f"{tree.size} entries decoded and hashed; every head's root recomputed from them")
    for raw in source.cosignatures():
        try:
            cosignature = Cosignature.parse(raw)
        except BadDocument as exc:
            report.problems.append(f"cosignature rejected: {exc}")
            continue
        if not any(cosignature.covers(each) for each in heads):
            report.problems.append(f"cosignature by {cosignature.witness} of a head this log never issued")
            continue
        report.cosignatures += 1
    if report.cosignatures:
        report.checked.append(f"{report.cosignatures} witness cosignatures verified against the heads")
    return report


def _compare(report: Report, head: TreeHead, tree: merkle.CompactRange) -> None:
    if tree.root() != head.root:
        report.problems.append(f"the entries do not give the root of the head of size {head.size}")


# -- sources ----------------------------------------------------------------------------------------------


class DumpSource:
    """A dump: JSON lines of ``{"head": ...}``, ``{"seq": n, "body": base64}``, ``{"cosignature": ...}``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _lines(self) -> Iterator[dict[str, object]]:
        with self.path.open("rb") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        item = json.loads(line)
                    except ValueError:
                        raise BadDocument(f"line {number} of the dump is not JSON") from None
                    if isinstance(item, dict):
                        yield item

    def heads(self) -> list[bytes]:
        return [str(item["head"]).encode() for item in self._lines() if "head" in item]

    def cosignatures(self) -> list[bytes]:
        return [str(item["cosignature"]).encode() for item in self._lines() if "cosignature" in item]

    def entries(self) -> Iterator[tuple[int, bytes]]:
        for item in self._lines():
            if "seq" in item:
                yield int(str(item["seq"])), base64.b64decode(str(item["body"]))


class ApiSource:
    """A ledger's HTTP API (``/api/v1/ledger``), paged."""

    def __init__(self, base_url: str, client: httpx.Client | None = None) -> None:
        self.api = LedgerClient(base_url, client or httpx.Client(timeout=30))

    def heads(self) -> list[bytes]:
        return self.api.heads()

    def cosignatures(self) -> list[bytes]:
        return self.api.cosignatures()

    def entries(self) -> Iterator[tuple[int, bytes]]:
        start = 0
        while page := self.api.entries(start, start + PAGE):
            yield from page
            start += len(page)
