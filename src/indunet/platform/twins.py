"""Digital twins: reported state (latest value per point), desired state and revision history.

Reported state is read from the time-series store's latest samples rather than kept a second time,
so it can never disagree with the telemetry. Desired state and attribute changes bump the twin's
version and leave a revision row with the before and after images.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select, update

from indunet.core.errors import InvalidInput
from indunet.core.timeutil import now_us, to_rfc3339
from indunet.platform import audit
from indunet.platform.devices import get_device, locked_row
from indunet.platform.devicetypes import validator_for
from indunet.platform.models import Access, PointRejected, decode
from indunet.platform.runtime import DeviceRef, Platform
from indunet.platform.series import series_ids
from indunet.security import Permission, Principal
from indunet.store.metadata import devices, twin_desired, twin_revisions

MAX_HISTORY = 1000


def record_revision(
    conn: Connection,
    principal: Principal,
    device_id: str,
    version: int,
    part: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    conn.execute(
        twin_revisions.insert().values(
            tenant_id=principal.tenant_id,
            device_id=device_id,
            version=version,
            at=now_us(),
            actor=principal.label,
            part=part,
            before=before,
            after=after,
        )
    )


def reported_state(platform: Platform, device: DeviceRef) -> dict[str, dict[str, Any]]:
    device_type = validator_for(platform, device.tenant_id, device.type_name).device_type
    ids = series_ids(platform, device, (p.name for p in device_type.points), create=False)
    latest = platform.timeseries.latest(list(ids.values()))
    state: dict[str, dict[str, Any]] = {}
    for point_name, sid in ids.items():
        sample = latest.get(sid)
        point = device_type.point(point_name)
        if sample is None or point is None:
            continue
        ts, num, text = sample
        state[point_name] = {"value": decode(point, num, text), "ts": to_rfc3339(ts)}
    return state


def _desired(conn: Connection, device_id: str) -> dict[str, Any]:
    rows = conn.execute(
        select(twin_desired.c.point, twin_desired.c.value).where(twin_desired.c.device_id == device_id)
    )
    return {r.point: r.value for r in rows}


def get_twin(platform: Platform, principal: Principal, device_id: str) -> dict[str, Any]:
    device = get_device(platform, principal, device_id)
    ref = DeviceRef(device["id"], principal.tenant_id, device["name"], device["type"])
    with platform.engine.connect() as conn:
        desired = _desired(conn, device_id)
    return {
        "device": device_id,
        "version": device["twin_version"],
        "reported": reported_state(platform, ref),
        "desired": desired,
        "attributes": device["attributes"],
    }


def set_desired(
    platform: Platform, principal: Principal, device_id: str, patch: dict[str, Any]
) -> dict[str, Any]:
    """Merge ``patch`` into the desired state; a null value removes the point from it.

    Only read-write points may be desired, and each value must pass the point's type and range check.
    """
    principal.require(Permission.WRITE_DEVICES)
    device = get_device(platform, principal, device_id)
    validator = validator_for(platform, principal.tenant_id, device["type"])
    errors: list[dict[str, Any]] = []
    for name, value in patch.items():
        point = validator.device_type.point(name)
        if point is None or point.access is not Access.READ_WRITE:
            errors.append(
                {"point": name, "reason": "not_writable", "message": f"{name} is not a read-write point"}
            )
            continue
        if value is not None:
            try:
                validator.check(name, value)
            except PointRejected as exc:
                errors.append({"point": name, "reason": exc.reason, "message": exc.message})
    if errors:
        raise InvalidInput("desired state rejected", key="error.desired_rejected", errors=errors)
    now = now_us()
    with platform.engine.begin() as conn:
        version = locked_row(conn, principal, device_id)["twin_version"]
        before = _desired(conn, device_id)
        for name, value in patch.items():
            conn.execute(
                delete(twin_desired).where(
                    twin_desired.c.device_id == device_id, twin_desired.c.point == name
                )
            )
            if value is not None:
                conn.execute(
                    twin_desired.insert().values(device_id=device_id, point=name, value=value, updated_at=now)
                )
        after = _desired(conn, device_id)
        conn.execute(
            update(devices).where(devices.c.id == device_id).values(twin_version=version + 1, updated_at=now)
        )
        record_revision(conn, principal, device_id, version + 1, "desired", before, after)
        audit.record(conn, principal, "update", "twin", device_id, {"desired": before}, {"desired": after})
    return {"device": device_id, "version": version + 1, "desired": after}


def history(
    platform: Platform, principal: Principal, device_id: str, limit: int = 100
) -> list[dict[str, Any]]:
    get_device(platform, principal, device_id)
    with platform.engine.connect() as conn:
        rows = conn.execute(
            select(twin_revisions)
            .where(twin_revisions.c.device_id == device_id, twin_revisions.c.tenant_id == principal.tenant_id)
            .order_by(twin_revisions.c.version.desc(), twin_revisions.c.id.desc())
            .limit(min(limit, MAX_HISTORY))
        ).mappings()
        return [
            {
                "version": r["version"],
                "at": to_rfc3339(r["at"]),
                "actor": r["actor"],
                "part": r["part"],
                "before": r["before"],
                "after": r["after"],
            }
            for r in rows
        ]
