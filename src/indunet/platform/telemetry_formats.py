"""Telemetry request bodies (JSON and CSV) to a list of records ``{"device", "ts", "values"}``.

Accepted JSON shapes, each alone or as a list:
  {"records": [...]}                                      the batch envelope
  {"device": "cnc-01", "ts": 1732560000000, "values": {"spindle_speed": 1200}}
  {"ts": 1732560000000, "values": {...}}                 ThingsBoard style, device from the token
  {"spindle_speed": 1200}                                 ThingsBoard's flat form, stamped on arrival
CSV: a header row, then either the long form ``device,ts,point,value`` or the wide form
``device,ts,<point>,<point>...``; ``device`` may be left out when a device token sends. Cells are read
as JSON scalars where they parse (``12``, ``1.5``, ``true``) and as text otherwise; an empty cell is
no value. A row of the wrong width is rejected on its own; a body that is not CSV at all is refused.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson

from indunet.core.errors import InvalidInput, PayloadTooLarge

Record = dict[str, Any]
_RESERVED = frozenset({"device", "ts", "values"})


def parse_json(body: bytes, max_records: int) -> list[Record]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}", key="error.bad_json") from exc
    if isinstance(data, dict) and "records" in data:
        data = data["records"]
    items = data if isinstance(data, list) else [data]
    if len(items) > max_records:
        raise PayloadTooLarge(f"at most {max_records} records per request", key="error.too_many_records")
    records: list[Record] = []
    for item in items:
        if isinstance(item, dict) and "values" not in item and not (_RESERVED & item.keys()):
            records.append({"values": item})
        else:
            records.append(item)
    return records


def _cell(text: str) -> Any:
    if text == "":
        return None
    first = text[0]
    if first.isdigit() or first in "-+." or text in ("true", "false"):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
    return text


def parse_csv(body: bytes, max_records: int) -> tuple[list[Record], list[dict[str, Any]]]:
    """Records plus per-row rejections (rows of the wrong width)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("CSV body is not UTF-8", key="error.bad_csv") from exc
    if "\x00" in text:
        raise InvalidInput("CSV body contains NUL bytes", key="error.bad_csv")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration as exc:
        raise InvalidInput("CSV body is empty", key="error.bad_csv") from exc
    except csv.Error as exc:
        raise InvalidInput(f"CSV header unreadable: {exc}", key="error.bad_csv") from exc
    if "ts" not in header or len(set(header)) != len(header) or "" in header:
        raise InvalidInput(
            "CSV header must name a 'ts' column and unique, non-empty columns", key="error.bad_csv"
        )
    long_form = "point" in header and "value" in header
    point_at, value_at = (header.index("point"), header.index("value")) if long_form else (0, 0)
    ts_at = header.index("ts")
    device_at = header.index("device") if "device" in header else None
    point_columns = [(i, h) for i, h in enumerate(header) if h not in ("device", "ts")]
    if not long_form and not point_columns:
        raise InvalidInput("CSV header names no point columns", key="error.bad_csv")
    records: list[Record] = []
    rejected: list[dict[str, Any]] = []
    try:
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(records) >= max_records:
                raise PayloadTooLarge(
                    f"at most {max_records} CSV rows per request", key="error.too_many_records"
                )
            if len(row) != len(header):
                rejected.append(
                    {
                        "line": line_no,
                        "reason": "bad_row",
                        "message": f"line {line_no}: {len(row)} fields, header has {len(header)}",
                    }
                )
                continue
            record: Record = {"ts": _cell(row[ts_at]), "line": line_no}
            if device_at is not None:
                record["device"] = row[device_at]
            if long_form:
                record["values"] = {row[point_at]: _cell(row[value_at])}
            else:
                record["values"] = {
                    name: value for i, name in point_columns if (value := _cell(row[i])) is not None
                }
            records.append(record)
    except csv.Error as exc:
        raise InvalidInput(f"CSV unreadable at line {reader.line_num}: {exc}", key="error.bad_csv") from exc
    return records, rejected
