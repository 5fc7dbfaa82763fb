"""Carriers over HTTP (``/api/v1/idr/carriers``): enrollment and revocation by the identifier's
administrator, heartbeats and key rotations by the carriers themselves (their signature is their
credential). Refusals are problem+json: 404 unknown carrier, 403 revoked or bad signature, 409 a
replayed sequence number, 422 a malformed or stale message."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from indunet.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from indunet.idr.carriers import Carrier, CarrierRegistry, Refused
from indunet.idr.enterprise_api import CallerOf
from indunet.idr.rest import read_json
from indunet.security.crypto import keys
from indunet.security.documents import MAX_DOCUMENT

_REFUSALS: dict[str, type[Exception]] = {
    "unknown": NotFound,
    "revoked": PermissionDenied,
    "signature": PermissionDenied,
    "replay": Conflict,
    "stale": InvalidInput,
    "invalid": InvalidInput,
}


def _json(found: Carrier) -> dict[str, Any]:
    return {
        "handle": found.handle,
        "bid": found.bid,
        "status": found.status,
        "serial": found.serial,
        "lastSeq": found.last_seq,
        "lastAtMs": found.last_at_ms,
        "reason": found.reason,
    }


async def _message(request: Request) -> bytes:
    raw = await request.body()
    if len(raw) > MAX_DOCUMENT:
        raise InvalidInput(f"a carrier message is at most {MAX_DOCUMENT} octets")
    return raw


def _refused(exc: Refused) -> Exception:
    return _REFUSALS[exc.code](f"{exc}")


def create_carrier_routers(
    registry: CarrierRegistry, caller_of: CallerOf, prefix: str = "/api/v1/idr/carriers"
) -> tuple[APIRouter, APIRouter]:
    """(what carriers call, what operators call): the first needs no login, the signature being the
    credential; a platform puts its own login in front of the second."""
    carrier = APIRouter(prefix=prefix, tags=["identifier carriers"])
    router = APIRouter(prefix=prefix, tags=["identifier carriers"])

    @router.get("")
    async def list_carriers() -> list[dict[str, Any]]:
        return [_json(c) for c in await run_in_threadpool(registry.carriers)]

    @carrier.post("/heartbeat", status_code=202)
    async def heartbeat(request: Request) -> dict[str, Any]:
        raw = await _message(request)
        try:
            accepted = await run_in_threadpool(registry.accept, raw)
        except Refused as exc:
            raise _refused(exc) from None
        return {"handle": accepted.handle, "seq": accepted.last_seq}

    @carrier.post("/rotate", status_code=201)
    async def rotate(request: Request) -> dict[str, Any]:
        raw = await _message(request)
        try:
            certificate = await run_in_threadpool(registry.rotate, raw)
        except Refused as exc:
            raise _refused(exc) from None
        return {"certificate": certificate.decode()}

    @router.get("/{handle:path}")
    async def one(handle: str) -> dict[str, Any]:
        found = await run_in_threadpool(registry.carrier, handle)
        if found is None:
            raise NotFound(f"{handle} has no carrier")
        return _json(found)

    @router.post("/{handle:path}/enroll", status_code=201)
    async def enroll(handle: str, request: Request) -> JSONResponse:
        caller = await caller_of(request)
        body = await read_json(request, MAX_DOCUMENT)
        pem = body.get("publicKey") if isinstance(body, dict) else None
        if not isinstance(pem, str):
            raise InvalidInput("give the carrier's public key as publicKey (PEM)")
        try:
            public = keys.load_public_key(pem.encode())
        except keys.UnsupportedKey as exc:
            raise InvalidInput(f"publicKey: {exc}") from None
        certificate = await run_in_threadpool(registry.enroll, handle, public, caller)
        return JSONResponse({"certificate": certificate.decode()}, status_code=201)

    @router.post("/{handle:path}/revoke")
    async def revoke(handle: str, request: Request) -> dict[str, Any]:
        caller = await caller_of(request)
        body = await read_json(request, MAX_DOCUMENT)
        reason = str(body.get("reason", "")) if isinstance(body, dict) else ""
        await run_in_threadpool(registry.revoke, handle, reason, caller)
        return {"handle": handle, "status": "revoked"}

    return carrier, router
