"""The hazard source registry: enterprises, their production and storage units with the hazardous
chemicals they hold, and the monitoring points bound to the units.

A unit is graded by GB 18218-2018 whenever its holdings or exposed people change; the whole calculation
is kept with it, so the console and the reports show the inputs and the arithmetic, not only the level.
Binding a monitoring point fills in the set-points (GB/T 50493-2019 for gas; the process limits given
for level, temperature, pressure and flow), creates the point's alarm rules from the templates
(``templates.py``), and puts a 30-day floor under the retention of its series. Every change is audited
and announced to the monitors of this process (``on_change``).
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from indunet.apps.safety import gbt50493, templates
from indunet.apps.safety.assess import GAS, KINDS, Limits, UnitInfo, WatchedPoint
from indunet.apps.safety.gb18218 import Holding, grade
from indunet.core.errors import Conflict, InvalidInput, NotFound
from indunet.core.signals import Signal
from indunet.core.timeutil import now_us, to_rfc3339
from indunet.core.validation import refused
from indunet.platform import audit
from indunet.platform.devices import named
from indunet.platform.devicetypes import load_type
from indunet.platform.models import DataType
from indunet.platform.rules import Notify, delete_rule
from indunet.platform.runtime import Platform
from indunet.platform.series import series_ids
from indunet.security import Permission, Principal
from indunet.store.metadata import devices
from indunet.store.retention import retention_floors
from indunet.store.safety import (
    safety_enterprises,
    safety_failures,
    safety_feature_libraries,
    safety_points,
    safety_units,
)

MIN_RETENTION_DAYS = 30
"""Records of monitoring points are kept at least this long, whatever the tenant's retention."""
RETENTION_OWNER = "safety"
MAX_HOLDINGS = 200
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_changes: Signal[[Platform, str]] = Signal()
on_change = _changes.connect
_changed = _changes.send


def credit_code_valid(code: str) -> bool:
    """The unified social credit code of GB 32100-2015: 18 characters, the last a check character."""
    if len(code) != 18 or any(c not in _CREDIT_CODE_CHARS for c in code):
        return False
    total = sum(_CREDIT_CODE_CHARS.index(c) * w for c, w in zip(code, _CREDIT_CODE_WEIGHTS, strict=False))
    return _CREDIT_CODE_CHARS[(31 - total % 31) % 31] == code[17]


# -- specs -----------------------------------------------------------------------------------------
class _Spec(BaseModel):
    model_config = {"extra": "forbid", "frozen": True, "strict": True}


class NotifyRule(_Spec):
    levels: list[Annotated[int, Field(ge=1, le=4)]] = Field(min_length=1, max_length=4)
    notify: Notify


class EnterpriseSpec(_Spec):
    name: str = Field(pattern=_NAME)
    title: str = Field(min_length=1, max_length=200)
    code: str = Field(min_length=18, max_length=18)
    region: str = Field(pattern=r"^\d{6}$")
    """The county-level administrative division code (GB/T 2260), e.g. 310116."""
    region_name: str = Field(default="", max_length=100)
    address: str = Field(default="", max_length=300)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    notify: list[NotifyRule] = Field(default_factory=list, max_length=10)

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not credit_code_valid(value):
            raise ValueError("not a unified social credit code (GB 32100-2015): check character wrong")
        return value


class HoldingSpec(_Spec):
    substance: str = Field(min_length=1, max_length=100)
    quantity_t: float = Field(ge=0, le=1e7, allow_inf_nan=False)


class Plan(_Spec):
    """The unit's rectangle on the enterprise's site plan: its south-west corner (``x`` metres east and
    ``y`` metres north of the site's origin) and its size."""

    x: float = Field(ge=-1e5, le=1e5)
    y: float = Field(ge=-1e5, le=1e5)
    width: float = Field(gt=0, le=1e5)
    height: float = Field(gt=0, le=1e5)


class UnitSpec(_Spec):
    name: str = Field(pattern=_NAME)
    enterprise: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    kind: Literal["storage", "production"]
    unit_type: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    """What the risk feature library matches on: atmospheric_storage, pressurised_storage, reaction ..."""
    exposed_people: int = Field(ge=0, le=1_000_000)
    holdings: list[HoldingSpec] = Field(default_factory=list, max_length=MAX_HOLDINGS)
    plan: Plan | None = None


