from __future__ import annotations

import csv
import io

from indunet.platform.models import DeviceType, builtin_types, data_dictionary, dictionary_csv

KEYS = {
    "type", "type_version", "kind", "name", "description", "description_zh", "data_type",
    "unit", "min", "max", "access", "sampling_ms", "reference",
}  # fmt: skip


def test_one_entry_per_point_attribute_and_param() -> None:
    types = builtin_types()
    entries = data_dictionary(types)
    expected = sum(len(t.points) + len(t.attributes) + sum(len(c.params) for c in t.commands) for t in types)
    assert len(entries) == expected
    assert all(set(e) == KEYS for e in entries)


def test_entry_content() -> None:
    entries = data_dictionary(builtin_types())
    by_key = {(e["type"], e["kind"], e["name"]): e for e in entries}
    speed = by_key[("cnc_machine_tool", "point", "spindle_speed")]
    assert speed["unit"] == "rpm"
    assert (speed["min"], speed["max"]) == (0.0, 24000.0)
    assert speed["access"] == "read"
    assert speed["type_version"] == "1.1.0"
    assert "OPC 40501-1" in speed["reference"]
    assert speed["description_zh"]
    override = by_key[("cnc_machine_tool", "command_param", "set_feed_override.percent")]
    assert override["max"] == 150.0 and override["access"] is None
    payload = by_key[("industrial_robot", "attribute", "payload")]
    assert payload["unit"] == "kg" and payload["min"] is None


def test_csv_rendering_and_formula_guard() -> None:
    dt = DeviceType.model_validate(
        {
            "name": "probe",
            "version": "1.0.0",
            "title": "Probe",
            "description": "d",
            "category": "test",
            "reference": "=HYPERLINK(evil)",
            "points": [
                {
                    "name": "t",
                    "description": "温度",
                    "data_type": "float",
                    "unit": "degC",
                    "min": -40,
                    "max": 85.5,
                }
            ],
        }
    )
    rows = list(csv.DictReader(io.StringIO(dictionary_csv(data_dictionary([dt])))))
    assert len(rows) == 1
    row = rows[0]
    assert row["description"] == "温度"
    assert (row["min"], row["max"]) == ("-40", "85.5")
    assert row["reference"] == "'=HYPERLINK(evil)"
    assert row["sampling_ms"] == "" and row["description_zh"] == ""
