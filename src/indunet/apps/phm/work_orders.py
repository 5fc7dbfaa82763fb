"""Maintenance work orders: opened by a prediction (remaining life below a threshold) or by a person,
carried through their lifecycle by people, every step recorded.

    open ──assign──▶ assigned ──start──▶ in_progress ──complete──▶ done
      │                 │                    │
      └─────────────────┴──────cancel────────┴──────────────────▶ cancelled

``done`` needs a resolution (what was found and done: the evidence the failure database and the next
model are built from); ``cancelled`` needs a reason. A device has at most one unclosed order per
source: a prediction that stays under the threshold updates the open order's reason (the latest
remaining life and its interval) instead of opening another, and a new order opens only after the
last one is closed.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from indunet.core.errors import Conflict, InvalidInput, NotFound
from indunet.core.timeutil import now_us, to_rfc3339
from indunet.platform import audit
from indunet.platform.devices import named, resolve
from indunet.platform.runtime import Platform
from indunet.security import Permission, Principal
from indunet.store.metadata import devices
from indunet.store.phm import next_number, work_order_events, work_orders

OPEN, ASSIGNED, IN_PROGRESS, DONE, CANCELLED = "open", "assigned", "in_progress", "done", "cancelled"
STATUSES = (OPEN, ASSIGNED, IN_PROGRESS, DONE, CANCELLED)
CLOSED = (DONE, CANCELLED)
# action -> (statuses it applies to, status it leads to)
ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "assign": ((OPEN, ASSIGNED), ASSIGNED),
    "start": ((ASSIGNED,), IN_PROGRESS),
    "complete": ((IN_PROGRESS,), DONE),
    "cancel": ((OPEN, ASSIGNED, IN_PROGRESS), CANCELLED),
}
Priority = Literal["low", "medium", "high", "urgent"]
MAX_NOTE = 2000


class OrderSpec(BaseModel):
    """A work order a person opens."""

    model_config = {"extra": "forbid"}
    device: str = Field(min_length=1, max_length=128)
    title: str = Field(min_length=1, max_length=200)
    priority: Priority = "medium"
    note: str = Field(default="", max_length=MAX_NOTE)


class Step(BaseModel):
    """A lifecycle step: ``assignee`` for assign, the resolution or reason as ``note`` for complete
    and cancel."""

    model_config = {"extra": "forbid"}
    action: Literal["assign", "start", "complete", "cancel"]
    assignee: str | None = Field(default=None, min_length=1, max_length=320)
    note: str = Field(default="", max_length=MAX_NOTE)


def public(row: Any, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    def ts(value: int | None) -> str | None:
        return None if value is None else to_rfc3339(value)

    found = {
        "id": row["id"],
        "number": row["number"],
        "reference": f"WO-{row['number']:06d}",
        "device_id": row["device_id"],
        "device_name": row.get("device_name"),
        "title": row["title"],
        "source": row["source"],
        "status": row["status"],
        "priority": row["priority"],
        "reason": row["reason"],
        "assignee": row["assignee"],
        "due": ts(row["due_ts"]),
        "opened_at": ts(row["opened_at"]),
        "opened_by": row["opened_by"],
        "updated_at": ts(row["updated_at"]),
        "closed_at": ts(row["closed_at"]),
        "resolution": row["resolution"],
    }
    if events is not None:
        found["events"] = events
    return found


def _open_key(device_id: str, source: str) -> str:
    return f"{device_id}:{source}"


def _insert(
    conn: Connection,
    principal: Principal,
    device_id: str,
    title: str,
    source: str,
    priority: str,
    reason: dict[str, Any],
    due_ts: int | None,
    note: str,
) -> dict[str, Any]:
    now = now_us()
    number = next_number(conn, work_orders.c.number, work_orders.c.tenant_id == principal.tenant_id)
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "tenant_id": principal.tenant_id,
        "number": number,
        "device_id": device_id,
        "title": title,
        "source": source,
        "status": OPEN,
        "priority": priority,
        "reason": reason,
        "assignee": None,
        "due_ts": due_ts,
        "open_key": _open_key(device_id, source),
        "opened_at": now,
        "opened_by": principal.label,
        "updated_at": now,
        "closed_at": None,
        "resolution": None,
    }
    conn.execute(work_orders.insert().values(**values))
    conn.execute(
        work_order_events.insert().values(
            order_id=values["id"], at=now, actor=principal.label, status=OPEN, note=note
        )
    )
    audit.record(conn, principal, "open", "work_order", values["id"], None, public(values))
    return values


def open_order(platform: Platform, principal: Principal, spec: OrderSpec) -> dict[str, Any]:
    principal.require(Permission.WRITE_DEVICES)
    device = named(platform, principal.tenant_id, spec.device)
    for _ in range(3):
        try:
            with platform.engine.begin() as conn:
                if _unclosed(conn, _open_key(device.id, "manual")) is not None:
                    raise Conflict(
                        f"{device.name} has an unclosed manual work order",
                        key="error.work_order_open",
                        device=device.name,
                    )
                values = _insert(
                    conn, principal, device.id, spec.title, "manual", spec.priority, {}, None, spec.note
                )
            return public({**values, "device_name": device.name})
        except IntegrityError:
            continue  # another order took the number (or the key) first: look again
    raise Conflict("work orders are being opened concurrently; try again", key="error.work_order_busy")


def _unclosed(conn: Connection, key: str) -> Any:
    return conn.execute(select(work_orders).where(work_orders.c.open_key == key)).mappings().first()


def for_prediction(
    platform: Platform,
    tenant_id: str,
    device_id: str,
    model: str,
    rul: float,
    lower: float,
    threshold: float,
    ts_us: int,
    unit_s: float,
) -> tuple[dict[str, Any], bool]:
    """Open (or refresh) the device's predictive work order; returns it and whether it is new.

    ``unit_s``: seconds per unit of remaining life (3600 for operating hours), for the due date: when
    the interval's lower end runs out at the present rate of use.
    """
    principal = Principal.system(tenant_id, label="system:phm")
    reason = {
        "model": model,
        "rul": round(rul, 2),
        "rul_lower": round(lower, 2),
        "threshold": threshold,
        "at": to_rfc3339(ts_us),
    }
    due = ts_us + int(max(lower, 0.0) * unit_s * 1_000_000)
    priority = "urgent" if lower <= threshold / 4 else "high"
    key = _open_key(device_id, "prediction")
    device = resolve(platform, tenant_id, device_id)
    for _ in range(3):
        try:
            with platform.engine.begin() as conn:
                row = _unclosed(conn, key)
                if row is not None:
                    changes = {"reason": reason, "due_ts": due, "priority": priority, "updated_at": now_us()}
                    conn.execute(update(work_orders).where(work_orders.c.id == row["id"]).values(**changes))
                    return public({**row, **changes, "device_name": device.name}), False
                note = f"predicted remaining life {lower:.1f} to {rul:.1f}, below {threshold:g}"
                title = f"Predicted end of life: {device.name}"
                values = _insert(conn, principal, device_id, title, "prediction", priority, reason, due, note)
            return public({**values, "device_name": device.name}), True
        except IntegrityError:
            continue
    raise Conflict("work orders are being opened concurrently; try again", key="error.work_order_busy")


def _with_names() -> Any:
    """Orders with their device's name, which every list and page shows."""
    return select(work_orders, devices.c.name.label("device_name")).join(
        devices, devices.c.id == work_orders.c.device_id
    )


