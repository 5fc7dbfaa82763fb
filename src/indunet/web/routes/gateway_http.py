"""The gateway API over HTTP: what an MQTT gateway publishes on ``v1/gateway/...``, as POST requests.

indunet's edge gateway falls back to it while MQTT is unreachable (a firewall that lets only HTTPS
out, a broker restart), so samples keep flowing. The payloads are those of the MQTT gateway API:

- ``POST /api/v1/{token}/gateway/connect`` ``{"device": name, "type": type}``: announce a child,
  created on first sight under this gateway;
- ``POST /api/v1/{token}/gateway/telemetry`` ``{name: [{"ts", "values"}, ...], ...}``: children's
  samples, each stored as that child; the answer says how many points were stored and which were
  refused (200 when any point was stored or none was refused, else 422, as the MQTT PUBACK does).

Commands need the MQTT connection: HTTP has no way to reach the gateway.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from indunet.core.errors import InvalidInput
from indunet.transport.mqtt import gateway, tbapi
from indunet.web.deps import PlatformDep
from indunet.web.responses import FastJSONResponse
from indunet.web.routes.device_http import Token, device_principal
from indunet.web.routing import StrictJSONRoute

router = APIRouter(prefix="/api/v1", tags=["gateway API over HTTP"], route_class=StrictJSONRoute)

_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}


async def _body(request: Request) -> bytes:
    body = await request.body()
    if not body:
        raise InvalidInput("empty body", key="error.empty_body")
    return body


@router.post("/{token}/gateway/connect", summary="Announce a device behind this gateway", openapi_extra=_BODY)
async def connect(request: Request, platform: PlatformDep, token: Token) -> dict[str, str]:
    principal = await device_principal(platform, token)
    body = await _body(request)
    try:
        name, type_name = gateway.connect_request(body)
    except tbapi.BadPayload as exc:
        raise InvalidInput(str(exc), key="error.bad_json") from None
    gw = await run_in_threadpool(gateway.Gateway, platform, principal, None)
    child = await run_in_threadpool(gw.child, name, type_name)
    return {"device": child.name, "id": child.id}


@router.post(
    "/{token}/gateway/telemetry", summary="Samples of devices behind this gateway", openapi_extra=_BODY
)
async def telemetry(request: Request, platform: PlatformDep, token: Token) -> FastJSONResponse:
    principal = await device_principal(platform, token)
    body = await _body(request)
    try:
        records = gateway.telemetry_records(body)
    except tbapi.BadPayload as exc:
        raise InvalidInput(str(exc), key="error.bad_json") from None
    gw = await run_in_threadpool(gateway.Gateway, platform, principal, None)
    outcome = await run_in_threadpool(gw.ingest, records)
    status = 200 if outcome.stored or not outcome.problems else 422
    return FastJSONResponse(
        {"stored": outcome.stored, "problems": outcome.problems[:1000]}, status_code=status
    )
