"""A telemetry batch as it travels the bus: validated points, keyed by a message id, and its codec.

The transport has already checked every point against its device's model and mapped it to a series
id, so a writer only stores rows and tells listeners; it never needs the model. Wire format (orjson)::

    {"v": 1, "id": msg_id, "t": tenant_id, "a": arrived_us,
     "d": [[device_id, type_name], ...],
     "r": [[device_index, point, series_id, ts_us, num, text], ...]}

``decode`` is sans-I/O and checks shape and types, so a stray message on the subject is refused with
``InvalidInput`` rather than crashing a writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from indunet.core.errors import InvalidInput

BatchRow = tuple[int, str, int, int, float | None, str | None]
"""(index into ``devices``, point, series_id, ts_us, num, text)."""

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
_VERSION = 1


@dataclass(slots=True)
class TelemetryBatch:
    msg_id: str
    tenant_id: str
    arrived_us: int
    devices: list[tuple[str, str]] = field(default_factory=list)
    """(device_id, type_name) per device in the batch."""
    rows: list[BatchRow] = field(default_factory=list)

    def store_rows(self) -> list[tuple[int, int, float | None, str | None]]:
        """The rows as the time-series store takes them: (series_id, ts_us, num, text)."""
        return [(sid, ts, num, text) for _d, _p, sid, ts, num, text in self.rows]

    def split(self, max_rows: int) -> Iterator[TelemetryBatch]:
        """Pieces of at most ``max_rows`` rows, ids ``<msg_id>.<n>``; the batch itself when it fits."""
        if len(self.rows) <= max_rows:
            yield self
            return
        for n, start in enumerate(range(0, len(self.rows), max_rows)):
            yield TelemetryBatch(
                f"{self.msg_id}.{n}",
                self.tenant_id,
                self.arrived_us,
                self.devices,
                self.rows[start : start + max_rows],
            )


def merge(msg_id: str, batches: list[TelemetryBatch]) -> TelemetryBatch:
    """One batch holding the rows of ``batches`` (all of one tenant), device slots re-numbered."""
    first = batches[0]
    merged = TelemetryBatch(msg_id, first.tenant_id, max(b.arrived_us for b in batches))
    slots: dict[str, int] = {}
    rows = merged.rows
    for batch in batches:
        if batch.tenant_id != merged.tenant_id:
            raise ValueError("batches of different tenants cannot be merged")
        renumber = []
        for device in batch.devices:
            slot = slots.get(device[0])
            if slot is None:
                slot = slots[device[0]] = len(merged.devices)
                merged.devices.append(device)
            renumber.append(slot)
        rows.extend((renumber[d], point, sid, ts, num, text) for d, point, sid, ts, num, text in batch.rows)
    return merged


def encode(batch: TelemetryBatch) -> bytes:
    return orjson.dumps(
        {
            "v": _VERSION,
            "id": batch.msg_id,
            "t": batch.tenant_id,
            "a": batch.arrived_us,
            "d": batch.devices,
            "r": batch.rows,
        }
    )


def decode(data: bytes) -> TelemetryBatch:
    if len(data) > MAX_MESSAGE_BYTES:
        raise InvalidInput(f"bus message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"bus message is not JSON: {exc}") from exc
    if not isinstance(body, dict) or body.get("v") != _VERSION:
        raise InvalidInput("bus message is not a version 1 telemetry batch")
    msg_id, tenant_id, arrived = body.get("id"), body.get("t"), body.get("a")
    if not (isinstance(msg_id, str) and msg_id and isinstance(tenant_id, str) and type(arrived) is int):
        raise InvalidInput("bus message lacks id, tenant or arrival time")
    devices = [_device(d) for d in _list(body.get("d"))]
    rows = [_row(r, len(devices)) for r in _list(body.get("r"))]
    return TelemetryBatch(msg_id, tenant_id, arrived, devices, rows)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInput("bus message devices and rows must be lists")
    return value


def _device(item: Any) -> tuple[str, str]:
    if isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item):
        return item[0], item[1]
    raise InvalidInput("bus message device must be [device_id, type_name]")


def _row(item: Any, n_devices: int) -> BatchRow:
    if isinstance(item, list) and len(item) == 6:
        device, point, sid, ts, num, text = item
        if (
            type(device) is int
            and 0 <= device < n_devices
            and isinstance(point, str)
            and type(sid) is int
            and type(ts) is int
            and (num is None) != (text is None)
            and (text is None or isinstance(text, str))
            and (num is None or type(num) in (int, float))
        ):
            return device, point, sid, ts, None if num is None else float(num), text
    raise InvalidInput("bus message row must be [device, point, series_id, ts_us, num, text]")
