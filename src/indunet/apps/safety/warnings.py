"""Safety warnings: opened and escalated by a unit's conditions, disposed of by people, every step kept.

    open ──assign──▶ assigned ──act──▶ acting ──close (evidence)──▶ closed
                        ▲                │
                        └────assign──────┘            (note: any time before closed)

A unit has at most one warning not closed. Its ``level`` (1 red … 4 blue) only rises while it is open:
when the unit's conditions get worse (``condition_level`` below ``level``), or when nobody has taken
it up (still ``open``) for longer than its level allows (``levels.ESCALATE_AFTER_S``) while the
conditions persist. Conditions that clear leave the warning open at its level until people close it:
a leak that stopped by itself still needs someone to find out why. Closing needs evidence (what was
found and done, optionally photos or documents) and is refused while the conditions still hold; it
writes the incident into the failure database with the failure mode people give (or the one the
matched risk features point to).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from indunet.apps.safety.assess import Assessment
from indunet.apps.safety.levels import ESCALATE_AFTER_S, raised
from indunet.core.errors import Conflict, InvalidInput, NotFound
from indunet.core.signals import Signal
from indunet.core.timeutil import now_us, to_rfc3339
from indunet.platform import audit
from indunet.platform.runtime import Platform
from indunet.security import Permission, Principal
from indunet.store.phm import next_number
from indunet.store.safety import (
    safety_enterprises,
    safety_failures,
    safety_units,
    safety_warning_events,
    safety_warnings,
)

OPEN, ASSIGNED, ACTING, CLOSED = "open", "assigned", "acting", "closed"
STATUSES = (OPEN, ASSIGNED, ACTING, CLOSED)
# action -> (statuses it applies to, status it leads to; None keeps the status)
ACTIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "assign": ((OPEN, ASSIGNED, ACTING), ASSIGNED),
    "act": ((ASSIGNED, ACTING), ACTING),
    "note": ((OPEN, ASSIGNED, ACTING), None),
    "close": ((ACTING,), CLOSED),
}
UNCLASSIFIED = "UNCLASSIFIED"
MAX_NOTE = 2000
MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 512 * 1024
ATTACHMENT_TYPES = ("image/jpeg", "image/png", "application/pdf", "text/plain")
SYSTEM = "system:safety"


class Attachment(BaseModel):
    model_config = {"extra": "forbid", "strict": True}
    name: str = Field(min_length=1, max_length=200)
    content_type: Literal["image/jpeg", "image/png", "application/pdf", "text/plain"]
    data: str = Field(max_length=MAX_ATTACHMENT_BYTES * 4 // 3 + 8)
    """Base64."""


class Evidence(BaseModel):
    model_config = {"extra": "forbid", "strict": True}
    summary: str = Field(min_length=1, max_length=MAX_NOTE)
    measures: str = Field(default="", max_length=MAX_NOTE)
    attachments: list[Attachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class Step(BaseModel):
    """A disposal step: ``assignee`` for assign; ``note`` for act and note; ``evidence``, ``cause`` and
    optionally ``failure_mode`` for close."""

    model_config = {"extra": "forbid", "strict": True}
    action: Literal["assign", "act", "note", "close"]
    assignee: str | None = Field(default=None, min_length=1, max_length=320)
    note: str = Field(default="", max_length=MAX_NOTE)
    evidence: Evidence | None = None
    cause: Annotated[str, Field(max_length=MAX_NOTE)] = ""
    failure_mode: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class OpenWarning:
    """What the monitor keeps of a unit's open warning, so it writes only on changes."""

    id: str
    number: int
    level: int
    condition_level: int | None
    status: str
    level_since: int
    codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """A change worth telling people about."""

    warning_id: str
    number: int
    kind: str
    """``opened`` or ``escalated``."""
    level: int
    cause: str
    reasons: list[dict[str, Any]]


# Sent with the tenant id after people changed a warning, so monitors read it back.
_steps: Signal[[Platform, str]] = Signal()
on_step = _steps.connect


def label(number: int) -> str:
    return f"WRN-{number:06d}"


# -- driven by the monitor ---------------------------------------------------------------------------
def open_warnings(platform: Platform, tenant_id: str) -> dict[str, OpenWarning]:
    with platform.engine.connect() as conn:
        rows = conn.execute(
            select(safety_warnings).where(
                safety_warnings.c.tenant_id == tenant_id, safety_warnings.c.status != CLOSED
            )
        ).mappings()
        return {r["unit_id"]: _open(r) for r in rows}


