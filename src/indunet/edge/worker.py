"""One task per field device: connect, poll or subscribe, reconnect with back-off; readings to samples.

Theory of operation. The worker connects its driver; on success it either polls every ``poll_s``
(a late poll is not made up: the next one is scheduled from now, so a slow device is sampled less
often instead of being flooded) or holds a subscription open. A TransportError from any of that
closes the driver and waits ``backoff`` before the next attempt: exponential from 1 s to 60 s with
jitter, so a hundred devices behind one failed switch do not reconnect in lock-step. DeviceErrors
(one block refused, a malformed frame) are counted and the worker goes on. A driver that hangs
despite its own timeouts is cut off by a guard timeout and treated as a transport failure, so one
device can never stall the others, which run in tasks of their own.

Readings become samples here: engineering value = raw * scale + offset, converted to the model
point's data type, grouped by timestamp (milliseconds, the platform's API resolution).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Callable, Iterable
from typing import Any

from indunet.edge.config import DeviceConfig
from indunet.edge.driver import DriverError, Reading, TransportError, Value
from indunet.edge.health import DeviceHealth
from indunet.edge.queue import Sample
from indunet.platform.models import DataType

log = logging.getLogger(__name__)

_PYTHON_TYPES: dict[DataType, type] = {
    DataType.BOOL: bool,
    DataType.INT: int,
    DataType.FLOAT: float,
    DataType.STRING: str,
}

BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 60.0
GUARD_MIN_S = 30.0


class DeviceWorker:
    def __init__(self, device: DeviceConfig, sink: Callable[[list[Sample]], None]) -> None:
        self.device = device
        self.driver = device.driver
        self.sink = sink
        self.health = DeviceHealth(device.name, device.driver_name)
        # Polls, writes and calls take turns on the connection; a subscription runs beside them.
        self.lock = asyncio.Lock()
        self._conversions = {
            name: (
                binding.scale,
                binding.offset,
                point.data_type,
                _PYTHON_TYPES[point.data_type] if binding.scale == 1.0 and binding.offset == 0.0 else None,
            )
            for name, binding in device.bindings.items()
            if (point := device.type.point(name)) is not None
        }
        self._guard_s = max(GUARD_MIN_S, 3 * device.poll_s)

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            self.health.set_state("connecting")
            try:
                async with self.lock:
                    await asyncio.wait_for(self.driver.connect(), self._guard_s)
                if failures:
                    self.health.reconnects += 1
                    log.info("%s: connected again", self.device.name)
                failures = 0
                self.health.set_state("connected")
                if self.driver.subscribes:
                    await _until(stop, self.driver.subscribe(self.emit))
                else:
                    await self._poll(stop)
            except (TransportError, TimeoutError) as exc:
                reason = str(exc) or "timed out"
                self.health.transport_errors += 1
                self.health.last_error = reason[:300]
                if failures == 0:
                    log.warning("%s: %s", self.device.name, reason)
                failures += 1
            except DriverError as exc:
                self.health.device_errors += 1
                self.health.last_error = str(exc)[:300]
                failures += 1
            except Exception as exc:  # a driver bug must not end this device for good: reconnect later
                log.exception("%s: unexpected failure", self.device.name)
                self.health.transport_errors += 1
                self.health.last_error = f"{type(exc).__name__}: {exc}"[:300]
                failures += 1
            finally:
                await self.driver.close()
            if stop.is_set():
                break
            delay = (
                min(BACKOFF_MAX_S, BACKOFF_MIN_S * 2 ** min(failures - 1, 10)) if failures else BACKOFF_MIN_S
            )
            delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not secrets
            self.health.retry_in_s = round(delay, 1)
            self.health.set_state("backoff")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _poll(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        period = self.device.poll_s
        due = loop.time()
        # One stop waiter for the whole connection and a timeout scope for the guard: wait_for would
        # start a task per poll for each, which at short periods costs more than the poll's decoding.
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                started = loop.time()
                async with self.lock:
                    async with asyncio.timeout(self._guard_s):
                        result = await self.driver.read()
                errors = [str(e) for e in result.errors]
                self.health.polled(loop.time() - started, len(result.readings), errors)
                if result.readings:
                    self.emit(result.readings)
                due = max(due + period, loop.time())
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.wait({stopper}, timeout=delay)
                else:
                    await asyncio.sleep(0)  # overdue: poll again, but let the other devices run first
        finally:
            stopper.cancel()

    def emit(self, readings: list[Reading]) -> None:
        self.sink(list(self.samples(readings)))

    def samples(self, readings: Iterable[Reading]) -> Iterable[Sample]:
        by_ts: dict[int, dict[str, Any]] = {}
        last_ts, values = -1, {}
        conversions = self._conversions
        for point, raw, ts_us in readings:
            conversion = conversions.get(point)
            if conversion is None:
                continue
            scale, offset, data_type, as_is = conversion
            # The common case, a value already of the point's type and unscaled, takes no call at all.
            if type(raw) is as_is and (as_is is not float or math.isfinite(raw)):  # type: ignore[arg-type]
                value: Value | None = raw
            else:
                value = engineering(raw, scale, offset, data_type)
            if value is None:
                continue
            ts_ms = ts_us // 1000
            if ts_ms != last_ts:
                last_ts, values = ts_ms, by_ts.setdefault(ts_ms, {})
            values[point] = value
        for ts_ms, grouped in by_ts.items():
            yield Sample(self.device.name, ts_ms, grouped)


def engineering(raw: Value, scale: float, offset: float, data_type: DataType) -> Value | None:
    """The model value of a raw reading, or None when it cannot be one (a NaN register, say)."""
    if data_type is DataType.STRING:
        return raw if isinstance(raw, str) else str(raw)
    if data_type is DataType.BOOL:
        return bool(raw) if isinstance(raw, bool | int) else None
    if isinstance(raw, str):
        return None
    value = float(raw) * scale + offset if (scale != 1.0 or offset != 0.0) else raw
    if value != value or value in (float("inf"), float("-inf")):  # NaN and infinities are not values
        return None
    if data_type is DataType.INT:
        return round(value)
    return float(value)


def raw_value(value: Any, scale: float, offset: float, raw_type: DataType | None) -> Value:
    """The raw value to write for a model value: the inverse of ``engineering``."""
    if isinstance(value, bool | str) or (scale == 1.0 and offset == 0.0):
        result: Value = value
    else:
        result = (float(value) - offset) / scale
    if raw_type is DataType.INT and isinstance(result, float):
        return round(result)
    if raw_type is DataType.FLOAT and isinstance(result, int) and not isinstance(result, bool):
        return float(result)
    return result


async def _until(stop: asyncio.Event, work: Any) -> None:
    """Run ``work`` until it ends or ``stop`` is set, whichever comes first."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if task.done() and not task.cancelled():
        error = task.exception()
        if error is not None:
            raise error
