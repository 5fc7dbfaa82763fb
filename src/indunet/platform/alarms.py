"""The alarm lifecycle: raised by rules, acknowledged and cleared by people or by the rule itself.

    active ──ack──▶ acknowledged ──clear──▶ cleared
      │                                        ▲
      └──clear──▶ cleared_unacknowledged ──ack─┘

A rule and a device have at most one open (active or acknowledged) alarm: raising it again bumps its
``count`` and ``last_ts`` (the database's unique ``open_key`` makes this hold across workers). Every
change writes an audit row in its own transaction; changes made by the rule engine are recorded as
``system:rules``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from indunet.core.errors import Conflict, InvalidInput, NotFound
from indunet.core.timeutil import now_us, to_rfc3339
from indunet.platform import audit
from indunet.platform.rules.evaluate import CompiledRule, Transition
from indunet.platform.runtime import Platform
from indunet.security import Permission, Principal
from indunet.store.metadata import devices
from indunet.store.rules_alarms import alarm_comments, alarms

ACTIVE = "active"
ACKNOWLEDGED = "acknowledged"
CLEARED_UNACKNOWLEDGED = "cleared_unacknowledged"
CLEARED = "cleared"
STATUSES = (ACTIVE, ACKNOWLEDGED, CLEARED_UNACKNOWLEDGED, CLEARED)
# Filters over the four states: ``open`` is what still needs the plant's attention.
STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    **{s: (s,) for s in STATUSES},
    "open": (ACTIVE, ACKNOWLEDGED),
    "unacknowledged": (ACTIVE, CLEARED_UNACKNOWLEDGED),
}
MAX_COMMENT = 1000


def _open_key(rule_id: str, device_id: str) -> str:
    return f"{rule_id}:{device_id}"


def _system(tenant_id: str) -> Principal:
    return Principal.system(tenant_id, label="system:rules")


def public(row: Any, device_name: str | None = None) -> dict[str, Any]:
    def ts(value: int | None) -> str | None:
        return None if value is None else to_rfc3339(value)

    return {
        "id": row["id"],
        "rule_id": row["rule_id"],
        "device_id": row["device_id"],
        "device_name": device_name,
        "name": row["name"],
        "severity": row["severity"],
        "status": row["status"],
        "message": row["message"],
        "details": row["details"],
        "count": row["count"],
        "start_ts": ts(row["start_ts"]),
        "last_ts": ts(row["last_ts"]),
        "ack_by": row["ack_by"],
        "ack_ts": ts(row["ack_ts"]),
        "cleared_by": row["cleared_by"],
        "cleared_ts": ts(row["cleared_ts"]),
    }


# -- driven by the rule engine ---------------------------------------------------------------------
def apply(platform: Platform, transition: Transition) -> tuple[dict[str, Any] | None, str]:
    """Write one transition; returns the alarm as it now is (None if there was nothing to clear) and
    what happened: ``created``, ``repeated``, ``cleared`` or ``none``."""
    if transition.kind == "clear":
        cleared = _clear_open(platform, transition)
        return cleared, "cleared" if cleared else "none"
    try:
        return _raise(platform, transition)
    except IntegrityError:
        # Another worker opened the same alarm between our look and our insert: it is a repeat now.
        return _raise(platform, transition)


def _raise(platform: Platform, t: Transition) -> tuple[dict[str, Any], str]:
    rule: CompiledRule = t.rule
    key = _open_key(rule.id, t.device_id)
    system = _system(rule.tenant_id)
    with platform.engine.begin() as conn:
        row = conn.execute(select(alarms).where(alarms.c.open_key == key)).mappings().first()
        if row is not None:
            values = {
                "count": row["count"] + 1,
                "last_ts": max(row["last_ts"], t.ts_us),
                "message": t.message,
                "details": t.details,
            }
            conn.execute(update(alarms).where(alarms.c.id == row["id"]).values(**values))
            after = {**row, **values}
            audit.record(conn, system, "repeat", "alarm", row["id"], public(row), public(after))
            return public(after), "repeated"
        values = {
            "id": str(uuid.uuid4()),
            "tenant_id": rule.tenant_id,
            "rule_id": rule.id,
            "device_id": t.device_id,
            "name": rule.name,
            "severity": rule.severity,
            "status": ACTIVE,
            "open_key": key,
            "message": t.message,
            "details": t.details,
            "count": 1,
            "start_ts": t.ts_us,
            "last_ts": t.ts_us,
            "ack_by": None,
            "ack_ts": None,
            "cleared_by": None,
            "cleared_ts": None,
        }
        conn.execute(alarms.insert().values(**values))
        audit.record(conn, system, "raise", "alarm", values["id"], None, public(values))
    return public(values), "created"


def _clear_open(platform: Platform, t: Transition) -> dict[str, Any] | None:
    key = _open_key(t.rule.id, t.device_id)
    with platform.engine.begin() as conn:
        row = conn.execute(select(alarms).where(alarms.c.open_key == key)).mappings().first()
        if row is None:
            return None
        return _clear_row(conn, _system(t.rule.tenant_id), row, t.ts_us, t.message)


def _clear_row(
    conn: Connection, principal: Principal, row: Any, ts_us: int, message: str | None = None
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": CLEARED if row["status"] == ACKNOWLEDGED else CLEARED_UNACKNOWLEDGED,
        "open_key": None,
        "cleared_by": principal.label,
        "cleared_ts": ts_us,
    }
    if message:
        values["message"] = message[:500]
    conn.execute(update(alarms).where(alarms.c.id == row["id"]).values(**values))
    after = {**row, **values}
    audit.record(conn, principal, "clear", "alarm", row["id"], public(row), public(after))
    return public(after)


# -- people ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AlarmQuery:
    limit: int = 50
    offset: int = 0
    status: str | None = None
    severity: str | None = None
    device: str | None = None
    rule_id: str | None = None


def list_alarms(
    platform: Platform, principal: Principal, query: AlarmQuery
) -> tuple[list[dict[str, Any]], int]:
    principal.require(Permission.READ)
    where: list[Any] = [alarms.c.tenant_id == principal.tenant_id]
    if query.status:
        if query.status not in STATUS_FILTERS:
            raise InvalidInput(
                f"status must be one of {', '.join(STATUS_FILTERS)}", key="error.bad_alarm_status"
            )
        where.append(alarms.c.status.in_(STATUS_FILTERS[query.status]))
    if query.severity:
        where.append(alarms.c.severity == query.severity)
    if query.device:
        where.append(or_(alarms.c.device_id == query.device, devices.c.name == query.device))
    if query.rule_id:
        where.append(alarms.c.rule_id == query.rule_id)
    joined = alarms.join(devices, devices.c.id == alarms.c.device_id)
    with platform.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(joined).where(*where)).scalar_one()
        rows = conn.execute(
            select(alarms, devices.c.name.label("device_name"))
            .select_from(joined)
            .where(*where)
            .order_by(alarms.c.start_ts.desc(), alarms.c.id)
            .limit(query.limit)
            .offset(query.offset)
        ).mappings()
        return [public(r, r["device_name"]) for r in rows], int(total)


def _row(conn: Connection, principal: Principal, alarm_id: str) -> Any:
    row = (
        conn.execute(
            select(alarms, devices.c.name.label("device_name"))
            .select_from(alarms.join(devices, devices.c.id == alarms.c.device_id))
            .where(alarms.c.id == alarm_id, alarms.c.tenant_id == principal.tenant_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("no such alarm", key="error.no_alarm")
    return row


def get_alarm(platform: Platform, principal: Principal, alarm_id: str) -> dict[str, Any]:
    principal.require(Permission.READ)
    with platform.engine.connect() as conn:
        row = _row(conn, principal, alarm_id)
        return {**public(row, row["device_name"]), "comments": _comments(conn, alarm_id)}


def acknowledge(platform: Platform, principal: Principal, alarm_id: str) -> dict[str, Any]:
    principal.require(Permission.WRITE_DEVICES)
    with platform.engine.begin() as conn:
        row = _row(conn, principal, alarm_id)
        if row["status"] not in (ACTIVE, CLEARED_UNACKNOWLEDGED):
            raise Conflict("the alarm is acknowledged already", key="error.alarm_acknowledged")
        values = {
            "status": ACKNOWLEDGED if row["status"] == ACTIVE else CLEARED,
            "ack_by": principal.label,
            "ack_ts": now_us(),
        }
        conn.execute(update(alarms).where(alarms.c.id == alarm_id).values(**values))
        after = {**row, **values}
        audit.record(conn, principal, "acknowledge", "alarm", alarm_id, public(row), public(after))
    return public(after, row["device_name"])


def clear(platform: Platform, principal: Principal, alarm_id: str) -> dict[str, Any]:
    principal.require(Permission.WRITE_DEVICES)
    with platform.engine.begin() as conn:
        row = _row(conn, principal, alarm_id)
        if row["status"] not in (ACTIVE, ACKNOWLEDGED):
            raise Conflict("the alarm is cleared already", key="error.alarm_cleared")
        cleared = _clear_row(conn, principal, row, now_us())
    return {**cleared, "device_name": row["device_name"]}


def _comments(conn: Connection, alarm_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(alarm_comments).where(alarm_comments.c.alarm_id == alarm_id).order_by(alarm_comments.c.id)
    ).mappings()
    return [{"id": r["id"], "at": to_rfc3339(r["at"]), "actor": r["actor"], "text": r["text"]} for r in rows]


def add_comment(platform: Platform, principal: Principal, alarm_id: str, text: str) -> dict[str, Any]:
    principal.require(Permission.WRITE_DEVICES)
    text = text.strip()
    if not text or len(text) > MAX_COMMENT:
        raise InvalidInput(f"a comment is 1 to {MAX_COMMENT} characters", key="error.bad_comment")
    with platform.engine.begin() as conn:
        _row(conn, principal, alarm_id)
        at = now_us()
        inserted = conn.execute(
            alarm_comments.insert().values(alarm_id=alarm_id, at=at, actor=principal.label, text=text)
        ).inserted_primary_key
        comment_id = inserted[0] if inserted else None
        comment = {"id": comment_id, "at": to_rfc3339(at), "actor": principal.label, "text": text}
        audit.record(conn, principal, "comment", "alarm", alarm_id, None, comment)
    return comment


def list_comments(platform: Platform, principal: Principal, alarm_id: str) -> list[dict[str, Any]]:
    principal.require(Permission.READ)
    with platform.engine.connect() as conn:
        _row(conn, principal, alarm_id)
        return _comments(conn, alarm_id)
