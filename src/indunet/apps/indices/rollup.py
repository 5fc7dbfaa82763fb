"""Rolling telemetry up into device days, and reading indices back from them.

``roll_up`` reads, for every device of a tenant whose type has an activity profile, its working
signal and counters for the days asked, and rewrites those days' rows (``device_days``): a day can
be rolled up again at any time (late samples, a corrected profile) and ends the same. The platform
rolls up today and yesterday every few minutes; older days on request (API, CLI).

``indices`` groups the rows by what the caller asks (all machines, device, type, a label such as
``line`` or ``industry``, a location key such as ``region`` or ``site``) and hands them to
:mod:`indunet.apps.indices.compute`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import and_, delete, insert, select

from indunet.apps.indices import activity
from indunet.apps.indices.compute import DeviceDay, series
from indunet.apps.indices.profiles import profiles
from indunet.core.config import ActivityProfile
from indunet.core.errors import InvalidInput
from indunet.platform.runtime import DeviceRef, Platform
from indunet.platform.series import read_points, series_ids
from indunet.security import Permission, Principal
from indunet.store.device_days import device_days
from indunet.store.metadata import devices

MAX_DAYS = 800
"""Days one roll-up or query may span (two years and some: year-on-year needs a year before)."""
BY = ("all", "device", "type")
BY_PREFIXES = ("label:", "location:")


def day_bounds(first: date, last: date, zone: ZoneInfo) -> tuple[list[str], np.ndarray]:
    """The days ``first``..``last`` and their boundaries in epoch microseconds (one more than days)."""
    if last < first:
        raise InvalidInput("the last day is before the first", key="error.indices_range")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(f"at most {MAX_DAYS} days at a time", key="error.indices_range")
    if first.year < 1971 or last.year > 9998:
        raise InvalidInput("days from 1971 to 9998", key="error.indices_range")
    days = [first + timedelta(days=n) for n in range((last - first).days + 2)]
    bounds = [int(datetime(d.year, d.month, d.day, tzinfo=zone).timestamp() * 1_000_000) for d in days]
    return [d.isoformat() for d in days[:-1]], np.asarray(bounds, dtype=np.int64)


def _device_rows(
    platform: Platform,
    device: Any,
    profile: ActivityProfile,
    days: list[str],
    bounds: np.ndarray,
    now_us: int,
) -> list[dict[str, Any]]:
    ref = DeviceRef(device.id, device.tenant_id, device.name, device.type_name)
    points = (profile.working_point, profile.count_point, profile.reject_point, profile.energy_point)
    wanted = [p for p in points if p]
    sids = series_ids(platform, ref, wanted, create=False)
    # The sample before the first day speaks into it, and a counter's first step needs the one before.
    lookback = int(max(profile.max_gap_s, 86_400) * 1_000_000)
    start, end = int(bounds[0]) - lookback, int(bounds[-1])
    zeros = np.zeros(len(days))
    connected, working = zeros, zeros
    if profile.working_point in sids:
        ts, values = read_points(platform, sids[profile.working_point], start, end)
        connected, working = activity.daily_activity(
            ts, values, bounds, profile.above, profile.max_gap_s, now_us
        )

    def counted(point: str | None) -> np.ndarray:
        if point is None or point not in sids:
            return zeros
        ts, values = read_points(platform, sids[point], start, end)
        return activity.daily_increments(ts, values, bounds)

    produced, rejected = counted(profile.count_point), counted(profile.reject_point)
    energy = counted(profile.energy_point)
    ideal_cycle = (device.attributes or {}).get("ideal_cycle_s", profile.ideal_cycle_s)
    ideal_cycle = float(ideal_cycle) if isinstance(ideal_cycle, int | float) and ideal_cycle > 0 else 0.0
    planned = platform.settings.indices_planned_hours * 3600
    stamp = int(time.time() * 1_000_000)
    return [
        {
            "device_id": device.id,
            "tenant_id": device.tenant_id,
            "day": day,
            "connected_s": float(connected[i]),
            "working_s": float(working[i]),
            # Planned on the days the machine was connected: a machine nobody switched on was not
            # planned to produce (holidays), and one that went silent is seen in its connected time.
            "planned_s": planned if connected[i] > 0 else 0.0,
            "produced": float(produced[i]),
            "rejected": float(rejected[i]),
            "ideal_s": float(produced[i]) * ideal_cycle,
            "energy_kwh": float(energy[i]),
            "updated_at": stamp,
        }
        for i, day in enumerate(days)
    ]


def roll_up(
    platform: Platform, principal: Principal, first: date, last: date, now_us: int | None = None
) -> int:
    """Rewrite the tenant's device days ``first``..``last``; how many device days were written."""
    principal.require(Permission.WRITE_DEVICES)
    zone = ZoneInfo(platform.settings.indices_timezone)
    days, bounds = day_bounds(first, last, zone)
    known = profiles(platform.settings.indices_profiles)
    now = now_us if now_us is not None else int(time.time() * 1_000_000)
    with platform.engine.connect() as conn:
        machines = conn.execute(
            select(
                devices.c.id, devices.c.tenant_id, devices.c.name, devices.c.type_name, devices.c.attributes
            )
            .where(devices.c.tenant_id == principal.tenant_id, devices.c.type_name.in_(list(known)))
            .order_by(devices.c.name)
        ).all()
    written = 0
    for device in machines:
        rows = _device_rows(platform, device, known[device.type_name], days, bounds, now)
        with platform.engine.begin() as conn:
            conn.execute(
                delete(device_days).where(
                    and_(device_days.c.device_id == device.id, device_days.c.day.in_(days))
                )
            )
            conn.execute(insert(device_days), rows)
        written += len(rows)
    return written


