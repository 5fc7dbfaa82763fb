"""Commands to connected devices (server-side RPC) and the shared attributes devices are told about."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from indunet.platform import device_api, rpc
from indunet.web.deps import PlatformDep, PrincipalDep
from indunet.web.routing import StrictJSONRoute

router = APIRouter(prefix="/api/devices", tags=["rpc"], route_class=StrictJSONRoute)


class RpcRequest(BaseModel):
    model_config = {"extra": "forbid"}
    method: str = Field(min_length=1, max_length=128)
    params: Any = None
    timeout_ms: int = Field(default=rpc.DEFAULT_TIMEOUT_MS, ge=1, le=rpc.MAX_TIMEOUT_MS)
    oneway: bool = False


@router.post(
    "/{device_id}/rpc",
    summary="Send a command to a device; its answer, or {status: sent} when none is awaited",
    description=(
        "The command is checked against the device type first (422 with the reason): `setValue` with "
        '`{"point", "value"}` or a method named after a point with `{"value"}` or the bare value writes '
        "a read-write point within its range; a method named after a declared command takes its declared "
        "params, or the bare value when it declares exactly one; params are sent as given. "
        "A one-way call, or one to a Sparkplug device (which never answers), returns "
        '`{"status": "sent"}`; otherwise `{"result": ...}`, 504 when the device does not answer in time '
        "and 409 when no transport holds it."
    ),
)
async def call_device(
    platform: PlatformDep, principal: PrincipalDep, device_id: str, body: RpcRequest
) -> dict[str, Any]:
    # Waiting for the device must not hold one of the event loop's turns: it runs in a worker thread.
    result = await run_in_threadpool(
        rpc.call_device,
        platform,
        principal,
        device_id,
        body.method,
        body.params,
        body.timeout_ms,
        body.oneway,
    )
    return dict(rpc.SENT) if result is rpc.SENT else {"result": result}


@router.get("/{device_id}/attributes", summary="A device's client and shared attributes")
def get_attributes(platform: PlatformDep, principal: PrincipalDep, device_id: str) -> dict[str, Any]:
    return device_api.get_attributes(platform, principal, device_id)


@router.put(
    "/{device_id}/attributes/shared",
    summary="Set shared attributes (null deletes one); a connected device is told at once",
)
def set_shared(
    platform: PlatformDep,
    principal: PrincipalDep,
    device_id: str,
    body: dict[str, Any],
) -> dict[str, Any]:
    return {"shared": device_api.set_shared_attributes(platform, principal, device_id, body)}
