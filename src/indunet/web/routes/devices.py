"""Device registry and digital twins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, StrictFloat, StrictStr

from indunet.platform import devices, twins
from indunet.web.deps import PagingDep, PlatformDep, PrincipalDep
from indunet.web.routing import StrictJSONRoute

router = APIRouter(prefix="/api/devices", tags=["devices"], route_class=StrictJSONRoute)

Scalar = bool | int | float | str | None
# Strict, or pydantic turns ``true`` into latitude 1.0 before the service can refuse a boolean.
LocationValue = StrictStr | StrictFloat


class DeviceCreate(BaseModel):
    model_config = {"extra": "forbid"}
    name: str = Field(min_length=1, max_length=128)
    type: str = Field(min_length=1, max_length=64)
    labels: dict[str, str] = Field(default_factory=dict, max_length=50)
    location: dict[str, LocationValue] | None = Field(default=None, max_length=20)
    attributes: dict[str, Scalar] = Field(default_factory=dict, max_length=200)


class DeviceUpdate(BaseModel):
    model_config = {"extra": "forbid"}
    labels: dict[str, str] | None = Field(default=None, max_length=50)
    location: dict[str, LocationValue] | None = Field(default=None, max_length=20)
    attributes: dict[str, Scalar] | None = Field(default=None, max_length=200)


@router.get("", summary="List devices with their online state")
def list_devices(
    platform: PlatformDep,
    principal: PrincipalDep,
    paging: PagingDep,
    q: Annotated[str | None, Query(max_length=128, description="search in name and type")] = None,
    type: Annotated[str | None, Query(max_length=64)] = None,
    label: Annotated[str | None, Query(max_length=330, pattern="^[^=]+=.*$", description="key=value")] = None,
) -> dict[str, Any]:
    label_filter = tuple(label.split("=", 1)) if label else None
    query = devices.DeviceQuery(paging.limit, paging.offset, q, type, label_filter)  # type: ignore[arg-type]
    items, total = devices.list_devices(platform, principal, query)
    return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}


@router.post("", status_code=201, summary="Register a device; the response carries its access token once")
def create_device(platform: PlatformDep, principal: PrincipalDep, body: DeviceCreate) -> dict[str, Any]:
    return devices.create_device(
        platform, principal, body.name, body.type, body.labels, body.location, body.attributes
    )


@router.get("/{device_id}", summary="One device")
def get_device(platform: PlatformDep, principal: PrincipalDep, device_id: str) -> dict[str, Any]:
    return devices.get_device(platform, principal, device_id)


@router.patch("/{device_id}", summary="Change labels, location or attributes (null removes an attribute)")
def update_device(
    platform: PlatformDep, principal: PrincipalDep, device_id: str, body: DeviceUpdate
) -> dict[str, Any]:
    return devices.update_device(platform, principal, device_id, body.model_dump(exclude_unset=True))


@router.delete("/{device_id}", status_code=204, summary="Remove a device")
def delete_device(platform: PlatformDep, principal: PrincipalDep, device_id: str) -> Response:
    devices.delete_device(platform, principal, device_id)
    return Response(status_code=204)


@router.post("/{device_id}/token", summary="Revoke the device's tokens and issue a new one")
def rotate_token(platform: PlatformDep, principal: PrincipalDep, device_id: str) -> dict[str, str]:
    return {"token": devices.rotate_token(platform, principal, device_id)}


@router.get("/{device_id}/twin", summary="Digital twin: reported, desired state and attributes")
def get_twin(platform: PlatformDep, principal: PrincipalDep, device_id: str) -> dict[str, Any]:
    return twins.get_twin(platform, principal, device_id)


@router.patch("/{device_id}/twin/desired", summary="Merge into the desired state (null removes a point)")
def set_desired(
    platform: PlatformDep,
    principal: PrincipalDep,
    device_id: str,
    body: Annotated[dict[str, Scalar], Field(max_length=1000)],
) -> dict[str, Any]:
    return twins.set_desired(platform, principal, device_id, body)


@router.get("/{device_id}/twin/history", summary="Twin revisions, newest first")
def twin_history(
    platform: PlatformDep,
    principal: PrincipalDep,
    device_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    return {"items": twins.history(platform, principal, device_id, limit)}
