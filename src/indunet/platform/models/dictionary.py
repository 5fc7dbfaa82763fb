"""A flat data dictionary of every point, attribute and command parameter across device types.

Engineers and data users read it as a table (CSV, or the console's dictionary page) to learn what a
column means, in which unit, and which public specification defines it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from indunet.platform.models.schema import DeviceType

COLUMNS = (
    "type",
    "type_version",
    "kind",
    "name",
    "description",
    "description_zh",
    "data_type",
    "unit",
    "min",
    "max",
    "access",
    "sampling_ms",
    "reference",
)

# Spreadsheets run cells starting with these as formulas (CSV injection); model files may be uploaded.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def data_dictionary(types: Iterable[DeviceType]) -> list[dict[str, Any]]:
    """One entry per point, attribute and command parameter; parameters are named ``command.param``."""
    entries: list[dict[str, Any]] = []
    for dt in types:
        for p in dt.points:
            entries.append(
                _entry(dt, "point", p.name, p.description, p.description_zh, p.data_type.value, p.unit)
                | {"min": p.min, "max": p.max, "access": p.access.value, "sampling_ms": p.sampling_ms}
            )
        for a in dt.attributes:
            entries.append(
                _entry(dt, "attribute", a.name, a.description, a.description_zh, a.data_type.value, a.unit)
            )
        for c in dt.commands:
            for q in c.params:
                name = f"{c.name}.{q.name}"
                entries.append(
                    _entry(
                        dt, "command_param", name, q.description, q.description_zh, q.data_type.value, q.unit
                    )
                    | {"min": q.min, "max": q.max}
                )
    return entries


def dictionary_csv(entries: Iterable[dict[str, Any]]) -> str:
    """The entries as CSV with a header row; empty cells for missing values."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for entry in entries:
        writer.writerow([_cell(entry.get(column)) for column in COLUMNS])
    return out.getvalue()


def _entry(
    dt: DeviceType,
    kind: str,
    name: str,
    description: str | None,
    description_zh: str | None,
    data_type: str,
    unit: str | None,
) -> dict[str, Any]:
    return {
        "type": dt.name,
        "type_version": dt.version,
        "kind": kind,
        "name": name,
        "description": description,
        "description_zh": description_zh,
        "data_type": data_type,
        "unit": unit,
        "min": None,
        "max": None,
        "access": None,
        "sampling_ms": None,
        "reference": dt.reference,
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text
