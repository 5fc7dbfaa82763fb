"""Device types per tenant: stored as model documents, compiled once into validators for ingest."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from indunet.core.errors import Conflict, NotFound
from indunet.core.timeutil import now_us
from indunet.platform import audit
from indunet.platform.models import (
    DeviceType,
    Validator,
    builtin_types,
    compile_validator,
    dump_json,
    validate_device_type,
)
from indunet.platform.runtime import Platform
from indunet.security import Permission, Principal
from indunet.store.metadata import device_types, devices


def _insert(conn: Connection, principal: Principal, device_type: DeviceType) -> None:
    now = now_us()
    definition = dump_json(device_type)
    conn.execute(
        device_types.insert().values(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            name=device_type.name,
            version=device_type.version,
            definition=definition,
            created_at=now,
            updated_at=now,
        )
    )
    audit.record(conn, principal, "create", "device_type", device_type.name, None, definition)


def install_builtin_types(conn: Connection, principal: Principal) -> None:
    for device_type in builtin_types():
        _insert(conn, principal, device_type)


def list_types(platform: Platform, principal: Principal) -> list[dict[str, Any]]:
    principal.require(Permission.READ)
    with platform.engine.connect() as conn:
        rows = conn.execute(
            select(device_types.c.definition)
            .where(device_types.c.tenant_id == principal.tenant_id)
            .order_by(device_types.c.name)
        ).scalars()
        return [dict(r) for r in rows]


def load_type(platform: Platform, tenant_id: str, name: str) -> DeviceType:
    return validator_for(platform, tenant_id, name).device_type


def validator_for(platform: Platform, tenant_id: str, name: str) -> Validator:
    """The compiled validator of a tenant's type, from cache when possible (ingest hot path)."""
    key = (tenant_id, name)
    cached = platform.types.get(key)
    if cached is not None:
        return cached
    with platform.engine.connect() as conn:
        definition = conn.execute(
            select(device_types.c.definition).where(
                device_types.c.tenant_id == tenant_id, device_types.c.name == name
            )
        ).scalar_one_or_none()
    if definition is None:
        raise NotFound(f"no device type {name!r}", key="error.no_device_type", name=name)
    validator = compile_validator(validate_device_type(dict(definition)))
    with platform.cache_lock:
        platform.types[key] = validator
    return validator


def get_type(platform: Platform, principal: Principal, name: str) -> DeviceType:
    principal.require(Permission.READ)
    return load_type(platform, principal.tenant_id, name)


def put_type(platform: Platform, principal: Principal, device_type: DeviceType) -> tuple[DeviceType, bool]:
    """Create or replace a type; returns it and whether it was new.

    A replacement may add points, change descriptions, units and ranges; data already stored is kept
    (values are checked when they arrive, not re-checked later).
    """
    principal.require(Permission.WRITE_DEVICES)
    definition = dump_json(device_type)
    with platform.engine.begin() as conn:
        scope = (device_types.c.tenant_id == principal.tenant_id) & (device_types.c.name == device_type.name)
        before = conn.execute(select(device_types.c.definition).where(scope)).scalar_one_or_none()
        if before is None:
            _insert(conn, principal, device_type)
        else:
            conn.execute(
                update(device_types)
                .where(scope)
                .values(version=device_type.version, definition=definition, updated_at=now_us())
            )
            audit.record(conn, principal, "update", "device_type", device_type.name, dict(before), definition)
    platform.forget_type(principal.tenant_id, device_type.name)
    return device_type, before is None


def delete_type(platform: Platform, principal: Principal, name: str) -> None:
    principal.require(Permission.WRITE_DEVICES)
    with platform.engine.begin() as conn:
        scope = (device_types.c.tenant_id == principal.tenant_id) & (device_types.c.name == name)
        before = conn.execute(select(device_types.c.definition).where(scope)).scalar_one_or_none()
        if before is None:
            raise NotFound(f"no device type {name!r}", key="error.no_device_type", name=name)
        in_use = conn.execute(
            select(func.count())
            .select_from(devices)
            .where(devices.c.tenant_id == principal.tenant_id, devices.c.type_name == name)
        ).scalar_one()
        if in_use:
            raise Conflict(
                f"device type {name!r} is used by {in_use} devices", key="error.type_in_use", name=name
            )
        conn.execute(delete(device_types).where(scope))
        audit.record(conn, principal, "delete", "device_type", name, dict(before), None)
    platform.forget_type(principal.tenant_id, name)


def all_types(platform: Platform, principal: Principal) -> list[DeviceType]:
    return [validate_device_type(d) for d in list_types(platform, principal)]
