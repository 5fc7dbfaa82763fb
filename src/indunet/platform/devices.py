"""The device registry: devices under a type, their access tokens and online state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, or_, select, update

from indunet.core.errors import Conflict, InvalidInput, NotFound
from indunet.core.timeutil import now_us, to_rfc3339
from indunet.platform import audit
from indunet.platform.devicetypes import load_type
from indunet.platform.naming import check_device_name
from indunet.platform.runtime import DeviceRef, Platform
from indunet.security import Permission, Principal, hash_secret, new_secret_token
from indunet.store.metadata import device_tokens, devices

MAX_LABELS = 50
MAX_LOCATION_KEYS = 20
_MAX_TEXT = 256


@dataclass(frozen=True, slots=True)
class DeviceQuery:
    limit: int = 50
    offset: int = 0
    search: str | None = None
    type_name: str | None = None
    label: tuple[str, str] | None = None


def _check_labels(labels: Any) -> dict[str, str]:
    if not isinstance(labels, dict) or len(labels) > MAX_LABELS:
        raise InvalidInput(
            f"labels must be an object of at most {MAX_LABELS} entries", key="error.bad_labels"
        )
    for key, value in labels.items():
        if not isinstance(value, str) or not 0 < len(key) <= 64 or len(value) > _MAX_TEXT:
            raise InvalidInput(
                f"label {key!r}: keys 1-64 characters, values text up to 256", key="error.bad_labels"
            )
    return dict(labels)


def _check_location(location: Any) -> dict[str, Any] | None:
    if location is None:
        return None
    if not isinstance(location, dict) or len(location) > MAX_LOCATION_KEYS:
        raise InvalidInput("location must be an object of at most 20 entries", key="error.bad_location")
    for key, value in location.items():
        if key in ("lat", "lon"):
            limit = 90 if key == "lat" else 180
            if isinstance(value, bool) or not isinstance(value, int | float) or not -limit <= value <= limit:
                raise InvalidInput(
                    f"location.{key} must be a number within ±{limit}", key="error.bad_location"
                )
        elif not isinstance(value, str) or len(value) > _MAX_TEXT:
            raise InvalidInput(f"location.{key} must be text up to 256 characters", key="error.bad_location")
    return dict(location)


def _check_attributes(platform: Platform, tenant_id: str, type_name: str, attributes: Any) -> dict[str, Any]:
    if not isinstance(attributes, dict):
        raise InvalidInput("attributes must be an object", key="error.bad_attributes")
    declared = {a.name: a for a in load_type(platform, tenant_id, type_name).attributes}
    checked: dict[str, Any] = {}
    for name, value in attributes.items():
        spec = declared.get(name)
        if spec is None:
            raise InvalidInput(
                f"type {type_name} declares no attribute {name!r}", key="error.unknown_attribute", name=name
            )
        kind = spec.data_type.value
        ok = (
            (kind == "bool" and isinstance(value, bool))
            or (kind == "int" and isinstance(value, int) and not isinstance(value, bool))
            or (kind == "float" and isinstance(value, int | float) and not isinstance(value, bool))
            or (kind == "string" and isinstance(value, str) and len(value) <= 4096)
            or value is None
        )
        if not ok:
            raise InvalidInput(
                f"attribute {name!r} must be {kind}", key="error.bad_attribute_type", name=name
            )
        checked[name] = value
    return checked


def public(platform: Platform, row: Any) -> dict[str, Any]:
    seen = max(row["last_seen"] or 0, platform.last_seen(row["id"]) or 0) or None
    online = (
        seen is not None
        and now_us() - seen <= platform.settings.offline_after_s * 1_000_000
        and not platform.marked_offline(row["id"])
    )
    return {
        "id": row["id"],
        "name": row["name"],
        "type": row["type_name"],
        "labels": row["labels"],
        "location": row["location"],
        "attributes": row["attributes"],
        "status": "online" if online else "offline",
        "last_seen": to_rfc3339(seen) if seen else None,
        "twin_version": row["twin_version"],
        "created_at": to_rfc3339(row["created_at"]),
        "updated_at": to_rfc3339(row["updated_at"]),
    }


def _issue_token(conn: Connection, tenant_id: str, device_id: str) -> str:
    token = new_secret_token("dev")
    conn.execute(
        device_tokens.insert().values(
            id=token.id,
            tenant_id=tenant_id,
            device_id=device_id,
            secret_hash=hash_secret(token.secret, machine=True),
            revoked=False,
            created_at=now_us(),
        )
    )
    return str(token)


def create_device(
    platform: Platform,
    principal: Principal,
    name: str,
    type_name: str,
    labels: dict[str, str] | None = None,
    location: dict[str, Any] | None = None,
    attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A new device and its first access token (shown once; only its hash is kept)."""
    principal.require(Permission.WRITE_DEVICES)
    check_device_name(name)
    try:
        load_type(platform, principal.tenant_id, type_name)
    except NotFound as exc:
        # The device is what is missing here, not the type: a bad field of the request, so 422.
        raise InvalidInput(
            f"no device type {type_name!r} in this tenant", key="error.no_device_type", name=type_name
        ) from exc
    now = now_us()
    device_id = str(uuid.uuid4())
    values: dict[str, Any] = {
        "id": device_id,
        "tenant_id": principal.tenant_id,
        "name": name,
        "type_name": type_name,
        "labels": _check_labels(labels or {}),
        "location": _check_location(location),
        "attributes": _check_attributes(platform, principal.tenant_id, type_name, attributes or {}),
        "twin_version": 0,
        "last_seen": None,
        "created_at": now,
        "updated_at": now,
    }
    with platform.engine.begin() as conn:
        taken = conn.execute(
            select(devices.c.id).where(devices.c.tenant_id == principal.tenant_id, devices.c.name == name)
        ).first()
        if taken:
            raise Conflict(f"device {name!r} exists already", key="error.device_exists", name=name)
        conn.execute(devices.insert().values(**values))
        token = _issue_token(conn, principal.tenant_id, device_id)
        result = public(platform, values)
        audit.record(conn, principal, "create", "device", device_id, None, result)
    return {**result, "token": token}


