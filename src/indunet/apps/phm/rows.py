"""Rows of several points of one device, from telemetry that arrives point by point.

Devices report their points at their own times (a gateway polls registers in turn, OPC UA reports
changes only), so a row at time ``t`` holds each point's latest value at or before ``t``: sample and
hold, the way a SCADA historian interpolates "previous value". A row exists once every point has a
value and at most ``max_hold_s`` old, so a point that stopped reporting does not stand in for a
present it never saw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from indunet.platform.runtime import DeviceRef, Platform
from indunet.platform.series import read_points, series_ids

MAX_HOLD_S = 600.0


def held_rows(
    stamps: Sequence[np.ndarray], values: Sequence[np.ndarray], max_hold_s: float = MAX_HOLD_S
) -> tuple[np.ndarray, np.ndarray]:
    """(ts, rows) at every distinct time any point was sampled, each point held (batch form)."""
    every = (
        np.unique(np.concatenate([np.asarray(s, dtype=np.int64) for s in stamps])) if stamps else np.empty(0)
    )
    if not len(every):
        return np.empty(0, dtype=np.int64), np.empty((0, len(stamps)))
    columns = []
    valid = np.ones(len(every), dtype=bool)
    hold_us = int(max_hold_s * 1e6)
    for ts, vals in zip(stamps, values, strict=True):
        at = np.searchsorted(ts, every, side="right") - 1
        present = at >= 0
        safe = np.where(present, at, 0)
        fresh = present & (every - np.asarray(ts)[safe] <= hold_us) if len(ts) else present
        column = np.where(fresh, np.asarray(vals)[safe] if len(vals) else np.nan, np.nan)
        valid &= fresh & np.isfinite(column)
        columns.append(column)
    return every[valid], np.column_stack(columns)[valid]


def stored_rows(
    platform: Platform, device: DeviceRef, points: Sequence[str], start_us: int, end_us: int
) -> tuple[np.ndarray, np.ndarray]:
    """The device's held rows of ``points`` in ``[start_us, end_us)`` from the time-series store."""
    sids = series_ids(platform, device, points, create=False)
    stamps, values = [], []
    for point in points:
        if point not in sids:
            return np.empty(0, dtype=np.int64), np.empty((0, len(points)))
        ts, vals = read_points(platform, sids[point], start_us, end_us)
        stamps.append(ts)
        values.append(vals)
    return held_rows(stamps, values)


class RowAssembler:
    """The streaming form of ``held_rows`` for one device: ``update`` each sample, then ``row(ts)``
    once all of a time's samples are in."""

    __slots__ = ("_hold_us", "_index", "_stamps", "_values")

    def __init__(self, points: Sequence[str], max_hold_s: float = MAX_HOLD_S) -> None:
        self._index = {p: i for i, p in enumerate(points)}
        self._values = np.full(len(points), np.nan)
        self._stamps = np.full(len(points), -(2**62), dtype=np.int64)
        self._hold_us = int(max_hold_s * 1e6)

    def update(self, point: str, ts_us: int, value: float | None) -> bool:
        """Take a sample; False when ``point`` is not an input or the sample is older than the held one."""
        i = self._index.get(point)
        if i is None or ts_us < self._stamps[i]:
            return False
        self._stamps[i] = ts_us
        self._values[i] = np.nan if value is None else value
        return True

    def row(self, ts_us: int) -> np.ndarray | None:
        """The row at ``ts_us``, or None while a point is missing, stale or not a number."""
        if (ts_us - self._stamps > self._hold_us).any() or not np.isfinite(self._values).all():
            return None
        return self._values.copy()
