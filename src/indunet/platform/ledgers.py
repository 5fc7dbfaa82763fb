"""The federation's allocation ledgers as the console shows them, checked here and not taken on trust.

For each identifier node that keeps a ledger (``IdrNode.ledger``): its latest signed tree head, its
signature checked (against the pinned log key, ``IdrNode.ledger_log``, when configured), the
witnesses whose cosignatures of that very head verify, and its entries newest first, each proved
included in that head with an inclusion proof from the node. A node that cannot be reached, or whose
answers do not verify, is shown with the reason, never as if it were fine.
"""

from __future__ import annotations

from typing import Any

import httpx

from indunet.core.config import IdrNode
from indunet.core.errors import InvalidInput, NotFound
from indunet.ledger import merkle
from indunet.ledger.client import LedgerClient
from indunet.ledger.entries import BadEntry, decode
from indunet.ledger.heads import Cosignature, TreeHead
from indunet.security.documents import BadDocument

TIMEOUT_S = 5.0
MAX_PAGE = 100


def _client(node: IdrNode, http: httpx.Client) -> LedgerClient:
    return LedgerClient(node.ledger, http)


def _head(api: LedgerClient, node: IdrNode) -> TreeHead:
    return TreeHead.parse(api.head(), node.ledger_log or None)


def _about(node: IdrNode) -> dict[str, Any]:
    return {
        "name": node.name,
        "role": node.role,
        "prefix": node.prefix,
        "url": node.ledger,
        "pinned": bool(node.ledger_log),
    }


def summaries(nodes: tuple[IdrNode, ...]) -> list[dict[str, Any]]:
    """Every node's ledger: its verified head and witnesses, or why it could not be verified."""
    found = []
    with httpx.Client(timeout=TIMEOUT_S) as http:
        for node in nodes:
            if not node.ledger:
                continue
            row = _about(node)
            api = _client(node, http)
            try:
                head = _head(api, node)
                witnesses = []
                for raw in api.cosignatures(head.size):
                    try:
                        cosignature = Cosignature.parse(raw)
                    except BadDocument:
                        continue
                    if cosignature.covers(head):
                        witnesses.append({"witness": cosignature.witness, "at_ms": cosignature.timestamp_ms})
            except (httpx.HTTPError, BadDocument, ValueError) as exc:
                found.append({**row, "error": str(exc)})
                continue
            found.append(
                {
                    **row,
                    "error": None,
                    "log": head.log,
                    "size": head.size,
                    "hash": head.hash,
                    "root": head.root.hex(),
                    "signed_at_ms": head.timestamp_ms,
                    "witnesses": sorted(witnesses, key=lambda w: str(w["witness"])),
                }
            )
    return found


def entries(nodes: tuple[IdrNode, ...], name: str, before: int | None, limit: int) -> dict[str, Any]:
    """Entries of the named node's ledger before ``before`` (default: its size), newest first, each
    with whether the node proved it included in its latest signed head."""
    node = next((n for n in nodes if n.name == name and n.ledger), None)
    if node is None:
        raise NotFound(f"no ledger kept by a node named {name!r}", key="error.ledger_unknown", name=name)
    if not 0 < limit <= MAX_PAGE:
        raise InvalidInput(f"ask for 1 to {MAX_PAGE} entries", key="error.ledger_page")
    with httpx.Client(timeout=TIMEOUT_S) as http:
        api = _client(node, http)
        try:
            head = _head(api, node)
            end = head.size if before is None else max(0, min(before, head.size))
            start = max(0, end - limit)
            page = api.entries(start, end) if end > start else []
            h = merkle.hasher(head.hash)
            items = []
            for seq, body in reversed(page):
                proof = api.inclusion(seq, head.size)
                included = merkle.verify_inclusion(
                    h, merkle.leaf_hash(h, body), seq, head.size, proof, head.root
                )
                items.append({"seq": seq, "included": included, **_entry(body)})
        except (httpx.HTTPError, BadDocument, ValueError) as exc:
            raise NotFound(
                f"the ledger of {name} could not be read or verified: {exc}",
                key="error.ledger_unverified",
                name=name,
                reason=str(exc),
            ) from None
    return {"log": head.log, "size": head.size, "items": items, "next_before": start if start > 0 else None}


def _entry(body: bytes) -> dict[str, Any]:
    try:
        entry = decode(body)
    except BadEntry as exc:
        return {"kind": None, "subject": None, "at": None, "detail": {}, "problem": str(exc)}
    return {
        "kind": str(entry.kind),
        "subject": entry.subject,
        "at": entry.at,
        "detail": entry.detail,
        "problem": None,
    }
