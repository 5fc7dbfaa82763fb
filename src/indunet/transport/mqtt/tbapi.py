"""ThingsBoard device API payloads: JSON in, platform records and replies out. No I/O."""

from __future__ import annotations

import json
from typing import Any

import orjson

from indunet.platform.telemetry_formats import Record


class BadPayload(ValueError):
    """A payload that is not the JSON shape its topic requires."""


def parse_json(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise BadPayload(f"payload is not JSON: {exc}") from None


def _record(item: Any) -> Record:
    if not isinstance(item, dict) or not item:
        raise BadPayload("telemetry must be an object, {ts, values} or a list of those")
    if "ts" in item and "values" in item:
        if not isinstance(item["ts"], int | float) or isinstance(item["ts"], bool):
            raise BadPayload("ts must be milliseconds since the epoch")
        if not isinstance(item["values"], dict):
            raise BadPayload("values must be an object")
        # ThingsBoard timestamps are epoch milliseconds; the platform's are microseconds.
        return {"ts": int(item["ts"] * 1000), "values": item["values"]}
    return {"values": item}


def telemetry_records(payload: bytes) -> list[Record]:
    """``{"k": v}``, ``{"ts": ms, "values": {...}}`` or a list of either, as ingest records."""
    data = parse_json(payload)
    items = data if isinstance(data, list) else [data]
    if not items:
        raise BadPayload("empty telemetry list")
    return [_record(item) for item in items]


def attributes(payload: bytes) -> dict[str, Any]:
    data = parse_json(payload)
    if not isinstance(data, dict) or not data:
        raise BadPayload("attributes must be a non-empty object")
    return data


def _keys(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [key.strip() for key in value.split(",") if key.strip()]
    if isinstance(value, list) and all(isinstance(key, str) for key in value):
        return value
    raise BadPayload("clientKeys and sharedKeys are comma-separated strings or lists of strings")


def attribute_request(payload: bytes) -> tuple[list[str] | None, list[str] | None, bool]:
    """(client keys, shared keys, whether each scope was asked for at all) of an attribute request.

    As in ThingsBoard, a request naming neither scope asks for everything; naming one asks only for it.
    """
    data = parse_json(payload) if payload.strip() else {}
    if not isinstance(data, dict):
        raise BadPayload("attribute request must be an object")
    client, shared = _keys(data.get("clientKeys")), _keys(data.get("sharedKeys"))
    return client, shared, client is None and shared is None


def rpc_call(payload: bytes) -> tuple[str, Any]:
    data = parse_json(payload)
    if not isinstance(data, dict) or not isinstance(data.get("method"), str):
        raise BadPayload("RPC request needs a 'method' string")
    return data["method"], data.get("params")


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()
