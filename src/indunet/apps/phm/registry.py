"""The model registry: anomaly detectors trained on a device's own healthy telemetry, versioned with
their lineage and metrics, and promoted to production one version per name at a time.

Training reads the device's points over a window the engineer vouches for as healthy, fits the
detector (anomaly.py) and records, beside the document, where its rows came from (device, points,
window, row count and the SHA-256 of the matrix, so the same rows can be checked to be the same) and
what the calibration found. Promoting a version archives the one in production, and makes sure the
alarm rule that turns the detector's score into alarms exists: ``phm_anomaly`` at or above 1 for as
long as the budget's persistence asks, through the platform's own rule engine, so PHM alarms are
acknowledged, cleared, notified and audited like every other.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Connection, select, update

from indunet.apps.phm import anomaly
from indunet.apps.phm.lifetimes import Binding
from indunet.apps.phm.rows import stored_rows
from indunet.apps.phm.saved import AnyModel
from indunet.core.errors import Conflict, InvalidInput, NotFound
from indunet.core.signals import Signal
from indunet.core.timeutil import now_us, parse_timestamp, to_rfc3339
from indunet.platform import audit, rules
from indunet.platform.devices import named
from indunet.platform.devicetypes import load_type
from indunet.platform.models import DataType
from indunet.platform.runtime import Platform
from indunet.security import Permission, Principal
from indunet.store.phm import next_number, phm_models

SCORE_POINT = "phm_anomaly"
CANDIDATE, PRODUCTION, ARCHIVED = "candidate", "production", "archived"
RUL = "rul"
MAX_WINDOW_US = 366 * 86_400_000_000

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

# Sent with the tenant id after a promotion or archival, so running monitors reload.
_changes: Signal[[str]] = Signal()
on_change = _changes.connect
_changed = _changes.send


class DetectorSpec(BaseModel):
    """What an engineer asks for: learn this device's healthy behaviour of these points."""

    model_config = {"extra": "forbid"}
    name: str = Field(min_length=1, max_length=64, pattern=_NAME.pattern)
    device: str = Field(min_length=1, max_length=128)
    points: list[str] = Field(min_length=1, max_length=anomaly.MAX_INPUTS)
    start: str = Field(description="start of the healthy window (RFC 3339)")
    end: str = Field(description="end of the healthy window (RFC 3339), exclusive")
    kind: Literal["pca", "stream"] = "pca"
    false_alarms_per_day: float = Field(default=0.1, gt=0, le=1000)
    persistence: int = Field(default=3, ge=1, le=1000)
    variance: float = Field(default=0.9, gt=0, lt=1)


def public(row: Any, with_document: bool = False) -> dict[str, Any]:
    found = {
        "id": row["id"],
        "name": row["name"],
        "version": row["version"],
        "kind": row["kind"],
        "stage": row["stage"],
        "target_type": row["target_type"],
        "target_device": row["target_device"],
        "lineage": row["lineage"],
        "metrics": row["metrics"],
        "rule_id": row["rule_id"],
        "created_at": to_rfc3339(row["created_at"]),
        "created_by": row["created_by"],
        "promoted_at": None if row["promoted_at"] is None else to_rfc3339(row["promoted_at"]),
    }
    if with_document:
        found["document"] = row["document"]
    return found


def _window(spec: DetectorSpec) -> tuple[int, int]:
    start, end = parse_timestamp(spec.start), parse_timestamp(spec.end)
    if not 0 < end - start <= MAX_WINDOW_US:
        raise InvalidInput(
            "the healthy window must end after it starts and span at most 366 days", key="error.phm_window"
        )
    return start, end


