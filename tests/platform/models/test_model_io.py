from __future__ import annotations

import json

import pytest

from indunet.core.errors import InvalidInput, PayloadTooLarge
from indunet.platform.models import builtin_types, dump_json, load_device_type

YAML_TYPE = """
name: valve
version: 0.1.0
title: Control valve
title_zh: 调节阀
description: A pneumatic control valve.
category: valve
reference: NAMUR NE 107
points:
  - name: position
    description: Valve position
    description_zh: 阀位
    data_type: float
    unit: "%"
    min: 0
    max: 100
    access: read_write
    sampling_ms: 500
attributes:
  - name: kvs
    description: Flow coefficient
    data_type: float
    unit: m3/h
    default: 40
commands:
  - name: stroke_test
    description: Run a partial stroke test.
    params:
      - name: travel
        data_type: float
        unit: "%"
        min: 0
        max: 20
        required: false
"""


def test_yaml_load() -> None:
    dt = load_device_type(YAML_TYPE)
    assert dt.name == "valve"
    assert dt.title_zh == "调节阀"
    position = dt.point("position")
    assert position is not None and position.unit == "%" and position.sampling_ms == 500
    assert dt.attributes[0].default == 40.0
    assert dt.commands[0].params[0].required is False


def test_bytes_with_bom_and_explicit_format() -> None:
    dt = load_device_type(b"\xef\xbb\xbf" + YAML_TYPE.encode(), "yaml")
    assert dt.name == "valve"


def test_json_round_trip_through_dump() -> None:
    dt = load_device_type(YAML_TYPE)
    text = json.dumps(dump_json(dt))
    assert load_device_type(text) == dt
    assert load_device_type(text.encode(), "json") == dt


def test_dump_json_omits_missing_values() -> None:
    dumped = dump_json(load_device_type(YAML_TYPE))
    assert "description_zh" not in dumped["attributes"][0]
    assert dumped["points"][0]["min"] == 0.0


def test_validation_errors_are_flattened() -> None:
    raw = dump_json(load_device_type(YAML_TYPE))
    raw["points"][0]["name"] = "Bad Name"
    raw["points"][0]["data_type"] = "complex"
    with pytest.raises(InvalidInput) as info:
        load_device_type(json.dumps(raw))
    errors = info.value.errors
    assert {tuple(e["loc"]) for e in errors} == {("points", 0, "name"), ("points", 0, "data_type")}
    assert all(isinstance(e["msg"], str) and e["msg"] for e in errors)
    assert "device type 'valve'" in info.value.message


@pytest.mark.parametrize(
    "data",
    ["{not json", "name: [unclosed", "- a list\n- at top\n", "just text", b"\xff\xfe\x00bad"],
)
def test_syntax_and_shape_errors(data: str | bytes) -> None:
    with pytest.raises(InvalidInput):
        load_device_type(data)


def test_yaml_aliases_rejected() -> None:
    bomb = 'a: &a ["x", "x"]\nb: &b [*a, *a]\nc: [*b, *b]\n'
    with pytest.raises(InvalidInput, match="aliases are not allowed"):
        load_device_type(bomb)


def test_yaml_python_tags_rejected() -> None:
    with pytest.raises(InvalidInput):
        load_device_type("name: !!python/object/apply:os.system ['true']\n")


def test_size_limit() -> None:
    big = YAML_TYPE + "#" * (1024 * 1024)
    with pytest.raises(PayloadTooLarge):
        load_device_type(big)


def test_builtin_library() -> None:
    types = {dt.name: dt for dt in builtin_types()}
    assert set(types) == {
        "cnc_machine_tool",
        "industrial_robot",
        "flow_pressure_instrument",
        "centrifugal_pump",
        "edge_gateway",
        "ledger_witness",
        "storage_tank",
        "gas_detector",
        "toxic_gas_detector",
        "chemical_reactor",
    }
    assert "OPC 40501-1" in types["cnc_machine_tool"].reference
    assert "OPC 40010-1" in types["industrial_robot"].reference
    assert "OPC 30081" in types["flow_pressure_instrument"].reference
    for dt in types.values():
        # Gateways and ledger witnesses report on themselves; they take no commands of their own.
        reporter = dt.category in ("gateway", "security")
        # Safety instruments measure a few process values each (a gas detector one concentration).
        instrument = dt.category in ("tank", "gas_detector", "reactor")
        assert 12 <= len(dt.points) <= 30 or ((reporter or instrument) and dt.points)
        assert dt.attributes and (dt.commands or reporter)
        assert dt.title_zh and dt.description_zh
        assert all(p.description_zh for p in dt.points)
        assert all(p.unit for p in dt.points if p.data_type.numeric and p.name not in _UNITLESS)


# Counts, codes and scores: a number of things, or a ratio, has no unit.
_UNITLESS = {
    "phm_anomaly",
    "health",
    "vibration_crest_factor",
    "vibration_kurtosis",
    "part_count",
    "tool_number",
    "alarm_code",
    "device_health",
    "fault_code",
    "queue_depth",
    "samples_dropped",
    "samples_rejected",
    "samples_sent",
    "devices_total",
    "devices_connected",
    "device_errors",
    "ledger_size",
    "split_view",
    "fetch_errors",
}


def test_builtin_types_returns_a_fresh_list() -> None:
    first = builtin_types()
    first.clear()
    assert len(builtin_types()) == 10
