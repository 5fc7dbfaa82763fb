"""Rules per tenant: create, read, replace, delete (each audited), and loading them for the engine."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from indunet.core.errors import Conflict, InvalidInput, NotFound
from indunet.core.signals import Signal
from indunet.core.timeutil import now_us, to_rfc3339
from indunet.platform import audit
from indunet.platform.devices import named
from indunet.platform.devicetypes import load_type
from indunet.platform.rules.evaluate import CompiledRule
from indunet.platform.rules.model import RuleSpec, check_against_type, parse_spec
from indunet.platform.runtime import Platform
from indunet.security import Permission, Principal
from indunet.store.rules_alarms import alarm_rules

# Sent with the tenant id after every change, so running engines reload that tenant's rules.
_changes: Signal[[Platform, str]] = Signal()
on_change = _changes.connect
_changed = _changes.send


def _checked(platform: Platform, principal: Principal, spec: RuleSpec) -> tuple[RuleSpec, str | None]:
    """The spec with its device given by id, after checking type, device and points."""
    try:
        device_type = load_type(platform, principal.tenant_id, spec.type)
    except NotFound as exc:
        raise InvalidInput(
            f"no device type {spec.type!r} in this tenant", key="error.no_device_type", name=spec.type
        ) from exc
    check_against_type(spec, device_type)
    device_id = None
    if spec.device is not None:
        ref = named(platform, principal.tenant_id, spec.device)
        if ref.type_name != spec.type:
            raise InvalidInput(
                f"device {ref.name!r} is a {ref.type_name}, not a {spec.type}", key="error.rule_device_type"
            )
        device_id = ref.id
        spec = spec.model_copy(update={"device": ref.id})
    return spec, device_id


def public(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        **row["definition"],
        "created_at": to_rfc3339(row["created_at"]),
        "updated_at": to_rfc3339(row["updated_at"]),
    }


def _name_taken(conn: Connection, tenant_id: str, name: str, other_than: str | None = None) -> bool:
    where = [alarm_rules.c.tenant_id == tenant_id, alarm_rules.c.name == name]
    if other_than is not None:
        where.append(alarm_rules.c.id != other_than)
    return conn.execute(select(alarm_rules.c.id).where(*where)).first() is not None


def create_rule(platform: Platform, principal: Principal, spec: RuleSpec) -> dict[str, Any]:
    principal.require(Permission.WRITE_DEVICES)
    spec, device_id = _checked(platform, principal, spec)
    now = now_us()
    rule_id = str(uuid.uuid4())
    values: dict[str, Any] = {
        "id": rule_id,
        "tenant_id": principal.tenant_id,
        "name": spec.name,
        "type_name": spec.type,
        "device_id": device_id,
        "severity": spec.severity.value,
        "enabled": spec.enabled,
        "definition": spec.model_dump(mode="json"),
        "created_at": now,
        "updated_at": now,
    }
    with platform.engine.begin() as conn:
        if _name_taken(conn, principal.tenant_id, spec.name):
            raise Conflict(f"rule {spec.name!r} exists already", key="error.rule_exists", name=spec.name)
        conn.execute(alarm_rules.insert().values(**values))
        result = public(values)
        audit.record(conn, principal, "create", "rule", rule_id, None, result)
    _changed(platform, principal.tenant_id)
    return result


def _row(conn: Connection, principal: Principal, rule_id: str) -> Any:
    row = (
        conn.execute(
            select(alarm_rules).where(
                alarm_rules.c.id == rule_id, alarm_rules.c.tenant_id == principal.tenant_id
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("no such rule", key="error.no_rule")
    return row


def get_rule(platform: Platform, principal: Principal, rule_id: str) -> dict[str, Any]:
    principal.require(Permission.READ)
    with platform.engine.connect() as conn:
        return public(_row(conn, principal, rule_id))


def list_rules(
    platform: Platform, principal: Principal, limit: int, offset: int, type_name: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    principal.require(Permission.READ)
    where = [alarm_rules.c.tenant_id == principal.tenant_id]
    if type_name:
        where.append(alarm_rules.c.type_name == type_name)
    with platform.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(alarm_rules).where(*where)).scalar_one()
        rows = conn.execute(
            select(alarm_rules).where(*where).order_by(alarm_rules.c.name).limit(limit).offset(offset)
        ).mappings()
        return [public(r) for r in rows], int(total)


def replace_rule(platform: Platform, principal: Principal, rule_id: str, spec: RuleSpec) -> dict[str, Any]:
    principal.require(Permission.WRITE_DEVICES)
    spec, device_id = _checked(platform, principal, spec)
    with platform.engine.begin() as conn:
        row = _row(conn, principal, rule_id)
        if _name_taken(conn, principal.tenant_id, spec.name, other_than=rule_id):
            raise Conflict(f"rule {spec.name!r} exists already", key="error.rule_exists", name=spec.name)
        values = {
            "name": spec.name,
            "type_name": spec.type,
            "device_id": device_id,
            "severity": spec.severity.value,
            "enabled": spec.enabled,
            "definition": spec.model_dump(mode="json"),
            "updated_at": now_us(),
        }
        conn.execute(update(alarm_rules).where(alarm_rules.c.id == rule_id).values(**values))
        after = public({**row, **values})
        audit.record(conn, principal, "update", "rule", rule_id, public(row), after)
    _changed(platform, principal.tenant_id)
    return after


def delete_rule(platform: Platform, principal: Principal, rule_id: str) -> None:
    """Removes the rule and, with it, its alarms."""
    principal.require(Permission.WRITE_DEVICES)
    with platform.engine.begin() as conn:
        row = _row(conn, principal, rule_id)
        conn.execute(delete(alarm_rules).where(alarm_rules.c.id == rule_id))
        audit.record(conn, principal, "delete", "rule", rule_id, public(row), None)
    _changed(platform, principal.tenant_id)


def load_enabled(platform: Platform, tenant_id: str) -> list[CompiledRule]:
    """The tenant's enabled rules, compiled for evaluation."""
    with platform.engine.connect() as conn:
        rows = conn.execute(
            select(alarm_rules.c.id, alarm_rules.c.device_id, alarm_rules.c.definition).where(
                alarm_rules.c.tenant_id == tenant_id, alarm_rules.c.enabled.is_(True)
            )
        ).all()
    return [CompiledRule.build(r.id, tenant_id, r.device_id, parse_spec(r.definition)) for r in rows]


def tenants_with_rules(platform: Platform) -> list[str]:
    with platform.engine.connect() as conn:
        return list(
            conn.execute(
                select(alarm_rules.c.tenant_id).where(alarm_rules.c.enabled.is_(True)).distinct()
            ).scalars()
        )
