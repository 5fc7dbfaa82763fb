"""Device types (information models), their AAS form, and the data dictionary."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from indunet.core.errors import InvalidInput, PayloadTooLarge
from indunet.platform import devicetypes
from indunet.platform.models import (
    MAX_AAS_BYTES,
    MAX_MODEL_BYTES,
    data_dictionary,
    dictionary_csv,
    dump_json,
    from_aas_json,
    load_device_type,
    to_aas_json,
)
from indunet.web.deps import PlatformDep, PrincipalDep
from indunet.web.routing import StrictJSONRoute

router = APIRouter(tags=["models"], route_class=StrictJSONRoute)

_MODEL_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}
_AAS_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
}
# Upserts answer 201 for a new type and 200 for a replaced one; FastAPI documents only the latter.
_UPSERTED: dict[int | str, dict[str, Any]] = {
    201: {"description": "Created", "content": {"application/json": {"schema": {"type": "object"}}}}
}


async def _body(request: Request, limit: int) -> bytes:
    # The model readers check sizes too; checking here first spares parsing a body that is too big.
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLarge(f"documents here are limited to {limit} bytes", key="error.too_large")
    if not body:
        raise InvalidInput("empty body", key="error.empty_body")
    return body


@router.get("/api/device-types", summary="All device types of the tenant")
def list_types(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"items": devicetypes.list_types(platform, principal)}


@router.post(
    "/api/device-types",
    summary="Create or replace a device type (JSON or YAML)",
    responses=_UPSERTED,
    openapi_extra=_MODEL_BODY,
)
async def put_type(
    request: Request, platform: PlatformDep, principal: PrincipalDep, response: Response
) -> dict[str, Any]:
    body = await _body(request, MAX_MODEL_BYTES)
    device_type = load_device_type(
        body, "yaml" if "yaml" in request.headers.get("content-type", "") else "json"
    )
    _, created = await run_in_threadpool(devicetypes.put_type, platform, principal, device_type)
    response.status_code = 201 if created else 200
    return dump_json(device_type)


@router.post(
    "/api/device-types/import-aas",
    summary="Import a device type from AAS v3 JSON",
    responses=_UPSERTED,
    openapi_extra=_AAS_BODY,
)
async def import_aas(
    request: Request, platform: PlatformDep, principal: PrincipalDep, response: Response
) -> dict[str, Any]:
    device_type = from_aas_json(await _body(request, MAX_AAS_BYTES))
    _, created = await run_in_threadpool(devicetypes.put_type, platform, principal, device_type)
    response.status_code = 201 if created else 200
    return dump_json(device_type)


@router.get("/api/device-types/{name}", summary="One device type, as indunet JSON or AAS v3 JSON")
def get_type(
    platform: PlatformDep,
    principal: PrincipalDep,
    name: str,
    format: Annotated[Literal["json", "aas"], Query()] = "json",
) -> Any:
    device_type = devicetypes.get_type(platform, principal, name)
    if format == "aas":
        return Response(to_aas_json(device_type), media_type="application/json")
    return dump_json(device_type)


@router.delete("/api/device-types/{name}", status_code=204, summary="Delete an unused device type")
def delete_type(platform: PlatformDep, principal: PrincipalDep, name: str) -> Response:
    devicetypes.delete_type(platform, principal, name)
    return Response(status_code=204)


@router.get(
    "/api/dictionary",
    summary="The data dictionary: every point, attribute and command parameter",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def dictionary(
    platform: PlatformDep,
    principal: PrincipalDep,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    entries = data_dictionary(devicetypes.all_types(platform, principal))
    if format == "csv":
        return Response(dictionary_csv(entries), media_type="text/csv; charset=utf-8")
    return {"items": entries, "total": len(entries)}
