"""ThingsBoard-compatible HTTP device API: the access token travels in the path.

Devices and gateways already configured for ThingsBoard work against indunet unchanged; the token is
the device token issued at registration.

- ``POST /api/v1/{token}/telemetry``: handled exactly as ``POST /api/telemetry`` for that device;
- ``POST /api/v1/{token}/attributes``: client attributes; ``GET`` with ``clientKeys``/``sharedKeys``
  (comma-separated) answers ``{"client": {...}, "shared": {...}}``;
- ``GET /api/v1/{token}/rpc?timeout=ms``: waits for a command, ``{"id", "method", "params"}``, or
  answers 408 with no body when none came in time (as ThingsBoard does);
- ``POST /api/v1/{token}/rpc/{id}``: the device's answer to command ``id``;
- ``POST /api/v1/{token}/rpc`` ``{"method", "params"}``: the device's own call (client-side RPC).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from indunet.core.errors import AuthenticationFailed, InvalidInput
from indunet.platform import device_api, rpc, rpc_poll
from indunet.platform.accounts import principal_from_secret
from indunet.platform.runtime import Platform
from indunet.security import Principal
from indunet.web.deps import PlatformDep
from indunet.web.responses import FastJSONResponse
from indunet.web.routes import telemetry as telemetry_routes
from indunet.web.routing import StrictJSONRoute

router = APIRouter(
    prefix="/api/v1", tags=["device API (ThingsBoard compatible)"], route_class=StrictJSONRoute
)

Token = Annotated[str, Path(min_length=1, max_length=200, description="the device's access token")]
RequestId = Annotated[str, Path(min_length=1, max_length=19, description="the command's id")]
Keys = Annotated[
    str | None, Query(max_length=8192, description="comma-separated attribute names (ThingsBoard style)")
]


async def device_principal(platform: PlatformDep, token: str) -> Principal:
    principal = await run_in_threadpool(principal_from_secret, platform, token)
    if principal.device_id is None:
        # An API key in the path would end up in access logs; only device tokens belong here.
        raise AuthenticationFailed("not a device access token", key="error.token_invalid")
    return principal


@router.post(
    "/{token}/telemetry",
    summary="Device telemetry, ThingsBoard style (token in the path)",
    openapi_extra=telemetry_routes.INGEST_BODY,
)
async def device_telemetry(request: Request, platform: PlatformDep, token: Token) -> FastJSONResponse:
    principal = await device_principal(platform, token)
    return await telemetry_routes.ingest(request, platform, principal)


def _keys(value: str | None) -> list[str] | None:
    if value is None:
        return None
    keys = [key.strip() for key in value.split(",") if key.strip()]
    if len(keys) > device_api.MAX_KEYS:
        raise InvalidInput(f"ask for at most {device_api.MAX_KEYS} keys", key="error.bad_attributes")
    return keys


async def _json(request: Request) -> Any:
    """The JSON body, read only after the token was accepted: a request without valid credentials is
    a 401 whatever its body, as on every other route."""
    try:
        return await request.json()
    except ValueError as exc:  # json.JSONDecodeError and orjson's subclass of it
        raise InvalidInput(f"the body is not JSON: {exc}", key="error.bad_json") from None


@router.post(
    "/{token}/attributes",
    summary="The device reports its client attributes (a JSON object)",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
    },
)
async def post_attributes(request: Request, platform: PlatformDep, token: Token) -> Response:
    principal = await device_principal(platform, token)
    body = await _json(request)
    if not isinstance(body, dict):
        raise InvalidInput("attributes must be a JSON object", key="error.bad_attributes")
    await run_in_threadpool(device_api.set_client_attributes, platform, principal, body)
    return Response(status_code=200)


@router.get(
    "/{token}/attributes",
    summary="The device reads its attributes: naming neither clientKeys nor sharedKeys gives both scopes",
)
async def get_attributes(
    platform: PlatformDep,
    token: Token,
    client_keys: Annotated[Keys, Query(alias="clientKeys")] = None,
    shared_keys: Annotated[Keys, Query(alias="sharedKeys")] = None,
) -> dict[str, dict[str, Any]]:
    principal = await device_principal(platform, token)
    assert principal.device_id is not None
    client, shared = _keys(client_keys), _keys(shared_keys)
    return await run_in_threadpool(
        device_api.get_attributes,
        platform,
        principal,
        principal.device_id,
        client,
        shared,
        device_api.requested_scopes(client, shared),
    )


@router.get(
    "/{token}/rpc",
    summary="Wait for a command to the device (long poll); 408 with no body when none came in time",
    responses={408: {"description": "no command within the timeout"}},
)
async def poll_rpc(
    request: Request,
    platform: PlatformDep,
    token: Token,
    timeout: Annotated[
        int, Query(ge=1, le=rpc_poll.MAX_POLL_MS, description="milliseconds to wait for a command")
    ] = rpc_poll.DEFAULT_POLL_MS,
) -> Any:
    principal = await device_principal(platform, token)
    assert principal.device_id is not None
    channel = rpc_poll.channel_for(platform, principal.device_id)
    command = await channel.poll(timeout / 1000, request.is_disconnected)
    return Response(status_code=408) if command is None else command


@router.post(
    "/{token}/rpc/{request_id}",
    summary="The device's answer (any JSON) to a command it was sent",
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": {}}}}},
)
async def answer_rpc(
    request: Request, platform: PlatformDep, token: Token, request_id: RequestId
) -> dict[str, bool]:
    principal = await device_principal(platform, token)
    assert principal.device_id is not None
    if not request_id.isdigit():
        raise InvalidInput("the command id is a positive integer", key="error.bad_rpc_id")
    body = await _json(request) if await request.body() else None
    # ThingsBoard answers a late reply with 200 too; ``delivered`` tells whether anyone still waited.
    return {"delivered": rpc.router_for(platform).respond(principal.device_id, int(request_id), body)}


class ClientRpc(BaseModel):
    model_config = {"extra": "forbid"}
    method: str = Field(min_length=1, max_length=128)
    params: Any = None


def http_session_limits(platform: Platform) -> dict[str, Any]:
    """``getSessionLimits`` for a device on HTTP: each request stands alone, bounded only in size."""
    return {
        "maxPayloadSize": platform.settings.max_body_bytes,
        "maxInflightMessages": 1,
        "rateLimits": {"messages": "", "telemetryMessages": "", "telemetryDataPoints": ""},
    }


@router.post(
    "/{token}/rpc",
    summary="The device's own call to the platform (client-side RPC): getCurrentTime, getSessionLimits",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ClientRpc.model_json_schema()}},
        }
    },
)
async def client_rpc(request: Request, platform: PlatformDep, token: Token) -> Any:
    await device_principal(platform, token)
    try:
        call = ClientRpc.model_validate(await _json(request))
    except ValidationError as exc:
        raise InvalidInput(f"not an RPC request: {exc.errors()[0]['msg']}", key="error.bad_json") from None
    return rpc.answer_client_rpc(call.method, lambda: http_session_limits(platform))