def _grouping(by: str, machines: dict[str, Any]) -> Callable[[str], str | None]:
    if by == "all":
        return lambda _id: "all"
    if by == "device":
        return lambda device_id: str(machines[device_id].name) if device_id in machines else None
    if by == "type":
        return lambda device_id: str(machines[device_id].type_name) if device_id in machines else None
    for prefix, column in (("label:", "labels"), ("location:", "location")):
        if by.startswith(prefix) and 0 < len(by) - len(prefix) <= 64:
            key = by[len(prefix) :]

            def group_of(device_id: str, key: str = key, column: str = column) -> str | None:
                found = getattr(machines.get(device_id), column, None) or {}
                value = found.get(key) if isinstance(found, dict) else None
                return None if value is None else str(value)

            return group_of
    raise InvalidInput(
        "by is all, device, type, label:<key> or location:<key>", key="error.indices_by", by=by[:80]
    )


def device_day_rows(platform: Platform, tenant_id: str, first: date, last: date) -> Iterator[DeviceDay]:
    with platform.engine.connect() as conn:
        rows = conn.execute(
            select(device_days).where(
                device_days.c.tenant_id == tenant_id,
                device_days.c.day >= first.isoformat(),
                device_days.c.day <= last.isoformat(),
            )
        )
        for r in rows:
            yield DeviceDay(
                r.device_id,
                r.day,
                r.connected_s,
                r.working_s,
                r.planned_s,
                r.produced,
                r.rejected,
                r.ideal_s,
                r.energy_kwh,
            )


def indices(
    platform: Platform,
    principal: Principal,
    *,
    measure: str,
    by: str,
    period: str,
    first: date,
    last: date,
    base: str | None = None,
) -> list[dict[str, Any]]:
    """The measure per group and period over the tenant's device days ``first``..``last``."""
    principal.require(Permission.READ)
    day_bounds(first, last, ZoneInfo(platform.settings.indices_timezone))  # checks the range
    known = profiles(platform.settings.indices_profiles)
    with platform.engine.connect() as conn:
        machines = {
            r.id: r
            for r in conn.execute(
                select(
                    devices.c.id, devices.c.name, devices.c.type_name, devices.c.labels, devices.c.location
                ).where(devices.c.tenant_id == principal.tenant_id)
            )
        }
    counted = {
        device_id: known[m.type_name].count_point is not None
        for device_id, m in machines.items()
        if m.type_name in known
    }
    try:
        return series(
            device_day_rows(platform, principal.tenant_id, first, last),
            _grouping(by, machines),
            measure,
            period,
            min_hours=platform.settings.indices_min_hours,
            base=base,
            counted=counted,
        )
    except ValueError as exc:
        raise InvalidInput(str(exc), key="error.indices_query", reason=str(exc)) from None


def roll_up_recent(platform: Platform, days_back: int = 0) -> int:
    """Today (and the ``days_back`` days before it), for every tenant: what the platform does every few
    minutes for today, and hourly for yesterday (samples a gateway's queue delivers late)."""
    zone = ZoneInfo(platform.settings.indices_timezone)
    today = datetime.now(zone).date()
    with platform.engine.connect() as conn:
        tenant_ids = list(conn.execute(select(devices.c.tenant_id).distinct()).scalars())
    return sum(
        roll_up(
            platform,
            Principal.system(tenant_id, label="system:indices"),
            today - timedelta(days=days_back),
            today,
        )
        for tenant_id in tenant_ids
    )
