"""Sparkplug names to indunet identifiers and device types derived from births."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from indunet.platform.models import Access, DataType, dump_json, validate_device_type
from indunet.platform.naming import check_device_name
from indunet.transport.sparkplug.mapping import derive_type, device_name, identifier, points_of, type_name
from indunet.transport.sparkplug.payload import DataType as Spb
from indunet.transport.sparkplug.session import BirthMetric


def test_metric_names_become_identifiers() -> None:
    assert identifier("Inputs/Motor Temp") == "inputs_motor_temp"
    assert identifier("3phase") == "m_3phase"
    assert len(identifier("x" * 300)) == 64


@given(st.text(min_size=1, max_size=300))
def test_any_name_gives_a_valid_identifier_and_device_name(text: str) -> None:
    assert len(identifier(text)) <= 64
    check_device_name(device_name(text.replace("/", "") or "g", "n", text.replace("/", "") or None))


def test_derived_type_maps_types_units_and_only_grows() -> None:
    birth = [
        BirthMetric("Speed", Spb.DOUBLE, {"engUnit": "rpm"}),
        BirthMetric("Count", Spb.UINT32, {}),
        BirthMetric("Running", Spb.BOOLEAN, {"readOnly": True}),
        BirthMetric("Blob", Spb.BYTES, {}),
        BirthMetric("a b", Spb.STRING, {}),
        BirthMetric("a/b", Spb.STRING, {}),
    ]
    name = type_name("g", "n", "d")
    derived = derive_type(name, "g/n/d", birth, None)
    assert derived is not None
    validate_device_type(dump_json(derived))
    points = {p.name: p for p in derived.points}
    assert points["speed"].unit == "rpm" and points["speed"].data_type is DataType.FLOAT
    assert points["count"].data_type is DataType.INT
    assert points["running"].access is Access.READ
    assert "blob" not in points and len([p for p in points if p.startswith("a_b")]) == 2
    assert derive_type(name, "g/n/d", birth[:2], derived) is None
    grown = derive_type(name, "g/n/d", [BirthMetric("New", Spb.INT8, {})], derived)
    assert grown is not None and grown.version == "1.1.0" and len(grown.points) == len(derived.points) + 1
    assert list(points_of(birth)) == ["Speed", "Count", "Running", "a b", "a/b"]
