"""From Sparkplug names and birth metrics to indunet device names, point names and device types.

Sparkplug metric names are free text with folders (``Inputs/Motor Temp``); indunet points are
identifiers (``inputs_motor_temp``). The mapping is deterministic so a restarted host maps the same
metric to the same point, and names too long or too alike get a short hash so they stay unique.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from indunet.platform.models import Access, DataType, DeviceType, Point
from indunet.transport.sparkplug.payload import FLOAT_TYPES, INTEGER_TYPES, TEXT_TYPES
from indunet.transport.sparkplug.payload import DataType as SpbType
from indunet.transport.sparkplug.session import BirthMetric

CATEGORY = "sparkplug"
_NOT_IDENT = re.compile(r"[^a-z0-9]+")
_NOT_DEVICE = re.compile(r"[^A-Za-z0-9_.:-]+")
_UNIT_KEYS = ("engUnit", "engUnits", "unit", "units", "EngUnit")
_MAX_IDENT = 64
_MAX_DEVICE = 128


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def identifier(text: str, prefix: str = "m") -> str:
    """``text`` as an indunet identifier (``^[a-z][a-z0-9_]{0,63}$``)."""
    ident = _NOT_IDENT.sub("_", text.lower()).strip("_") or prefix
    if not ident[0].isalpha():
        ident = f"{prefix}_{ident}"
    if len(ident) > _MAX_IDENT:
        ident = f"{ident[: _MAX_IDENT - 9]}_{_hash(text)}"
    return ident


def device_name(group: str, node: str, device: str | None) -> str:
    """The indunet device for an edge node (``group.node``) or one of its devices (``group.node.dev``)."""
    raw = ".".join(p for p in (group, node, device) if p is not None)
    name = _NOT_DEVICE.sub("_", raw)
    if not name[0].isalnum():
        name = f"d{name}"
    if len(name) > _MAX_DEVICE:
        name = f"{name[: _MAX_DEVICE - 9]}-{_hash(raw)}"
    return name


def type_name(group: str, node: str, device: str | None) -> str:
    return identifier(f"spb_{group}_{node}" + (f"_{device}" if device else ""), prefix="spb")


def point_type(datatype: int) -> DataType | None:
    """The indunet data type of a Sparkplug one; None for those not stored as points (bytes, sets)."""
    if datatype in INTEGER_TYPES:
        return DataType.INT
    if datatype in FLOAT_TYPES:
        return DataType.FLOAT
    if datatype == SpbType.BOOLEAN:
        return DataType.BOOL
    if datatype in TEXT_TYPES:
        return DataType.STRING
    return None


def _unit(metric: BirthMetric) -> str | None:
    for key in _UNIT_KEYS:
        value = metric.properties.get(key)
        if isinstance(value, str) and 0 < len(value.strip()) <= 32:
            return value.strip()
    return None


def points_of(metrics: Iterable[BirthMetric]) -> dict[str, Point]:
    """The points a birth declares, keyed by Sparkplug metric name."""
    points: dict[str, Point] = {}
    taken: set[str] = set()
    for metric in metrics:
        data_type = point_type(metric.datatype)
        if data_type is None:
            continue
        name = identifier(metric.name)
        if name in taken:
            # Distinct metrics that sanitise alike (``a b`` and ``a/b``) must not share a point.
            name = f"{name[: _MAX_IDENT - 9]}_{_hash(metric.name)}"
        taken.add(name)
        read_only = metric.properties.get("readOnly") is True
        points[metric.name] = Point(
            name=name,
            data_type=data_type,
            unit=_unit(metric),
            description=metric.name[:1000] or "metric",
            access=Access.READ if read_only else Access.READ_WRITE,
        )
    return points


def derive_type(
    name: str, where: str, metrics: Iterable[BirthMetric], existing: DeviceType | None
) -> DeviceType | None:
    """The device type a birth implies, merged into the one derived before; None if nothing changed.

    Points only ever get added: a later birth without a metric may be a partial one, and the stored
    series of a point must stay readable.
    """
    known = {p.name: p for p in existing.points} if existing else {}
    added = [p for p in points_of(metrics).values() if p.name not in known]
    if existing is not None and not added:
        return None
    version = "1.0.0"
    if existing is not None:
        major, minor, _ = existing.version.split("+")[0].split("-")[0].split(".")
        version = f"{major}.{int(minor) + 1}.0"
    return DeviceType(
        name=name,
        version=version,
        title=f"Sparkplug {where}"[:128],
        description=f"Derived by the Sparkplug host from the birth certificate of {where}"[:1000],
        category=CATEGORY,
        reference="Eclipse Sparkplug 3.0 (birth certificate metrics)",
        points=(*known.values(), *added),
    )