class PointSpec(_Spec):
    unit: str = Field(min_length=1, max_length=64)
    device: str = Field(min_length=1, max_length=128)
    point: str = Field(min_length=1, max_length=64)
    kind: Literal["combustible", "toxic", "level", "temperature", "pressure", "flow"]
    substance: str | None = Field(default=None, max_length=100)
    measure_unit: str = Field(default="", max_length=16)
    high: float | None = Field(default=None, allow_inf_nan=False, ge=-1e9, le=1e9)
    high_high: float | None = Field(default=None, allow_inf_nan=False, ge=-1e9, le=1e9)
    low: float | None = Field(default=None, allow_inf_nan=False, ge=-1e9, le=1e9)
    low_low: float | None = Field(default=None, allow_inf_nan=False, ge=-1e9, le=1e9)
    setpoints_from: Literal["oel", "idlh"] = "oel"
    """For toxic gas: 100 %/200 % of the OEL, or 5 %/10 % of the IDLH where the standard allows it."""
    rules: bool = True
    """Create the point's alarm rules from the templates."""


def parse(model: type[_Spec], document: Any, what: str) -> Any:
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise refused(exc, what, "error.bad_safety_input", what=what) from None


# -- enterprises -----------------------------------------------------------------------------------
def public_enterprise(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "title": row["title"],
        "code": row["code"],
        "region": row["region"],
        "region_name": row["region_name"],
        "address": row["address"],
        "latitude": row["latitude"],
        "longitude": row["longitude"],
        "notify": row["notify"],
        "created_at": to_rfc3339(row["created_at"]),
        "updated_at": to_rfc3339(row["updated_at"]),
    }