def train(platform: Platform, principal: Principal, spec: DetectorSpec) -> dict[str, Any]:
    """Fit a detector on the device's healthy window and register it as the next candidate version."""
    principal.require(Permission.WRITE_DEVICES)
    device = named(platform, principal.tenant_id, spec.device)
    device_type = load_type(platform, principal.tenant_id, device.type_name)
    for point in spec.points:
        known = device_type.point(point)
        if known is None or known.data_type not in (DataType.FLOAT, DataType.INT, DataType.BOOL):
            raise InvalidInput(
                f"{device.type_name} has no numeric point {point!r}", key="error.phm_point", point=point
            )
    if len(set(spec.points)) != len(spec.points):
        raise InvalidInput("each point once", key="error.phm_points_twice")
    start, end = _window(spec)
    ts, rows = stored_rows(platform, device, spec.points, start, end)
    period = anomaly.sampling_period(ts)
    budget = anomaly.Budget(spec.false_alarms_per_day, spec.persistence)
    try:
        if spec.kind == "pca":
            detector: anomaly.Detector = anomaly.PcaDetector.fit(
                rows, spec.points, budget, period, variance=spec.variance
            )
        else:
            detector = anomaly.StreamDetector.fit(rows, spec.points, budget, period)
    except anomaly.DetectorError as exc:
        raise InvalidInput(
            f"cannot learn from that window: {exc}", key="error.phm_train", reason=str(exc)
        ) from None
    metrics: dict[str, Any] = {
        "threshold": detector.threshold,
        "period_s": period,
        "expected_false_alarms_per_day": spec.false_alarms_per_day,
    }
    if isinstance(detector, anomaly.PcaDetector):
        metrics["components"] = int(detector.loadings.shape[1])
        metrics["training_alarms"] = anomaly.alarms(detector.score(rows), spec.persistence)
    lineage = {
        "device": device.id,
        "device_name": device.name,
        "points": spec.points,
        "start": to_rfc3339(start),
        "end": to_rfc3339(end),
        "rows": len(rows),
        "sha256": hashlib.sha256(rows.tobytes()).hexdigest(),
        "settings": spec.model_dump(exclude={"name", "device", "points", "start", "end"}),
    }
    return _insert(
        platform,
        principal,
        spec.name,
        detector.kind,
        device.type_name,
        device.id,
        detector.to_dict(),
        lineage,
        metrics,
    )


def register_rul(
    platform: Platform,
    principal: Principal,
    name: str,
    type_name: str,
    model: AnyModel,
    binding: Binding,
    lineage: dict[str, Any],
    metrics: dict[str, Any],
) -> dict[str, Any]:
    """Register a fitted remaining-useful-life model for every device of a type, as the next
    candidate version of ``name``; the binding (checked by ``lifetimes.bind``) says which points feed it."""
    principal.require(Permission.WRITE_DEVICES)
    if not _NAME.match(name) or len(name) > 64:
        raise InvalidInput(f"not a model name: {name!r}", key="error.phm_name")
    document = {"model": model.to_dict(), "binding": binding.to_dict()}
    return _insert(
        platform,
        principal,
        name,
        RUL,
        type_name,
        None,
        document,
        {**lineage, "trained_by": principal.label},
        metrics,
    )


def _insert(
    platform: Platform,
    principal: Principal,
    name: str,
    kind: str,
    type_name: str,
    device_id: str | None,
    document: dict[str, Any],
    lineage: dict[str, Any],
    metrics: dict[str, Any],
) -> dict[str, Any]:
    with platform.engine.begin() as conn:
        version = next_number(
            conn,
            phm_models.c.version,
            phm_models.c.tenant_id == principal.tenant_id,
            phm_models.c.name == name,
        )
        values: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "tenant_id": principal.tenant_id,
            "name": name,
            "version": version,
            "kind": kind,
            "stage": CANDIDATE,
            "target_type": type_name,
            "target_device": device_id,
            "document": document,
            "lineage": lineage,
            "metrics": metrics,
            "created_at": now_us(),
            "created_by": principal.label,
            "promoted_at": None,
            "rule_id": None,
        }
        conn.execute(phm_models.insert().values(**values))
        result = public(values)
        audit.record(conn, principal, "create", "phm_model", values["id"], None, result)
    return result


