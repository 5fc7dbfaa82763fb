"""Tenant settings, users, API keys and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from indunet.platform import accounts, audit, tenants
from indunet.web.deps import PagingDep, PlatformDep, PrincipalDep
from indunet.web.routing import StrictJSONRoute

router = APIRouter(prefix="/api", tags=["administration"], route_class=StrictJSONRoute)


class TenantUpdate(BaseModel):
    model_config = {"extra": "forbid"}
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    # Strict: pydantic would read ``true`` as 1 day, and the retention job would act on it.
    retention_days: int | None = Field(default=None, ge=1, le=36500, strict=True)


class UserCreate(BaseModel):
    model_config = {"extra": "forbid"}
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=8, max_length=1024)
    role: str = Field(default="viewer", pattern="^(admin|engineer|viewer)$")


class UserUpdate(BaseModel):
    model_config = {"extra": "forbid"}
    role: str | None = Field(default=None, pattern="^(admin|engineer|viewer)$")
    disabled: bool | None = Field(default=None, strict=True)  # not "yes", "off" or 0
    password: str | None = Field(default=None, min_length=8, max_length=1024)


class ApiKeyCreate(BaseModel):
    model_config = {"extra": "forbid"}
    name: str = Field(min_length=1, max_length=64)
    role: str = Field(default="engineer", pattern="^(admin|engineer|viewer)$")


@router.get("/tenant", summary="The caller's tenant")
def get_tenant(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    return tenants.get_tenant(platform, principal)


@router.patch("/tenant", summary="Change the tenant's display name or telemetry retention")
def update_tenant(platform: PlatformDep, principal: PrincipalDep, body: TenantUpdate) -> dict[str, Any]:
    return tenants.update_tenant(platform, principal, body.model_dump(exclude_none=True))


@router.get("/users", summary="Users of the tenant")
def list_users(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"items": accounts.list_users(platform, principal)}


@router.post("/users", status_code=201, summary="Add a user to the tenant")
def add_user(platform: PlatformDep, principal: PrincipalDep, body: UserCreate) -> dict[str, Any]:
    return accounts.add_user(platform, principal, body.email, body.password, body.role)


@router.patch("/users/{user_id}", summary="Change a user's role, password or disable them")
def update_user(
    platform: PlatformDep, principal: PrincipalDep, user_id: str, body: UserUpdate
) -> dict[str, Any]:
    return accounts.update_user(platform, principal, user_id, body.model_dump(exclude_unset=True))


@router.get("/api-keys", summary="API keys of the tenant (never their secrets)")
def list_api_keys(platform: PlatformDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"items": accounts.list_api_keys(platform, principal)}


@router.post("/api-keys", status_code=201, summary="Create an API key; the response carries it once")
def create_api_key(platform: PlatformDep, principal: PrincipalDep, body: ApiKeyCreate) -> dict[str, Any]:
    return accounts.create_api_key(platform, principal, body.name, body.role)


@router.delete("/api-keys/{key_id}", status_code=204, summary="Revoke an API key")
def revoke_api_key(platform: PlatformDep, principal: PrincipalDep, key_id: str) -> Response:
    accounts.revoke_api_key(platform, principal, key_id)
    return Response(status_code=204)


@router.get("/audit", summary="Audit log of every write, newest first")
def audit_log(
    platform: PlatformDep,
    principal: PrincipalDep,
    paging: PagingDep,
    entity: Annotated[str | None, Query(max_length=32)] = None,
    entity_id: Annotated[str | None, Query(max_length=200)] = None,
    actor: Annotated[str | None, Query(max_length=300)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    query = audit.AuditQuery(paging.limit, paging.offset, entity, entity_id, actor, action)
    with platform.engine.connect() as conn:
        items, total = audit.list_entries(conn, principal, query)
    return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}