def _row(conn: Connection, principal: Principal, device_id: str) -> Any:
    row = (
        conn.execute(
            select(devices).where(devices.c.id == device_id, devices.c.tenant_id == principal.tenant_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("no such device", key="error.no_device")
    return row


def locked_row(conn: Connection, principal: Principal, device_id: str) -> Any:
    """The device's row, locked until the transaction ends.

    Read-merge-write changes (attributes, desired state, the twin version) start here so two writers
    of one device queue up instead of losing an update: the no-op UPDATE takes PostgreSQL's row lock
    and SQLite's write lock before anything is read.
    """
    scope = (devices.c.id == device_id) & (devices.c.tenant_id == principal.tenant_id)
    if conn.execute(update(devices).where(scope).values(updated_at=devices.c.updated_at)).rowcount == 0:
        raise NotFound("no such device", key="error.no_device")
    return _row(conn, principal, device_id)


def get_device(platform: Platform, principal: Principal, device_id: str) -> dict[str, Any]:
    if principal.device_id is not None and principal.device_id != device_id:
        raise NotFound("no such device", key="error.no_device")
    if principal.device_id is None:
        principal.require(Permission.READ)
    with platform.engine.connect() as conn:
        return public(platform, _row(conn, principal, device_id))


def list_devices(
    platform: Platform, principal: Principal, query: DeviceQuery
) -> tuple[list[dict[str, Any]], int]:
    principal.require(Permission.READ)
    where: list[Any] = [devices.c.tenant_id == principal.tenant_id]
    if query.search:
        pattern = "%" + query.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            or_(devices.c.name.ilike(pattern, escape="\\"), devices.c.type_name.ilike(pattern, escape="\\"))
        )
    if query.type_name:
        where.append(devices.c.type_name == query.type_name)
    ordered = select(devices).where(*where).order_by(devices.c.name)
    with platform.engine.connect() as conn:
        if query.label is None:
            total = conn.execute(select(func.count()).select_from(devices).where(*where)).scalar_one()
            rows = conn.execute(ordered.limit(query.limit).offset(query.offset)).mappings().all()
            return [public(platform, r) for r in rows], int(total)
        # Labels are a JSON document; filtering them portably across SQLite and PostgreSQL is done here.
        key, value = query.label
        matching = [r for r in conn.execute(ordered).mappings() if r["labels"].get(key) == value]
    page = matching[query.offset : query.offset + query.limit]
    return [public(platform, r) for r in page], len(matching)


def update_device(
    platform: Platform, principal: Principal, device_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    principal.require(Permission.WRITE_DEVICES)
    with platform.engine.begin() as conn:
        row = locked_row(conn, principal, device_id)
        values: dict[str, Any] = {}
        if changes.get("labels") is not None:
            values["labels"] = _check_labels(changes["labels"])
        if "location" in changes:
            values["location"] = _check_location(changes["location"])
        if changes.get("attributes") is not None:
            merged = {**row["attributes"], **changes["attributes"]}
            merged = {k: v for k, v in merged.items() if v is not None}
            values["attributes"] = _check_attributes(platform, principal.tenant_id, row["type_name"], merged)
            values["twin_version"] = row["twin_version"] + 1
        if not values:
            return public(platform, row)
        values["updated_at"] = now_us()
        conn.execute(update(devices).where(devices.c.id == device_id).values(**values))
        after = {**row, **values}
        if "attributes" in values:
            from indunet.platform.twins import record_revision

            record_revision(
                conn,
                principal,
                device_id,
                after["twin_version"],
                "attributes",
                row["attributes"],
                values["attributes"],
            )
        audit.record(
            conn, principal, "update", "device", device_id, public(platform, row), public(platform, after)
        )
    return public(platform, after)


def delete_device(platform: Platform, principal: Principal, device_id: str) -> None:
    """Removes the device, its tokens and twin; its stored telemetry is left to retention."""
    principal.require(Permission.WRITE_DEVICES)
    with platform.engine.begin() as conn:
        row = _row(conn, principal, device_id)
        tokens = (
            conn.execute(select(device_tokens.c.id).where(device_tokens.c.device_id == device_id))
            .scalars()
            .all()
        )
        conn.execute(delete(devices).where(devices.c.id == device_id))
        audit.record(conn, principal, "delete", "device", device_id, public(platform, row), None)
    platform.forget_device(DeviceRef(row["id"], row["tenant_id"], row["name"], row["type_name"]))
    # The tokens went with the device (ON DELETE CASCADE); their cached verdicts must go too.
    for token_id in tokens:
        platform.forget_credential(token_id)


def rotate_token(platform: Platform, principal: Principal, device_id: str) -> str:
    """Revokes every token of the device and issues a new one."""
    principal.require(Permission.WRITE_DEVICES)
    with platform.engine.begin() as conn:
        _row(conn, principal, device_id)
        old = (
            conn.execute(select(device_tokens.c.id).where(device_tokens.c.device_id == device_id))
            .scalars()
            .all()
        )
        conn.execute(update(device_tokens).where(device_tokens.c.device_id == device_id).values(revoked=True))
        token = _issue_token(conn, principal.tenant_id, device_id)
        audit.record(
            conn, principal, "rotate_token", "device", device_id, {"tokens": len(old)}, {"tokens": 1}
        )
    for token_id in old:
        platform.forget_credential(token_id)
    return token


def resolve(platform: Platform, tenant_id: str, key: str) -> DeviceRef:
    """A device of the tenant by id or by name, cached for the ingest path."""
    ref = platform.devices_by_id.get(key) or platform.devices_by_name.get((tenant_id, key))
    if ref is not None and ref.tenant_id == tenant_id:
        return ref
    with platform.engine.connect() as conn:
        row = conn.execute(
            select(devices.c.id, devices.c.name, devices.c.type_name).where(
                devices.c.tenant_id == tenant_id, or_(devices.c.id == key, devices.c.name == key)
            )
        ).first()
    if row is None:
        raise NotFound(f"no device {key!r}", key="error.no_device")
    ref = DeviceRef(row.id, tenant_id, row.name, row.type_name)
    with platform.cache_lock:
        platform.devices_by_id[ref.id] = ref
        platform.devices_by_name[(tenant_id, ref.name)] = ref
    return ref


def count_devices(platform: Platform, principal: Principal) -> int:
    with platform.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(devices).where(devices.c.tenant_id == principal.tenant_id)
            ).scalar_one()
        )


def named(platform: Platform, tenant_id: str, key: str) -> DeviceRef:
    """The device a request body names: an unknown one is the request's fault (422), not a missing
    resource (404) as it is in a path."""
    try:
        return resolve(platform, tenant_id, key)
    except NotFound as exc:
        raise InvalidInput(f"no device {key!r}", key="error.no_device") from exc