def _enterprise_row(conn: Connection, tenant_id: str, key: str) -> Any:
    row = (
        conn.execute(
            select(safety_enterprises).where(
                safety_enterprises.c.tenant_id == tenant_id,
                (safety_enterprises.c.id == key) | (safety_enterprises.c.name == key),
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no enterprise {key!r}", key="error.no_enterprise", name=key)
    return row


def save_enterprise(platform: Platform, principal: Principal, spec: EnterpriseSpec) -> dict[str, Any]:
    """Create the enterprise, or replace the one of that name."""
    principal.require(Permission.WRITE_DEVICES)
    now = now_us()
    values = spec.model_dump(mode="json")
    with platform.engine.begin() as conn:
        before = (
            conn.execute(
                select(safety_enterprises).where(
                    safety_enterprises.c.tenant_id == principal.tenant_id,
                    safety_enterprises.c.name == spec.name,
                )
            )
            .mappings()
            .first()
        )
        if before is None:
            row = {"id": str(uuid.uuid4()), "tenant_id": principal.tenant_id, **values}
            row.update(created_at=now, updated_at=now)
            conn.execute(safety_enterprises.insert().values(**row))
        else:
            row = {**before, **values, "updated_at": now}
            conn.execute(
                update(safety_enterprises)
                .where(safety_enterprises.c.id == before["id"])
                .values(**values, updated_at=now)
            )
        audit.record(
            conn,
            principal,
            "create" if before is None else "update",
            "safety_enterprise",
            row["id"],
            None if before is None else public_enterprise(before),
            public_enterprise(row),
        )
    _changed(platform, principal.tenant_id)
    return public_enterprise(row)


def list_enterprises(
    platform: Platform, principal: Principal, region: str | None = None
) -> list[dict[str, Any]]:
    principal.require(Permission.READ)
    query = select(safety_enterprises).where(safety_enterprises.c.tenant_id == principal.tenant_id)
    if region:
        query = query.where(safety_enterprises.c.region.startswith(region))
    with platform.engine.connect() as conn:
        return [
            public_enterprise(r) for r in conn.execute(query.order_by(safety_enterprises.c.name)).mappings()
        ]


def get_enterprise(platform: Platform, principal: Principal, key: str) -> dict[str, Any]:
    principal.require(Permission.READ)
    with platform.engine.connect() as conn:
        return public_enterprise(_enterprise_row(conn, principal.tenant_id, key))


def delete_enterprise(platform: Platform, principal: Principal, key: str) -> None:
    principal.require(Permission.WRITE_DEVICES)
    with platform.engine.begin() as conn:
        row = _enterprise_row(conn, principal.tenant_id, key)
        unit_ids = list(
            conn.execute(select(safety_units.c.id).where(safety_units.c.enterprise_id == row["id"])).scalars()
        )
    for unit_id in unit_ids:
        delete_unit(platform, principal, unit_id)
    with platform.engine.begin() as conn:
        conn.execute(delete(safety_enterprises).where(safety_enterprises.c.id == row["id"]))
        audit.record(conn, principal, "delete", "safety_enterprise", row["id"], public_enterprise(row), None)
    _changed(platform, principal.tenant_id)


# -- units -----------------------------------------------------------------------------------------
def public_unit(row: Any, enterprise_name: str | None = None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "enterprise_id": row["enterprise_id"],
        "enterprise": enterprise_name,
        "title": row["title"],
        "kind": row["kind"],
        "unit_type": row["unit_type"],
        "exposed_people": row["exposed_people"],
        "holdings": row["holdings"],
        "grading": row["grading"],
        "r": row["r"],
        "level": row["level"],
        "major": row["major"],
        "plan": row["plan"],
        "created_at": to_rfc3339(row["created_at"]),
        "updated_at": to_rfc3339(row["updated_at"]),
    }


def _unit_query() -> Any:
    return select(safety_units, safety_enterprises.c.name.label("enterprise_name")).join(
        safety_enterprises, safety_enterprises.c.id == safety_units.c.enterprise_id
    )


def _unit_row(conn: Connection, tenant_id: str, key: str) -> Any:
    row = (
        conn.execute(
            _unit_query().where(
                safety_units.c.tenant_id == tenant_id,
                (safety_units.c.id == key) | (safety_units.c.name == key),
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no unit {key!r}", key="error.no_unit", name=key)
    return row


def save_unit(platform: Platform, principal: Principal, spec: UnitSpec) -> dict[str, Any]:
    """Create the unit, or replace the one of that name; grades it by GB 18218-2018 either way."""
    principal.require(Permission.WRITE_DEVICES)
    grading = grade([Holding(h.substance, h.quantity_t) for h in spec.holdings], spec.exposed_people)
    now = now_us()
    values = {
        "title": spec.title,
        "kind": spec.kind,
        "unit_type": spec.unit_type,
        "exposed_people": spec.exposed_people,
        "holdings": [h.model_dump() for h in spec.holdings],
        "grading": grading.to_dict(),
        "r": grading.r,
        "level": grading.level,
        "major": grading.major,
        "plan": spec.plan.model_dump() if spec.plan else None,
        "updated_at": now,
    }
    with platform.engine.begin() as conn:
        try:
            enterprise = _enterprise_row(conn, principal.tenant_id, spec.enterprise)
        except NotFound as exc:
            raise InvalidInput(
                f"no enterprise {spec.enterprise!r}", key="error.no_enterprise", name=spec.enterprise
            ) from exc
        before = (
            conn.execute(
                _unit_query().where(
                    safety_units.c.tenant_id == principal.tenant_id, safety_units.c.name == spec.name
                )
            )
            .mappings()
            .first()
        )
        if before is None:
            row = {
                "id": str(uuid.uuid4()),
                "tenant_id": principal.tenant_id,
                "enterprise_id": enterprise["id"],
                "name": spec.name,
                "created_at": now,
                **values,
            }
            conn.execute(safety_units.insert().values(**row))
        else:
            row = {**before, **values, "enterprise_id": enterprise["id"]}
            conn.execute(
                update(safety_units)
                .where(safety_units.c.id == before["id"])
                .values(**values, enterprise_id=enterprise["id"])
            )
        after = public_unit(row, enterprise["name"])
        audit.record(
            conn,
            principal,
            "create" if before is None else "update",
            "safety_unit",
            row["id"],
            None if before is None else public_unit(before, before["enterprise_name"]),
            after,
        )
    _changed(platform, principal.tenant_id)
    return after


def list_units(
    platform: Platform, principal: Principal, enterprise: str | None = None, major: bool | None = None
) -> list[dict[str, Any]]:
    principal.require(Permission.READ)
    query = _unit_query().where(safety_units.c.tenant_id == principal.tenant_id)
    with platform.engine.connect() as conn:
        if enterprise:
            query = query.where(
                safety_units.c.enterprise_id == _enterprise_row(conn, principal.tenant_id, enterprise)["id"]
            )
        if major is not None:
            query = query.where(safety_units.c.major == major)
        rows = conn.execute(query.order_by(safety_units.c.name)).mappings().all()
    return [public_unit(r, r["enterprise_name"]) for r in rows]


def get_unit(platform: Platform, principal: Principal, key: str) -> dict[str, Any]:
    principal.require(Permission.READ)
    with platform.engine.connect() as conn:
        row = _unit_row(conn, principal.tenant_id, key)
        points = _points_of(conn, [row["id"]])
    return {**public_unit(row, row["enterprise_name"]), "points": points}


def delete_unit(platform: Platform, principal: Principal, key: str) -> None:
    principal.require(Permission.WRITE_DEVICES)
    with platform.engine.connect() as conn:
        row = _unit_row(conn, principal.tenant_id, key)
        point_ids = list(
            conn.execute(select(safety_points.c.id).where(safety_points.c.unit_id == row["id"])).scalars()
        )
    for point_id in point_ids:
        unbind(platform, principal, point_id)
    with platform.engine.begin() as conn:
        conn.execute(delete(safety_units).where(safety_units.c.id == row["id"]))
        audit.record(
            conn,
            principal,
            "delete",
            "safety_unit",
            row["id"],
            public_unit(row, row["enterprise_name"]),
            None,
        )
    _changed(platform, principal.tenant_id)


# -- monitoring points ------------------------------------------------------------------------------
def _point_query() -> Any:
    return (
        select(
            safety_points,
            devices.c.name.label("device_name"),
            safety_units.c.name.label("unit_name"),
        )
        .join(devices, devices.c.id == safety_points.c.device_id)
        .join(safety_units, safety_units.c.id == safety_points.c.unit_id)
    )


def public_point(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "unit": row["unit_name"],
        "unit_id": row["unit_id"],
        "device": row["device_name"],
        "device_id": row["device_id"],
        "point": row["point"],
        "kind": row["kind"],
        "substance": row["substance"],
        "measure_unit": row["measure_unit"],
        **row["limits"],
        "basis": row["basis"],
        "rule_ids": row["rule_ids"],
        "created_at": to_rfc3339(row["created_at"]),
    }


def _points_of(conn: Connection, unit_ids: list[str]) -> list[dict[str, Any]]:
    rows = conn.execute(
        _point_query()
        .where(safety_points.c.unit_id.in_(unit_ids))
        .order_by(devices.c.name, safety_points.c.point)
    ).mappings()
    return [public_point(r) for r in rows]


def limits_of(spec: PointSpec, device_unit: str | None = None) -> tuple[Limits, str, str]:
    """The set-points of the point, the unit they are in and what they rest on."""
    if spec.kind in GAS and (spec.low is not None or spec.low_low is not None):
        raise InvalidInput(
            "gas set-points are high ones: low and low_low do not apply", key="error.limits_order"
        )
    if spec.kind == "toxic" and device_unit and (spec.measure_unit or "mg/m3") != device_unit:
        # Set-points in ppm on a reading in mg/m3 would be off by the molar volume over the molar mass.
        raise InvalidInput(
            f"the device measures in {device_unit}: give measure_unit {device_unit!r}",
            key="error.bad_measure_unit",
            unit=spec.measure_unit or "mg/m3",
        )
    if spec.kind == "combustible":
        standard = gbt50493.combustible_setpoints()
        if spec.measure_unit not in ("", standard.unit):
            raise InvalidInput(
                "combustible gas is measured in %LEL", key="error.bad_measure_unit", unit=spec.measure_unit
            )
        return _given_or(spec, standard.first, standard.second), standard.unit, standard.basis
    if spec.kind == "toxic":
        if not spec.substance:
            raise InvalidInput("a toxic gas point names its substance", key="error.toxic_needs_substance")
        unit = spec.measure_unit or "mg/m3"
        if unit not in ("mg/m3", "ppm"):
            raise InvalidInput(
                "toxic gas is measured in mg/m3 or ppm", key="error.bad_measure_unit", unit=unit
            )
        # GB/T 50493 lets the set-points rest on the IDLH where no detector available measures the OEL.
        standard = (gbt50493.idlh_setpoints if spec.setpoints_from == "idlh" else gbt50493.toxic_setpoints)(
            spec.substance, unit
        )
        return _given_or(spec, standard.first, standard.second), standard.unit, standard.basis
    limits = Limits(spec.high, spec.high_high, spec.low, spec.low_low)
    if all(v is None for v in (spec.high, spec.high_high, spec.low, spec.low_low)):
        raise InvalidInput(
            f"a {spec.kind} point needs at least one process limit (high, high_high, low, low_low)",
            key="error.point_needs_limit",
            kind=spec.kind,
        )
    _ordered(limits)
    return limits, spec.measure_unit, "process limits"


def _given_or(spec: PointSpec, first: float, second: float) -> Limits:
    """The standard's set-points unless the plant's are stricter (GB/T 50493 gives upper bounds)."""
    high = first if spec.high is None else spec.high
    high_high = second if spec.high_high is None else spec.high_high
    if high > first or high_high > second:
        raise InvalidInput(
            f"set-points above the standard's ({first:g}, {second:g}) are not allowed",
            key="error.setpoint_above_standard",
            first=first,
            second=second,
        )
    limits = Limits(high, high_high)
    _ordered(limits)
    return limits


def _ordered(limits: Limits) -> None:
    chain = [v for v in (limits.low_low, limits.low, limits.high, limits.high_high) if v is not None]
    if any(a >= b for a, b in itertools.pairwise(chain)):
        raise InvalidInput("limits must rise: low_low < low < high < high_high", key="error.limits_order")


def bind(platform: Platform, principal: Principal, spec: PointSpec) -> dict[str, Any]:
    principal.require(Permission.WRITE_DEVICES)
    if spec.kind not in KINDS:
        raise InvalidInput(f"unknown kind {spec.kind!r}", key="error.bad_point_kind")
    device = named(platform, principal.tenant_id, spec.device)
    point = load_type(platform, principal.tenant_id, device.type_name).point(spec.point)
    if point is None:
        raise InvalidInput(
            f"{device.type_name} has no point {spec.point!r}", key="error.unknown_point", point=spec.point
        )
    if point.data_type not in (DataType.INT, DataType.FLOAT):
        raise InvalidInput(
            f"point {spec.point!r} is {point.data_type.value}: monitoring needs a number",
            key="error.rule_point_not_numeric",
            point=spec.point,
        )
    limits, measure_unit, basis = limits_of(spec, point.unit)
    with platform.engine.connect() as conn:
        unit = _unit_row(conn, principal.tenant_id, spec.unit)
    rule_ids = (
        templates.create_rules(platform, principal, device, spec.point, spec.kind, limits, unit["name"])
        if spec.rules
        else []
    )
    sid = series_ids(platform, device, [spec.point], create=True)[spec.point]
    row = {
        "id": str(uuid.uuid4()),
        "tenant_id": principal.tenant_id,
        "unit_id": unit["id"],
        "device_id": device.id,
        "point": spec.point,
        "kind": spec.kind,
        "substance": spec.substance,
        "measure_unit": measure_unit or (point.unit or ""),
        "limits": limits.to_dict(),
        "basis": basis,
        "rule_ids": rule_ids,
        "created_at": now_us(),
    }
    try:
        with platform.engine.begin() as conn:
            conn.execute(safety_points.insert().values(**row))
            conn.execute(
                delete(retention_floors).where(
                    retention_floors.c.series_id == sid, retention_floors.c.owner == RETENTION_OWNER
                )
            )
            conn.execute(
                retention_floors.insert().values(
                    series_id=sid, owner=RETENTION_OWNER, min_days=MIN_RETENTION_DAYS
                )
            )
            out = public_point({**row, "device_name": device.name, "unit_name": unit["name"]})
            audit.record(conn, principal, "create", "safety_point", row["id"], None, out)
    except IntegrityError:
        for rule_id in rule_ids:
            delete_rule(platform, principal, rule_id)
        raise Conflict(
            f"{device.name}/{spec.point} is already a monitoring point",
            key="error.point_bound",
            point=spec.point,
        ) from None
    _changed(platform, principal.tenant_id)
    return out


def unbind(platform: Platform, principal: Principal, point_id: str) -> None:
    """Remove the monitoring point and its template rules. Its records keep their 30-day floor: what was
    recorded while it was watched stays a record."""
    principal.require(Permission.WRITE_DEVICES)
    with platform.engine.connect() as conn:
        row = (
            conn.execute(
                _point_query().where(
                    safety_points.c.id == point_id, safety_points.c.tenant_id == principal.tenant_id
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        raise NotFound(f"no monitoring point {point_id!r}", key="error.no_safety_point", id=point_id)
    for rule_id in row["rule_ids"]:
        with contextlib.suppress(NotFound):  # someone removed the rule by hand already
            delete_rule(platform, principal, rule_id)
    with platform.engine.begin() as conn:
        conn.execute(delete(safety_points).where(safety_points.c.id == point_id))
        audit.record(conn, principal, "delete", "safety_point", point_id, public_point(row), None)
    _changed(platform, principal.tenant_id)


def list_points(platform: Platform, principal: Principal, unit: str | None = None) -> list[dict[str, Any]]:
    principal.require(Permission.READ)
    with platform.engine.connect() as conn:
        if unit:
            return _points_of(conn, [_unit_row(conn, principal.tenant_id, unit)["id"]])
        rows = conn.execute(
            _point_query()
            .where(safety_points.c.tenant_id == principal.tenant_id)
            .order_by(devices.c.name, safety_points.c.point)
        ).mappings()
        return [public_point(r) for r in rows]


# -- for the monitor -------------------------------------------------------------------------------
def watch_config(
    platform: Platform, tenant_id: str
) -> tuple[list[UnitInfo], list[WatchedPoint], dict[str, str]]:
    """What the tenant's monitor watches: units (with the failure modes of their history), points, and
    each unit's enterprise id."""
    with platform.engine.connect() as conn:
        units = conn.execute(
            select(safety_units.c.id, safety_units.c.unit_type, safety_units.c.enterprise_id).where(
                safety_units.c.tenant_id == tenant_id
            )
        ).all()
        modes: dict[str, set[str]] = {}
        for unit_id, mode in conn.execute(
            select(safety_failures.c.unit_id, safety_failures.c.mode).where(
                safety_failures.c.tenant_id == tenant_id, safety_failures.c.unit_id.is_not(None)
            )
        ):
            modes.setdefault(unit_id, set()).add(mode)
        points = conn.execute(_point_query().where(safety_points.c.tenant_id == tenant_id)).mappings().all()
    infos = [UnitInfo(u.id, u.unit_type, frozenset(modes.get(u.id, ()))) for u in units]
    watched = [
        WatchedPoint(
            p["id"],
            p["unit_id"],
            p["device_id"],
            p["point"],
            p["kind"],
            Limits(**p["limits"]),
            f"{p['device_name']}/{p['point']}",
            p["measure_unit"],
        )
        for p in points
    ]
    return infos, watched, {u.id: u.enterprise_id for u in units}


def fingerprint(platform: Platform, tenant_id: str) -> tuple[Any, ...]:
    """Moves whenever what a monitor loads of the tenant changes: points, units, enterprises, the failure
    history and the feature library (counts catch removals, latest times catch changes)."""
    with platform.engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count(), func.max(column)).where(table.c.tenant_id == tenant_id)).one()
            for table, column in (
                (safety_points, safety_points.c.created_at),
                (safety_units, safety_units.c.updated_at),
                (safety_enterprises, safety_enterprises.c.updated_at),
                (safety_failures, safety_failures.c.created_at),
                (safety_feature_libraries, safety_feature_libraries.c.imported_at),
            )
        )


def tenants_with_units(platform: Platform) -> list[str]:
    with platform.engine.connect() as conn:
        return list(
            conn.execute(select(safety_units.c.tenant_id).group_by(safety_units.c.tenant_id)).scalars()
        )


def counts(platform: Platform, tenant_id: str) -> dict[str, int]:
    with platform.engine.connect() as conn:
        return {
            "enterprises": conn.execute(
                select(func.count())
                .select_from(safety_enterprises)
                .where(safety_enterprises.c.tenant_id == tenant_id)
            ).scalar_one(),
            "units": conn.execute(
                select(func.count()).select_from(safety_units).where(safety_units.c.tenant_id == tenant_id)
            ).scalar_one(),
            "points": conn.execute(
                select(func.count()).select_from(safety_points).where(safety_points.c.tenant_id == tenant_id)
            ).scalar_one(),
        }


__all__ = [
    "GAS",
    "EnterpriseSpec",
    "PointSpec",
    "UnitSpec",
    "bind",
    "credit_code_valid",
    "delete_enterprise",
    "delete_unit",
    "get_enterprise",
    "get_unit",
    "list_enterprises",
    "list_points",
    "list_units",
    "on_change",
    "parse",
    "save_enterprise",
    "save_unit",
    "unbind",
    "watch_config",
]
