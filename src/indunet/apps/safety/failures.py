"""The failure database: what went wrong with which unit, how it showed and what was done.

Records come from three places: every closed safety warning (``warnings.step``), every maintenance work
order completed on equipment bound to a unit (``sync_work_orders``: the equipment failure behind a
prediction is part of the unit's history too), and imports of earlier records. The monitor reads the
failure modes of each unit's history: a risk feature pointing at a mode the unit has failed by before
warns one level higher.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select

from indunet.core.errors import InvalidInput
from indunet.core.timeutil import now_us, parse_timestamp, to_rfc3339
from indunet.platform import audit
from indunet.platform.runtime import Platform
from indunet.security import Permission, Principal
from indunet.store.phm import work_orders
from indunet.store.safety import safety_failures, safety_points, safety_units

EQUIPMENT_MODE = "FM-EQUIPMENT"
MAX_IMPORT = 10_000


class FailureRecord(BaseModel):
    """An earlier failure to import."""

    model_config = {"extra": "forbid", "strict": True}
    unit: str = Field(min_length=1, max_length=64)
    mode: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    title: str = Field(min_length=1, max_length=200)
    occurred_at: str = Field(min_length=1, max_length=40)
    closed_at: str | None = Field(default=None, max_length=40)
    peak_level: int | None = Field(default=None, ge=1, le=4)
    cause: str = Field(default="", max_length=2000)
    actions: str = Field(default="", max_length=2000)
    ref: str = Field(min_length=1, max_length=64)
    """The record's id in the system it comes from: importing it again changes nothing."""


def public(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "unit": row["unit_name"],
        "unit_type": row["unit_type"],
        "mode": row["mode"],
        "title": row["title"],
        "source": row["source"],
        "source_ref": row["source_ref"],
        "occurred_at": to_rfc3339(row["occurred_at"]),
        "closed_at": None if row["closed_at"] is None else to_rfc3339(row["closed_at"]),
        "peak_level": row["peak_level"],
        "cause": row["cause"],
        "actions": row["actions"],
        "features": row["features"],
    }


def _query() -> Any:
    return select(safety_failures, safety_units.c.name.label("unit_name")).outerjoin(
        safety_units, safety_units.c.id == safety_failures.c.unit_id
    )


def list_failures(
    platform: Platform,
    principal: Principal,
    unit: str | None = None,
    mode: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    principal.require(Permission.READ)
    where = [safety_failures.c.tenant_id == principal.tenant_id]
    if unit:
        where.append((safety_units.c.name == unit) | (safety_units.c.id == unit))
    if mode:
        where.append(safety_failures.c.mode == mode)
    with platform.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(_query().where(*where).subquery())).scalar_one()
        rows = conn.execute(
            _query().where(*where).order_by(safety_failures.c.occurred_at.desc()).limit(limit).offset(offset)
        ).mappings()
        return [public(r) for r in rows], total


def by_mode(platform: Platform, tenant_id: str, since_us: int, until_us: int) -> list[dict[str, Any]]:
    """Failures per mode that happened in the period, most frequent first."""
    with platform.engine.connect() as conn:
        rows = conn.execute(
            select(safety_failures.c.mode, func.count(), func.min(safety_failures.c.title))
            .where(
                safety_failures.c.tenant_id == tenant_id,
                safety_failures.c.occurred_at >= since_us,
                safety_failures.c.occurred_at < until_us,
            )
            .group_by(safety_failures.c.mode)
        ).all()
    return sorted(
        ({"mode": m, "title": t, "count": n} for m, n, t in rows), key=lambda r: (-r["count"], r["mode"])
    )


def import_records(platform: Platform, principal: Principal, records: list[FailureRecord]) -> dict[str, int]:
    """Add earlier failures; a record whose ``ref`` is known already is skipped. All or nothing."""
    principal.require(Permission.WRITE_DEVICES)
    if len(records) > MAX_IMPORT:
        raise InvalidInput(f"at most {MAX_IMPORT} records per import", key="error.too_many_records")
    now = now_us()
    added = skipped = 0
    with platform.engine.begin() as conn:
        units = {
            r.name: (r.id, r.unit_type)
            for r in conn.execute(
                select(safety_units.c.name, safety_units.c.id, safety_units.c.unit_type).where(
                    safety_units.c.tenant_id == principal.tenant_id
                )
            )
        }
        known = set(
            conn.execute(
                select(safety_failures.c.source_ref).where(
                    safety_failures.c.tenant_id == principal.tenant_id, safety_failures.c.source == "import"
                )
            ).scalars()
        )
        for index, record in enumerate(records):
            if record.unit not in units:
                raise InvalidInput(
                    f"record {index + 1}: no unit {record.unit!r}", key="error.no_unit", name=record.unit
                )
            if record.ref in known:
                skipped += 1
                continue
            unit_id, unit_type = units[record.unit]
            occurred = parse_timestamp(record.occurred_at)
            closed = parse_timestamp(record.closed_at) if record.closed_at else None
            conn.execute(
                safety_failures.insert().values(
                    id=str(uuid.uuid4()),
                    tenant_id=principal.tenant_id,
                    unit_id=unit_id,
                    unit_type=unit_type,
                    mode=record.mode,
                    title=record.title,
                    source="import",
                    source_ref=record.ref,
                    occurred_at=occurred,
                    closed_at=closed,
                    peak_level=record.peak_level,
                    cause=record.cause,
                    actions=record.actions,
                    features=[],
                    created_at=now,
                )
            )
            known.add(record.ref)
            added += 1
        audit.record(
            conn, principal, "import", "safety_failures", None, None, {"added": added, "skipped": skipped}
        )
    return {"added": added, "skipped": skipped}


def sync_work_orders(platform: Platform, tenant_id: str) -> int:
    """Record each completed work order on equipment bound to a unit once; returns how many were new."""
    with platform.engine.begin() as conn:
        rows = conn.execute(
            select(
                work_orders.c.id,
                work_orders.c.title,
                work_orders.c.opened_at,
                work_orders.c.closed_at,
                work_orders.c.resolution,
                safety_units.c.id.label("unit_id"),
                safety_units.c.unit_type,
            )
            .join(safety_points, safety_points.c.device_id == work_orders.c.device_id)
            .join(safety_units, safety_units.c.id == safety_points.c.unit_id)
            .where(
                work_orders.c.tenant_id == tenant_id,
                work_orders.c.status == "done",
                work_orders.c.id.not_in(
                    select(safety_failures.c.source_ref).where(
                        safety_failures.c.tenant_id == tenant_id, safety_failures.c.source == "work_order"
                    )
                ),
            )
        ).all()
        seen: set[str] = set()
        now = now_us()
        for row in rows:
            if row.id in seen:
                continue  # a device bound through several points is one record
            seen.add(row.id)
            conn.execute(
                safety_failures.insert().values(
                    id=str(uuid.uuid4()),
                    tenant_id=tenant_id,
                    unit_id=row.unit_id,
                    unit_type=row.unit_type,
                    mode=EQUIPMENT_MODE,
                    title=row.title[:200],
                    source="work_order",
                    source_ref=row.id,
                    occurred_at=row.opened_at,
                    closed_at=row.closed_at,
                    peak_level=None,
                    cause=row.resolution or "",
                    actions=row.resolution or "",
                    features=[],
                    created_at=now,
                )
            )
    return len(seen)
