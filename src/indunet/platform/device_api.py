"""Device attributes: what a device reports about itself (client scope) and what engineers set for it
(shared scope). Shared changes are pushed to the device's live transport channel after they commit."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from indunet.core.errors import InvalidInput
from indunet.core.timeutil import now_us
from indunet.platform import audit
from indunet.platform.devices import get_device, locked_row
from indunet.platform.rpc import router_for
from indunet.platform.runtime import Platform
from indunet.security import Permission, Principal
from indunet.store.device_attributes import device_attributes

MAX_KEYS = 200
MAX_KEY_CHARS = 128
MAX_VALUE_BYTES = 8192


def _check(values: dict[str, Any]) -> None:
    if not values or len(values) > MAX_KEYS:
        raise InvalidInput(f"give 1..{MAX_KEYS} attributes", key="error.bad_attributes")
    for key, value in values.items():
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS or "\x00" in key:
            raise InvalidInput(
                f"attribute names are 1..{MAX_KEY_CHARS} characters", key="error.bad_attributes"
            )
        if len(json.dumps(value)) > MAX_VALUE_BYTES:
            raise InvalidInput(
                f"attribute {key!r} is larger than {MAX_VALUE_BYTES} bytes", key="error.bad_attributes"
            )


def _scope_values(conn: Connection, device_id: str, scope: str, keys: list[str] | None) -> dict[str, Any]:
    query = select(device_attributes.c.key, device_attributes.c.value).where(
        device_attributes.c.device_id == device_id, device_attributes.c.scope == scope
    )
    if keys is not None:
        query = query.where(device_attributes.c.key.in_(keys[:MAX_KEYS]))
    return {row.key: row.value for row in conn.execute(query)}


def _write(conn: Connection, device_id: str, scope: str, values: dict[str, Any]) -> dict[str, Any]:
    """Upsert ``values`` (None deletes a key) and return the previous values of the keys touched."""
    before = _scope_values(conn, device_id, scope, list(values))
    keys = device_attributes.c
    conn.execute(
        delete(device_attributes).where(
            keys.device_id == device_id, keys.scope == scope, keys.key.in_(list(values))
        )
    )
    at = now_us()
    rows = [
        {"device_id": device_id, "scope": scope, "key": k, "value": v, "updated_at": at}
        for k, v in values.items()
        if v is not None
    ]
    if rows:
        conn.execute(device_attributes.insert(), rows)
    return before


def set_client_attributes(platform: Platform, principal: Principal, values: dict[str, Any]) -> None:
    """A device reports its own attributes (ThingsBoard ``v1/devices/me/attributes``)."""
    if principal.device_id is None:
        raise InvalidInput("only a device reports client attributes", key="error.bad_attributes")
    principal.require(Permission.WRITE_TELEMETRY)
    _check(values)
    with platform.engine.begin() as conn:
        locked_row(conn, principal, principal.device_id)
        before = _write(conn, principal.device_id, "client", values)
        audit.record(conn, principal, "update", "client_attributes", principal.device_id, before, values)


def set_shared_attributes(
    platform: Platform, principal: Principal, device_id: str, values: dict[str, Any]
) -> dict[str, Any]:
    """An engineer sets shared attributes (None deletes); the connected device is told what changed."""
    principal.require(Permission.WRITE_DEVICES)
    _check(values)
    with platform.engine.begin() as conn:
        row = locked_row(conn, principal, device_id)
        before = _write(conn, row["id"], "shared", values)
        audit.record(conn, principal, "update", "shared_attributes", row["id"], before, values)
        current = _scope_values(conn, row["id"], "shared", None)
    channel = router_for(platform).channel(row["id"])
    if channel is not None:
        update: dict[str, Any] = {k: v for k, v in values.items() if v is not None}
        deleted = [k for k, v in values.items() if v is None]
        if deleted:
            update["deleted"] = deleted
        channel.send_attributes(update)
    return current


def get_attributes(
    platform: Platform,
    principal: Principal,
    device_id: str,
    client_keys: list[str] | None = None,
    shared_keys: list[str] | None = None,
    scopes: tuple[str, ...] = ("client", "shared"),
) -> dict[str, dict[str, Any]]:
    """``{"client": {...}, "shared": {...}}`` for a device; a device token reads only its own."""
    device = get_device(platform, principal, device_id)
    with platform.engine.connect() as conn:
        out: dict[str, dict[str, Any]] = {}
        if "client" in scopes:
            out["client"] = _scope_values(conn, device["id"], "client", client_keys)
        if "shared" in scopes:
            out["shared"] = _scope_values(conn, device["id"], "shared", shared_keys)
    return out


def requested_scopes(client_keys: list[str] | None, shared_keys: list[str] | None) -> tuple[str, ...]:
    """The scopes an attribute request asks for: as in ThingsBoard, naming neither asks for both and
    naming one asks only for it."""
    if client_keys is None and shared_keys is None:
        return ("client", "shared")
    return tuple(
        scope for scope, keys in (("client", client_keys), ("shared", shared_keys)) if keys is not None
    )