def _row(conn: Connection, tenant_id: str, name: str, version: int) -> Any:
    row = (
        conn.execute(
            select(phm_models).where(
                phm_models.c.tenant_id == tenant_id,
                phm_models.c.name == name,
                phm_models.c.version == version,
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(
            f"no model {name} version {version}", key="error.no_phm_model", name=name, version=version
        )
    return row


def get(platform: Platform, principal: Principal, name: str, version: int) -> dict[str, Any]:
    principal.require(Permission.READ)
    with platform.engine.connect() as conn:
        return public(_row(conn, principal.tenant_id, name, version), with_document=True)


def list_models(platform: Platform, principal: Principal, name: str | None = None) -> list[dict[str, Any]]:
    principal.require(Permission.READ)
    query = select(phm_models).where(phm_models.c.tenant_id == principal.tenant_id)
    if name is not None:
        query = query.where(phm_models.c.name == name)
    with platform.engine.connect() as conn:
        rows = conn.execute(query.order_by(phm_models.c.name, phm_models.c.version.desc())).mappings()
        return [public(r) for r in rows]


def _rule_spec(row: Any) -> rules.RuleSpec:
    persistence = int(row["lineage"]["settings"]["persistence"])
    period = float(row["metrics"]["period_s"])
    return rules.RuleSpec.model_validate(
        {
            "name": f"PHM {row['name']}",
            "description": f"Anomaly score of model {row['name']} at or above 1 (its false-alarm budget).",
            "type": row["target_type"],
            "device": row["target_device"],
            "severity": "major",
            # The score must stay at or above 1 over ``persistence`` rows: one row is a lone spike.
            "condition": {
                "kind": "threshold",
                "point": SCORE_POINT,
                "high": 1.0,
                "for_s": min(7 * 86400.0, max(0.0, (persistence - 1) * period)),
            },
        }
    )


def promote(platform: Platform, principal: Principal, name: str, version: int) -> dict[str, Any]:
    """Put a version in production (the one there is archived) and make sure its alarm rule exists."""
    principal.require(Permission.WRITE_DEVICES)
    with platform.engine.connect() as conn:
        row = _row(conn, principal.tenant_id, name, version)
    if row["stage"] == ARCHIVED:
        raise Conflict(f"{name} version {version} is archived; train a new version", key="error.phm_archived")
    rule_id = None if row["kind"] == RUL else _ensure_rule(platform, principal, row)
    now = now_us()
    with platform.engine.begin() as conn:
        conn.execute(
            update(phm_models)
            .where(
                phm_models.c.tenant_id == principal.tenant_id,
                phm_models.c.name == name,
                phm_models.c.stage == PRODUCTION,
            )
            .values(stage=ARCHIVED)
        )
        conn.execute(
            update(phm_models)
            .where(phm_models.c.id == row["id"])
            .values(stage=PRODUCTION, promoted_at=now, rule_id=rule_id)
        )
        after = public(_row(conn, principal.tenant_id, name, version))
        audit.record(conn, principal, "promote", "phm_model", row["id"], public(row), after)
    _changed(principal.tenant_id)
    return after


def _ensure_rule(platform: Platform, principal: Principal, row: Any) -> str:
    """The id of the model's alarm rule, created or brought up to date."""
    point = load_type(platform, principal.tenant_id, row["target_type"]).point(SCORE_POINT)
    if point is None or point.data_type is not DataType.FLOAT:
        raise InvalidInput(
            f"device type {row['target_type']} needs a float point {SCORE_POINT!r} for the model's scores",
            key="error.phm_score_point",
            type=row["target_type"],
            point=SCORE_POINT,
        )
    spec = _rule_spec(row)
    existing = [
        r
        for r in rules.list_rules(platform, principal, 1000, 0, row["target_type"])[0]
        if r["name"] == spec.name
    ]
    rule = (
        rules.replace_rule(platform, principal, existing[0]["id"], spec)
        if existing
        else rules.create_rule(platform, principal, spec)
    )
    return str(rule["id"])


def archive(platform: Platform, principal: Principal, name: str, version: int) -> dict[str, Any]:
    """Take a version out of service (its alarm rule stays, silent, for the next version)."""
    principal.require(Permission.WRITE_DEVICES)
    with platform.engine.begin() as conn:
        row = _row(conn, principal.tenant_id, name, version)
        conn.execute(update(phm_models).where(phm_models.c.id == row["id"]).values(stage=ARCHIVED))
        after = public(_row(conn, principal.tenant_id, name, version))
        audit.record(conn, principal, "archive", "phm_model", row["id"], public(row), after)
    _changed(principal.tenant_id)
    return after


def in_production(platform: Platform, tenant_id: str | None = None) -> list[dict[str, Any]]:
    """Every production version (of one tenant or all), with documents and tenant, for monitors."""
    query = select(phm_models).where(phm_models.c.stage == PRODUCTION)
    if tenant_id is not None:
        query = query.where(phm_models.c.tenant_id == tenant_id)
    with platform.engine.connect() as conn:
        return [
            {**public(r, with_document=True), "tenant_id": r["tenant_id"]}
            for r in conn.execute(query).mappings()
        ]