def _open(row: Any) -> OpenWarning:
    return OpenWarning(
        row["id"],
        row["number"],
        row["level"],
        row["condition_level"],
        row["status"],
        row["level_since"],
        tuple(r["code"] for r in row["reasons"]),
    )


def observe(
    platform: Platform,
    tenant_id: str,
    enterprise_id: str,
    current: OpenWarning | None,
    assessment: Assessment,
) -> tuple[OpenWarning | None, list[Change]]:
    """Apply a unit's assessment to its open warning (opening one if needed); returns the warning as it
    now is and the changes people must hear of. Writes only when something changed."""
    now = assessment.ts_us
    reasons = [r.to_dict() for r in assessment.reasons]
    codes = tuple(r["code"] for r in reasons)
    cl = assessment.level
    if current is not None and current.status != CLOSED:
        return _update(platform, current, cl, reasons, codes, now)
    if cl is None:
        return current, []
    for _ in range(3):
        try:
            with platform.engine.begin() as conn:
                number = next_number(conn, safety_warnings.c.number, safety_warnings.c.tenant_id == tenant_id)
                warning_id = str(uuid.uuid4())
                conn.execute(
                    safety_warnings.insert().values(
                        id=warning_id,
                        tenant_id=tenant_id,
                        number=number,
                        enterprise_id=enterprise_id,
                        unit_id=assessment.unit_id,
                        level=cl,
                        condition_level=cl,
                        status=OPEN,
                        reasons=reasons,
                        assignee=None,
                        open_key=assessment.unit_id,
                        opened_at=now,
                        level_since=now,
                        updated_at=now,
                    )
                )
                _event(conn, warning_id, now, SYSTEM, "opened", cl, "", {"reasons": reasons})
            opened = OpenWarning(warning_id, number, cl, cl, OPEN, now, codes)
            return opened, [Change(warning_id, number, "opened", cl, "conditions", reasons)]
        except IntegrityError:
            # Another process opened the unit's warning, or took the number: use theirs.
            with platform.engine.connect() as conn:
                row = (
                    conn.execute(
                        select(safety_warnings).where(safety_warnings.c.open_key == assessment.unit_id)
                    )
                    .mappings()
                    .first()
                )
            if row is not None:
                return _update(platform, _open(row), cl, reasons, codes, now)
    raise Conflict("warnings are being opened concurrently", key="error.warning_busy")


def _update(
    platform: Platform,
    current: OpenWarning,
    cl: int | None,
    reasons: list[dict[str, Any]],
    codes: tuple[str, ...],
    now: int,
) -> tuple[OpenWarning | None, list[Change]]:
    level, cause = current.level, ""
    if cl is not None and cl < current.level:
        level, cause = cl, "conditions"
    elif (
        current.status == OPEN
        and cl is not None
        and current.level in ESCALATE_AFTER_S
        and now - current.level_since >= ESCALATE_AFTER_S[current.level] * 1_000_000
    ):
        level, cause = raised(current.level), "unattended"
    if level == current.level and cl == current.condition_level and (codes == current.codes or not codes):
        return current, []
    values: dict[str, Any] = {"condition_level": cl, "updated_at": now}
    if codes:
        values["reasons"] = reasons
    if level != current.level:
        values.update(level=level, level_since=now)
    with platform.engine.begin() as conn:
        done = conn.execute(
            update(safety_warnings)
            .where(safety_warnings.c.id == current.id, safety_warnings.c.status != CLOSED)
            .values(**values)
        ).rowcount
        if not done:
            return None, []  # people closed it meanwhile; the next assessment opens a new one if needed
        if level != current.level:
            _event(
                conn,
                current.id,
                now,
                SYSTEM,
                "escalated",
                level,
                cause,
                {"from": current.level, "reasons": reasons},
            )
        if cl is None and current.condition_level is not None:
            _event(conn, current.id, now, SYSTEM, "cleared", None, "", {})
        elif cl is not None and current.condition_level is None:
            _event(conn, current.id, now, SYSTEM, "returned", cl, "", {"reasons": reasons})
    updated = replace(
        current,
        level=level,
        condition_level=cl,
        level_since=now if level != current.level else current.level_since,
        codes=codes or current.codes,
    )
    changes = (
        [Change(current.id, current.number, "escalated", level, cause, reasons)]
        if level != current.level
        else []
    )
    return updated, changes


def _event(
    conn: Connection,
    warning_id: str,
    at: int,
    actor: str,
    kind: str,
    level: int | None,
    note: str,
    details: dict[str, Any],
) -> None:
    conn.execute(
        safety_warning_events.insert().values(
            warning_id=warning_id, at=at, actor=actor, kind=kind, level=level, note=note, details=details
        )
    )