def _row(conn: Connection, tenant_id: str, number: int) -> Any:
    row = (
        conn.execute(
            _with_names().where(work_orders.c.tenant_id == tenant_id, work_orders.c.number == number)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no work order {number}", key="error.no_work_order", number=number)
    return row


def _events(conn: Connection, order_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(work_order_events)
        .where(work_order_events.c.order_id == order_id)
        .order_by(work_order_events.c.id)
    ).mappings()
    return [
        {"at": to_rfc3339(r["at"]), "actor": r["actor"], "status": r["status"], "note": r["note"]}
        for r in rows
    ]


def get(platform: Platform, principal: Principal, number: int) -> dict[str, Any]:
    principal.require(Permission.READ)
    with platform.engine.connect() as conn:
        row = _row(conn, principal.tenant_id, number)
        return public(row, _events(conn, row["id"]))


def list_orders(
    platform: Platform,
    principal: Principal,
    status: str | None = None,
    device: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    principal.require(Permission.READ)
    where = [work_orders.c.tenant_id == principal.tenant_id]
    if status == "unclosed":
        where.append(work_orders.c.status.not_in(CLOSED))
    elif status is not None:
        where.append(work_orders.c.status == status)
    if device is not None:
        where.append(work_orders.c.device_id == resolve(platform, principal.tenant_id, device).id)
    with platform.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(work_orders).where(*where)).scalar_one()
        rows = conn.execute(
            _with_names().where(*where).order_by(work_orders.c.number.desc()).limit(limit).offset(offset)
        ).mappings()
        return [public(r) for r in rows], int(total)


def step(platform: Platform, principal: Principal, number: int, change: Step) -> dict[str, Any]:
    """Move an order one step; a step its status does not allow is a 409 saying which are allowed."""
    principal.require(Permission.WRITE_DEVICES)
    allowed_from, target = ACTIONS[change.action]
    if change.action == "assign" and not change.assignee:
        raise InvalidInput("assign needs an assignee", key="error.work_order_assignee")
    if change.action in ("complete", "cancel") and not change.note.strip():
        raise InvalidInput(
            f"{change.action} needs a note: the resolution, or why it is cancelled",
            key="error.work_order_note",
        )
    now = now_us()
    with platform.engine.begin() as conn:
        row = _row(conn, principal.tenant_id, number)
        if row["status"] not in allowed_from:
            possible = [a for a, (sources, _) in ACTIONS.items() if row["status"] in sources]
            raise Conflict(
                f"WO-{number:06d} is {row['status']}: {change.action} is not possible"
                + (f" (possible: {', '.join(possible)})" if possible else " (it is closed)"),
                key="error.work_order_step",
                status=row["status"],
                action=change.action,
            )
        changes: dict[str, Any] = {"status": target, "updated_at": now}
        if change.assignee:
            changes["assignee"] = change.assignee
        if target in CLOSED:
            changes.update(closed_at=now, open_key=None, resolution=change.note)
        conn.execute(update(work_orders).where(work_orders.c.id == row["id"]).values(**changes))
        conn.execute(
            work_order_events.insert().values(
                order_id=row["id"],
                at=now,
                actor=principal.label,
                status=target,
                note=change.note or change.assignee or "",
            )
        )
        after = {**row, **changes}
        audit.record(conn, principal, change.action, "work_order", row["id"], public(row), public(after))
        return public(after, _events(conn, row["id"]))
