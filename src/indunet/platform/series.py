"""The map from (device, point) to the integer series id the time-series store files rows under."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from indunet.platform.runtime import DeviceRef, Platform
from indunet.store.metadata import series
from indunet.store.timeseries.base import MAX_RAW_LIMIT


def series_ids(
    platform: Platform, device: DeviceRef, points: Iterable[str], *, create: bool
) -> dict[str, int]:
    """Ids of the device's series for ``points``; missing ones are allocated when ``create`` is set."""
    found: dict[str, int] = {}
    missing: list[str] = []
    cache = platform.series_ids
    for point in points:
        sid = cache.get((device.id, point))
        if sid is None:
            missing.append(point)
        else:
            found[point] = sid
    if not missing:
        return found
    with platform.engine.begin() as conn:
        rows = conn.execute(
            select(series.c.point, series.c.id).where(
                series.c.device_id == device.id, series.c.point.in_(missing)
            )
        ).all()
        known = {r.point: r.id for r in rows}
        for point in missing:
            if point in known or not create:
                continue
            try:
                with conn.begin_nested():
                    result = conn.execute(
                        series.insert().values(tenant_id=device.tenant_id, device_id=device.id, point=point)
                    )
                    known[point] = int(result.inserted_primary_key[0])  # type: ignore[index]
            except IntegrityError:
                # Another writer allocated it between our read and insert; take theirs.
                known[point] = conn.execute(
                    select(series.c.id).where(series.c.device_id == device.id, series.c.point == point)
                ).scalar_one()
    with platform.cache_lock:
        for point, sid in known.items():
            cache[(device.id, point)] = sid
    found.update(known)
    return found


def tenant_series(platform: Platform, tenant_id: str) -> list[int]:
    with platform.engine.connect() as conn:
        return list(conn.execute(select(series.c.id).where(series.c.tenant_id == tenant_id)).scalars())


def read_points(platform: Platform, sid: int, start_us: int, end_us: int) -> tuple[np.ndarray, np.ndarray]:
    """Every point of a series in the range, paged, as (ts, value) arrays (text values as NaN)."""
    stamps: list[int] = []
    values: list[float] = []
    while start_us < end_us:
        page = platform.timeseries.raw(sid, start_us, end_us, limit=MAX_RAW_LIMIT)
        stamps += [p[0] for p in page]
        values += [float("nan") if p[1] is None else float(p[1]) for p in page]
        if len(page) < MAX_RAW_LIMIT:
            break
        start_us = page[-1][0] + 1
    return np.asarray(stamps, dtype=np.int64), np.asarray(values, dtype=np.float64)