# -- people ---------------------------------------------------------------------------------------
def _query() -> Any:
    return (
        select(
            safety_warnings,
            safety_units.c.name.label("unit_name"),
            safety_units.c.title.label("unit_title"),
            safety_units.c.unit_type.label("unit_type"),
            safety_enterprises.c.name.label("enterprise_name"),
        )
        .join(safety_units, safety_units.c.id == safety_warnings.c.unit_id)
        .join(safety_enterprises, safety_enterprises.c.id == safety_warnings.c.enterprise_id)
    )


def public(row: Any, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    def ts(value: int | None) -> str | None:
        return None if value is None else to_rfc3339(value)

    evidence = row["evidence"]
    out = {
        "id": row["id"],
        "number": row["number"],
        "label": label(row["number"]),
        "enterprise": row["enterprise_name"],
        "unit": row["unit_name"],
        "unit_id": row["unit_id"],
        "unit_title": row["unit_title"],
        "unit_type": row["unit_type"],
        "level": row["level"],
        "condition_level": row["condition_level"],
        "status": row["status"],
        "reasons": row["reasons"],
        "assignee": row["assignee"],
        "opened_at": ts(row["opened_at"]),
        "level_since": ts(row["level_since"]),
        "updated_at": ts(row["updated_at"]),
        "closed_at": ts(row["closed_at"]),
        "closed_by": row["closed_by"],
        "failure_mode": row["failure_mode"],
        "cause": row["cause"],
        "evidence": None
        if evidence is None
        else {
            "summary": evidence["summary"],
            "measures": evidence["measures"],
            "attachments": [
                {"index": i, "name": a["name"], "content_type": a["content_type"], "size": a["size"]}
                for i, a in enumerate(evidence["attachments"])
            ],
        },
    }
    if events is not None:
        out["events"] = events
    return out


def _row(conn: Connection, tenant_id: str, number: int) -> Any:
    row = (
        conn.execute(
            _query().where(safety_warnings.c.tenant_id == tenant_id, safety_warnings.c.number == number)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no warning {label(number)}", key="error.no_warning", number=number)
    return row


def _events(conn: Connection, warning_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(safety_warning_events)
        .where(safety_warning_events.c.warning_id == warning_id)
        .order_by(safety_warning_events.c.id)
    ).mappings()
    return [
        {
            "at": to_rfc3339(r["at"]),
            "actor": r["actor"],
            "kind": r["kind"],
            "level": r["level"],
            "note": r["note"],
            "details": r["details"],
        }
        for r in rows
    ]


def get(platform: Platform, principal: Principal, number: int) -> dict[str, Any]:
    principal.require(Permission.READ)
    with platform.engine.connect() as conn:
        row = _row(conn, principal.tenant_id, number)
        return public(row, _events(conn, row["id"]))


def attachment(platform: Platform, principal: Principal, number: int, index: int) -> tuple[str, str, bytes]:
    """(name, content type, bytes) of an evidence attachment."""
    principal.require(Permission.READ)
    with platform.engine.connect() as conn:
        evidence = _row(conn, principal.tenant_id, number)["evidence"]
    if evidence is None or not 0 <= index < len(evidence["attachments"]):
        raise NotFound("no such attachment", key="error.no_attachment")
    item = evidence["attachments"][index]
    return item["name"], item["content_type"], base64.b64decode(item["data"])


def list_warnings(
    platform: Platform,
    principal: Principal,
    status: str | None = None,
    unit: str | None = None,
    enterprise: str | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    principal.require(Permission.READ)
    where = [safety_warnings.c.tenant_id == principal.tenant_id]
    if status == "open":
        where.append(safety_warnings.c.status != CLOSED)
    elif status:
        if status not in STATUSES:
            raise InvalidInput(f"status is one of open, {', '.join(STATUSES)}", key="error.bad_status")
        where.append(safety_warnings.c.status == status)
    if unit:
        where.append((safety_units.c.name == unit) | (safety_units.c.id == unit))
    if enterprise:
        where.append((safety_enterprises.c.name == enterprise) | (safety_enterprises.c.id == enterprise))
    if since_us is not None:
        where.append(safety_warnings.c.opened_at >= since_us)
    if until_us is not None:
        where.append(safety_warnings.c.opened_at < until_us)
    with platform.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(_query().where(*where).subquery())).scalar_one()
        rows = conn.execute(
            _query()
            .where(*where)
            .order_by(
                safety_warnings.c.status == CLOSED,
                safety_warnings.c.level,
                safety_warnings.c.opened_at.desc(),
            )
            .limit(limit)
            .offset(offset)
        ).mappings()
        return [public(r) for r in rows], total


def _stored_evidence(evidence: Evidence) -> dict[str, Any]:
    attachments = []
    for item in evidence.attachments:
        try:
            data = base64.b64decode(item.data, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(
                f"attachment {item.name!r} is not base64", key="error.bad_attachment", name=item.name
            ) from None
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise InvalidInput(
                f"attachment {item.name!r} is larger than {MAX_ATTACHMENT_BYTES} bytes",
                key="error.attachment_too_large",
                name=item.name,
            )
        attachments.append(
            {"name": item.name, "content_type": item.content_type, "size": len(data), "data": item.data}
        )
    return {"summary": evidence.summary, "measures": evidence.measures, "attachments": attachments}


def step(platform: Platform, principal: Principal, number: int, change: Step) -> dict[str, Any]:
    principal.require(Permission.WRITE_DEVICES)
    allowed, target = ACTIONS[change.action]
    now = now_us()
    with platform.engine.begin() as conn:
        row = _row(conn, principal.tenant_id, number)
        if row["status"] not in allowed:
            raise Conflict(
                f"{label(number)} is {row['status']}: cannot {change.action}",
                key="error.warning_step",
                action=change.action,
                status=row["status"],
            )
        values: dict[str, Any] = {"updated_at": now}
        details: dict[str, Any] = {}
        if change.action == "assign":
            if not change.assignee:
                raise InvalidInput("assign needs an assignee", key="error.assignee_required")
            values["assignee"] = change.assignee
            details["assignee"] = change.assignee
        elif change.action in ("act", "note") and not change.note.strip():
            raise InvalidInput(f"{change.action} needs a note of what was done", key="error.note_required")
        elif change.action == "close":
            if change.evidence is None:
                raise InvalidInput(
                    "closing needs evidence: what was found and done", key="error.evidence_required"
                )
            if row["condition_level"] is not None:
                raise Conflict(
                    f"{label(number)}: the conditions that raised it still hold",
                    key="error.warning_conditions_hold",
                    level=row["condition_level"],
                )
            evidence = _stored_evidence(change.evidence)
            seen = _reasons_seen(conn, row)
            mode = change.failure_mode or _mode(seen) or UNCLASSIFIED
            values.update(
                open_key=None,
                closed_at=now,
                closed_by=principal.label,
                evidence=evidence,
                cause=change.cause,
                failure_mode=mode,
            )
            details.update(failure_mode=mode, attachments=len(evidence["attachments"]))
            _record_failure(conn, row, mode, _features(seen), change, now)
        if target is not None:
            values["status"] = target
        conn.execute(update(safety_warnings).where(safety_warnings.c.id == row["id"]).values(**values))
        _event(
            conn, row["id"], now, principal.label, change.action, None, change.note or change.cause, details
        )
        after = _row(conn, principal.tenant_id, number)
        audit.record(conn, principal, change.action, "safety_warning", row["id"], public(row), public(after))
        result = public(after, _events(conn, row["id"]))
    _steps.send(platform, principal.tenant_id)
    return result


def _reasons_seen(conn: Connection, row: Any) -> list[dict[str, Any]]:
    """Every reason the warning has given: its latest ones and those recorded as it opened and rose."""
    reasons = list(row["reasons"])
    for details in conn.execute(
        select(safety_warning_events.c.details).where(safety_warning_events.c.warning_id == row["id"])
    ).scalars():
        reasons.extend(details.get("reasons", []))
    return reasons


def _features(reasons: list[dict[str, Any]]) -> list[str]:
    """The risk features that matched, in the order they first did."""
    codes = (r["code"][len("feature.") :] for r in reasons if r["code"].startswith("feature."))
    return list(dict.fromkeys(codes))


def _mode(reasons: list[dict[str, Any]]) -> str | None:
    """The failure mode the matched risk features pointed to, the most severe first."""
    for reason in sorted(reasons, key=lambda r: r["level"]):
        mode = reason.get("details", {}).get("failure_mode")
        if mode:
            return str(mode)
    return None


def _record_failure(
    conn: Connection, row: Any, mode: str, features: list[str], change: Step, now: int
) -> None:
    assert change.evidence is not None
    conn.execute(
        safety_failures.insert().values(
            id=str(uuid.uuid4()),
            tenant_id=row["tenant_id"],
            unit_id=row["unit_id"],
            unit_type=row["unit_type"],
            mode=mode,
            title=change.evidence.summary[:200],
            source="warning",
            source_ref=row["id"],
            occurred_at=row["opened_at"],
            closed_at=now,
            peak_level=row["level"],
            cause=change.cause,
            actions=change.evidence.measures,
            features=features,
            created_at=now,
        )
    )
