"""ThingsBoard-compatible HTTP device API: the access token travels in the path.

Devices and gateways already configured for ThingsBoard (``POST /api/v1/{token}/telemetry``) work
against indunet unchanged; the token is the device token issued at registration. The body is
handled exactly as ``POST /api/telemetry`` with that device's credentials.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from indunet.core.errors import AuthenticationFailed
from indunet.platform.accounts import principal_from_secret
from indunet.security import Principal
from indunet.web.deps import PlatformDep
from indunet.web.responses import FastJSONResponse
from indunet.web.routes import telemetry as telemetry_routes
from indunet.web.routing import StrictJSONRoute

router = APIRouter(
    prefix="/api/v1", tags=["device API (ThingsBoard compatible)"], route_class=StrictJSONRoute
)

Token = Annotated[str, Path(min_length=1, max_length=200, description="the device's access token")]


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
