"""The ledger over HTTP (``/api/v1/ledger``): tree heads, entries, proofs and cosignatures.

Documents (tree heads, cosignatures) are returned as the exact strings that were signed, so a
client checks the signature over the octets it received; entries as base64 of their octets.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from indunet.core.errors import InvalidInput, NotFound
from indunet.ledger.service import Ledger
from indunet.security.documents import MAX_DOCUMENT, BadDocument

PREFIX = "/api/v1/ledger"
MAX_PAGE = 1000


def create_ledger_router(ledger: Ledger, prefix: str = PREFIX) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["ledger"])

    @router.get("/head")
    def head() -> JSONResponse:
        """The latest signed tree head (signed now if entries were added since the last one)."""
        latest = ledger.sign_head()
        return JSONResponse(json.loads(latest.raw))

    @router.get("/heads")
    def heads() -> list[str]:
        """Every tree head the log issued, oldest first, as the signed strings."""
        return [raw.decode() for raw in ledger.store.heads()]

    @router.get("/entries")
    def entries(start: int = Query(0, ge=0), end: int = Query(..., ge=0)) -> list[dict[str, Any]]:
        if end <= start or end - start > MAX_PAGE:
            raise InvalidInput(f"ask for 1 to {MAX_PAGE} entries (start < end)")
        return [
            {"seq": e.seq, "body": base64.b64encode(e.body).decode(), "at": e.at.isoformat()}
            for e in ledger.store.entries(start, end)
        ]

    @router.get("/proof/inclusion")
    def inclusion(seq: int = Query(..., ge=0), size: int = Query(..., ge=1)) -> dict[str, Any]:
        _within(size)
        if seq >= size:
            raise InvalidInput(f"entry {seq} is not in a tree of {size}")
        return {
            "seq": seq,
            "size": size,
            "leaf": ledger.store.leaf(seq).hex(),
            "path": [p.hex() for p in ledger.inclusion(seq, size)],
        }

    @router.get("/proof/consistency")
    def consistency(old: int = Query(..., ge=1), new: int = Query(..., ge=1)) -> dict[str, Any]:
        _within(new)
        if old > new:
            raise InvalidInput("old must not exceed new")
        return {"old": old, "new": new, "path": [p.hex() for p in ledger.consistency(old, new)]}

    @router.get("/cosignatures")
    def cosignatures(size: int | None = Query(None, ge=0)) -> list[str]:
        sizes = [size] if size is not None else [json.loads(raw)["size"] for raw in ledger.store.heads()]
        return [raw.decode() for s in sizes for raw in ledger.store.cosignatures(int(s))]

    @router.post("/cosignatures", status_code=201)
    async def add_cosignature(request: Request) -> dict[str, Any]:
        """A witness's cosignature of a head this log issued."""
        raw = await request.body()
        if len(raw) > MAX_DOCUMENT:
            raise InvalidInput(f"a cosignature is at most {MAX_DOCUMENT} octets")
        try:
            accepted = ledger.accept_cosignature(raw)
        except BadDocument as exc:
            raise InvalidInput(str(exc)) from None
        return {"witness": accepted.witness, "size": accepted.size}

    def _within(size: int) -> None:
        if size > ledger.store.size():
            raise NotFound(f"the log has fewer than {size} entries")

    return router
