"""Telemetry: batch ingest checked against each device's model, and the queries over stored series.

Ingest is the platform's hottest path. Per point it costs a dict lookup for the series id and one
precompiled checker call; devices, types and series ids come from the runtime caches. A bad point is
rejected with its reason and the rest of the batch is stored; the response is sent only after the
accepted rows are durable: committed by the time-series store, or, in server mode, acknowledged by
the NATS JetStream stream that writer processes commit from (``platform.ingest_service``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from indunet.bus import TelemetryBatch
from indunet.core.errors import IndunetError, InvalidInput, NotFound, PayloadTooLarge
from indunet.core.timeutil import MAX_TS_US, now_us, parse_timestamp, to_rfc3339
from indunet.platform.devices import get_device, resolve
from indunet.platform.devicetypes import validator_for
from indunet.platform.ingest_service import sink_for
from indunet.platform.models import DataType, PointRejected, decode
from indunet.platform.runtime import DeviceRef, Platform
from indunet.platform.series import series_ids, tenant_series
from indunet.platform.telemetry_formats import Record
from indunet.security import Permission, Principal
from indunet.store.metadata import tenants
from indunet.store.retention import retention_floors
from indunet.store.timeseries import MAX_SERIES_PER_CALL, ExportFormat

AGGREGATES = ("min", "max", "avg", "count", "first", "last")


@dataclass(slots=True)
class IngestResult:
    accepted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, index: int, record: Record | None, point: str | None, reason: str, message: str) -> None:
        entry: dict[str, Any] = {"record": index, "reason": reason, "message": message}
        if record is not None:
            if "line" in record:
                entry["line"] = record["line"]
            if isinstance(record.get("device"), str):
                entry["device"] = record["device"]
        if point is not None:
            entry["point"] = point
        self.rejected.append(entry)


def _device_for(platform: Platform, principal: Principal, record: Record) -> DeviceRef:
    key = record.get("device")
    if principal.device_id is not None:
        # A device token writes only its own telemetry, named or not.
        own = resolve(platform, principal.tenant_id, principal.device_id)
        if key is not None and key not in (own.id, own.name):
            raise NotFound(f"device token may not write for {key!r}", key="error.no_device")
        return own
    if not isinstance(key, str) or not key:
        raise InvalidInput("record names no device", key="error.no_device_field")
    return resolve(platform, principal.tenant_id, key)


def prepare(
    platform: Platform,
    principal: Principal,
    records: Sequence[Record],
    result: IngestResult | None = None,
    msg_id: str | None = None,
) -> tuple[IngestResult, TelemetryBatch]:
    """Check every point of ``records``; the rejections go into the result, the rest into the batch.

    Nothing is stored yet: hand the batch to ``ingest_service.sink_for(platform)``. ``msg_id`` keys
    the batch on the bus (a random one by default); a transport that can retry the very same batch
    (same points) may pass a stable one so that the retry is stored once.
    """
    principal.require(Permission.WRITE_TELEMETRY)
    result = result or IngestResult()
    limit = platform.settings.max_batch_points
    arrived = now_us()
    batch = TelemetryBatch(msg_id or uuid.uuid4().hex, principal.tenant_id, arrived)
    rows = batch.rows
    append = rows.append
    device_index: dict[str, int] = {}
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            result.reject(index, None, None, "bad_record", "record must be an object")
            continue
        values = record.get("values")
        if not isinstance(values, dict) or not values:
            result.reject(index, record, None, "bad_record", "record needs a non-empty 'values' object")
            continue
        try:
            device = _device_for(platform, principal, record)
            raw_ts = record.get("ts")
            ts = arrived if raw_ts is None else parse_timestamp(raw_ts)
            check = validator_for(platform, principal.tenant_id, device.type_name).check
        except IndunetError as exc:
            reason = "unknown_device" if isinstance(exc, NotFound) else "bad_record"
            if exc.key == "error.bad_timestamp":
                reason = "bad_timestamp"
            result.reject(index, record, None, reason, exc.message)
            continue
        checked: list[tuple[str, float | None, str | None]] = []
        for point, value in values.items():
            try:
                num, text = check(point, value)
            except PointRejected as exc:
                result.reject(index, record, point, exc.reason, exc.message)
                continue
            checked.append((point, num, text))
        if not checked:
            continue
        ids = series_ids(platform, device, (c[0] for c in checked), create=True)
        slot = device_index.get(device.id)
        if slot is None:
            slot = device_index[device.id] = len(batch.devices)
            batch.devices.append((device.id, device.type_name))
        for point, num, text in checked:
            append((slot, point, ids[point], ts, num, text))
        if len(rows) > limit:
            raise PayloadTooLarge(f"at most {limit} points per request", key="error.too_many_points")
    return result, batch


def ingest(
    platform: Platform, principal: Principal, records: Sequence[Record], result: IngestResult | None = None
) -> IngestResult:
    """Check and store ``records``; returns once the accepted points are durable (see ``indunet.bus``)."""
    checked, batch = prepare(platform, principal, records, result)
    sink_for(platform).submit(batch)
    checked.accepted = len(batch.rows)
    return checked


async def ingest_async(
    platform: Platform,
    principal: Principal,
    records: Sequence[Record],
    result: IngestResult | None = None,
    msg_id: str | None = None,
) -> IngestResult:
    """``ingest`` for asyncio transports: checks in a worker thread, then awaits durability."""
    checked, batch = await asyncio.to_thread(prepare, platform, principal, records, result, msg_id)
    await sink_for(platform).submit_async(batch)
    checked.accepted = len(batch.rows)
    return checked


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    points: tuple[str, ...] = ()
    start_us: int | None = None
    end_us: int | None = None
    limit: int = 10_000
    descending: bool = False


def _device_points(
    platform: Platform, principal: Principal, device_id: str, points: Sequence[str]
) -> tuple[DeviceRef, dict[str, Any], dict[str, int]]:
    device = get_device(platform, principal, device_id)
    ref = DeviceRef(device["id"], principal.tenant_id, device["name"], device["type"])
    device_type = validator_for(platform, principal.tenant_id, ref.type_name).device_type
    wanted = list(points) or [p.name for p in device_type.points]
    specs: dict[str, Any] = {}
    for name in wanted:
        point = device_type.point(name)
        if point is None:
            raise InvalidInput(
                f"{ref.type_name} has no point {name!r}", key="error.unknown_point", point=name
            )
        specs[name] = point
    return ref, specs, series_ids(platform, ref, wanted, create=False)


def _window(query: SeriesQuery, default_span_us: int = 3600 * 1_000_000) -> tuple[int, int]:
    end = query.end_us if query.end_us is not None else now_us() + 1
    start = query.start_us if query.start_us is not None else end - default_span_us
    if start >= end:
        raise InvalidInput("start must be before end", key="error.bad_window")
    return start, end


def raw(platform: Platform, principal: Principal, device_id: str, query: SeriesQuery) -> dict[str, Any]:
    principal.require(Permission.READ)
    ref, specs, ids = _device_points(platform, principal, device_id, query.points)
    start, end = _window(query)
    budget = platform.settings.max_query_points
    out: dict[str, list[list[Any]]] = {}
    for name, point in specs.items():
        sid = ids.get(name)
        samples = (
            []
            if sid is None
            else platform.timeseries.raw(
                sid, start, end, limit=min(query.limit, budget), descending=query.descending
            )
        )
        budget -= len(samples)
        out[name] = [[to_rfc3339(ts), decode(point, num, text)] for ts, num, text in samples]
        if budget <= 0:
            break
    return {"device": ref.id, "start": to_rfc3339(start), "end": to_rfc3339(end), "series": out}


def aggregate(
    platform: Platform,
    principal: Principal,
    device_id: str,
    query: SeriesQuery,
    interval_us: int,
    funcs: Sequence[str],
) -> dict[str, Any]:
    principal.require(Permission.READ)
    bad = [f for f in funcs if f not in AGGREGATES]
    if bad or not funcs:
        raise InvalidInput(f"aggregates must be among {', '.join(AGGREGATES)}", key="error.bad_aggregate")
    if interval_us > MAX_TS_US:
        # Longer buckets than the whole timestamp range mean nothing, and past 2**63 µs the stores
        # cannot even bind the number.
        raise InvalidInput(
            "interval may be at most the timestamp range, 1970..2200", key="error.bad_duration"
        )
    ref, specs, ids = _device_points(platform, principal, device_id, query.points)
    start, end = _window(query)
    out: dict[str, list[dict[str, Any]]] = {}
    for name, point in specs.items():
        sid = ids.get(name)
        numeric = point.data_type is not DataType.STRING
        usable = [f for f in funcs if numeric or f in ("count", "first", "last")]
        buckets = [] if sid is None else platform.timeseries.aggregate(sid, start, end, interval_us, usable)
        rendered = []
        for bucket in buckets:
            item: dict[str, Any] = {"ts": to_rfc3339(int(bucket["ts"] or 0))}
            for fn in usable:
                value = bucket.get(fn)
                if fn in ("first", "last") and value is not None:
                    value = (
                        decode(point, None, value) if isinstance(value, str) else decode(point, value, None)
                    )
                item[fn] = value
            rendered.append(item)
        out[name] = rendered
    return {
        "device": ref.id,
        "interval_us": interval_us,
        "start": to_rfc3339(start),
        "end": to_rfc3339(end),
        "series": out,
    }


def export(
    platform: Platform, principal: Principal, device_id: str, query: SeriesQuery, fmt: ExportFormat
) -> Iterator[bytes]:
    principal.require(Permission.READ)
    if fmt not in ("csv", "parquet"):
        raise InvalidInput("format must be csv or parquet", key="error.bad_format")
    ref, _specs, ids = _device_points(platform, principal, device_id, query.points)
    start, end = _window(query, default_span_us=24 * 3600 * 1_000_000)
    labels = {sid: f"{ref.name}/{name}" for name, sid in ids.items()}
    return platform.timeseries.export(labels, start, end, fmt)


def apply_retention(platform: Platform) -> dict[str, int]:
    """Delete each tenant's samples older than its retention; returns rows deleted per tenant name.

    A series with a retention floor (``store.retention``: records an application must keep, such as
    safety monitoring points) is kept for the longer of the floor and the tenant's retention."""
    now = now_us()
    day = 86_400_000_000
    deleted: dict[str, int] = {}
    with platform.engine.connect() as conn:
        rows = conn.execute(select(tenants.c.id, tenants.c.name, tenants.c.retention_days)).all()
        floors: dict[int, int] = {}
        for sid, days in conn.execute(select(retention_floors.c.series_id, retention_floors.c.min_days)):
            floors[sid] = max(days, floors.get(sid, 0))
    longest = max((r.retention_days for r in rows), default=platform.settings.default_retention_days)
    longest = max(longest, *floors.values()) if floors else longest
    # Whole partitions older than every tenant's horizon go in one cheap DROP.
    platform.timeseries.drop_partitions_before(now - longest * day)
    for row in rows:
        by_cutoff: dict[int, list[int]] = {}
        for sid in tenant_series(platform, row.id):
            days = max(row.retention_days, floors.get(sid, 0))
            by_cutoff.setdefault(now - days * day, []).append(sid)
        # A large tenant has more series than one store call takes.
        deleted[row.name] = sum(
            platform.timeseries.delete_before(ids[i : i + MAX_SERIES_PER_CALL], cutoff)
            for cutoff, ids in by_cutoff.items()
            for i in range(0, len(ids), MAX_SERIES_PER_CALL)
        )
    return deleted
