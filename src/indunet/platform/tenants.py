"""Tenants (enterprises): creation installs the shipped industry models into the new tenant."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update

from indunet.core.errors import Conflict, InvalidInput, NotFound
from indunet.core.timeutil import now_us
from indunet.platform import audit
from indunet.platform.devicetypes import install_builtin_types
from indunet.platform.naming import check_tenant_name
from indunet.platform.runtime import Platform
from indunet.security import Permission, Principal
from indunet.store.metadata import tenants


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "display_name": row["display_name"],
        "retention_days": row["retention_days"],
    }


def create_tenant(
    platform: Platform, name: str, display_name: str | None = None, retention_days: int | None = None
) -> dict[str, Any]:
    check_tenant_name(name)
    tenant_id = str(uuid.uuid4())
    values = {
        "id": tenant_id,
        "name": name,
        "display_name": (display_name or name)[:200],
        "retention_days": retention_days or platform.settings.default_retention_days,
        "created_at": now_us(),
    }
    with platform.engine.begin() as conn:
        if conn.execute(select(tenants.c.id).where(tenants.c.name == name)).first():
            raise Conflict(f"tenant {name!r} exists already", key="error.tenant_exists", name=name)
        conn.execute(tenants.insert().values(**values))
        principal = Principal.system(tenant_id)
        audit.record(conn, principal, "create", "tenant", tenant_id, None, _public(values))
        install_builtin_types(conn, principal)
    return _public(values)


def get_tenant_by_name(platform: Platform, name: str) -> dict[str, Any]:
    with platform.engine.connect() as conn:
        row = conn.execute(select(tenants).where(tenants.c.name == name)).mappings().first()
    if row is None:
        raise NotFound(f"no tenant named {name!r}", key="error.no_tenant", name=name)
    return _public(row)


def get_tenant(platform: Platform, principal: Principal) -> dict[str, Any]:
    with platform.engine.connect() as conn:
        row = conn.execute(select(tenants).where(tenants.c.id == principal.tenant_id)).mappings().one()
    return _public(row)


def list_tenants(platform: Platform) -> list[dict[str, Any]]:
    with platform.engine.connect() as conn:
        rows = conn.execute(select(tenants).order_by(tenants.c.name)).mappings().all()
    return [_public(r) for r in rows]


def update_tenant(platform: Platform, principal: Principal, changes: dict[str, Any]) -> dict[str, Any]:
    principal.require(Permission.MANAGE_TENANT)
    allowed = {"display_name", "retention_days"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(f"cannot change {sorted(unknown)}", key="error.bad_fields")
    if not changes:
        # An empty patch changes nothing; an UPDATE without a SET list is not even valid SQL.
        return get_tenant(platform, principal)
    with platform.engine.begin() as conn:
        row = conn.execute(select(tenants).where(tenants.c.id == principal.tenant_id)).mappings().one()
        before = _public(row)
        conn.execute(update(tenants).where(tenants.c.id == principal.tenant_id).values(**changes))
        after = {**before, **changes}
        audit.record(conn, principal, "update", "tenant", principal.tenant_id, before, after)
    return after
