"""Equipment operation indices from device days: per group of machines and period, with fixed-base
indices and their changes.

Measures (docs/indices.md gives the methodology):

    operating_rate  share of connected machines that worked at least ``min_hours`` per connected day
                    in the period, in % (the "excavator index" construction-machinery makers publish)
    working_hours   working hours per connected machine in the period
    utilisation     working time / planned production time, in %
    availability    min(working, planned) / planned, in %
    performance     ideal cycle time of what was made / working time, in % (machines with counters)
    quality         good parts / parts made, in % (machines with counters)
    oee             availability x performance x quality, in % (machines with counters)
    connected       machines connected at some time in the period
    energy_kwh      energy the machines' meters counted
    energy_per_part energy per good part (machines with counters): the energy efficiency of output
    energy_per_hour energy per working hour

For energy, a baseline is the base period: its index is 100, and a period's index minus 100 is its
deviation from the baseline in %.

Sums are taken before ratios (a group's OEE is its total good output over its total planned time,
not an average of machines' OEEs), so large and small machines weigh what they produce. A period's
fixed-base index is its value over the base period's, times 100; month-on-month (period on period)
and year-on-year changes are in %.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

MEASURES = (
    "operating_rate",
    "working_hours",
    "utilisation",
    "availability",
    "performance",
    "quality",
    "oee",
    "connected",
    "energy_kwh",
    "energy_per_part",
    "energy_per_hour",
)
PERIODS = ("day", "week", "month", "quarter", "year")
_PER_YEAR = {"day": 365, "week": 52, "month": 12, "quarter": 4, "year": 1}


@dataclass(frozen=True)
class DeviceDay:
    device_id: str
    day: str
    connected_s: float
    working_s: float
    planned_s: float
    produced: float
    rejected: float
    ideal_s: float
    energy_kwh: float = 0.0


@dataclass
class _Machine:
    connected_days: int = 0
    connected_s: float = 0.0
    working_s: float = 0.0
    planned_s: float = 0.0
    produced: float = 0.0
    rejected: float = 0.0
    ideal_s: float = 0.0
    energy_kwh: float = 0.0
    counted: bool = False


@dataclass
class _Group:
    machines: dict[str, _Machine] = field(default_factory=lambda: defaultdict(_Machine))


def period_of(day: str, period: str) -> str:
    """The period a day (``YYYY-MM-DD``) falls in: ``2026-12-07``, ``2026-W50``, ``2026-12``,
    ``2026-Q4`` or ``2026``."""
    d = date.fromisoformat(day)
    if period == "day":
        return day
    if period == "week":
        year, week, _ = d.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return day[:7]
    if period == "quarter":
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
    if period == "year":
        return day[:4]
    raise ValueError(f"period is one of {', '.join(PERIODS)}")


def _shift(key: str, period: str, back: int) -> str:
    """The period ``back`` periods before ``key`` (month-on-month: 1; year-on-year: a year's worth)."""
    if period == "day":
        return date.fromordinal(date.fromisoformat(key).toordinal() - back).isoformat()
    if period == "week":
        year, week = int(key[:4]), int(key[6:])
        monday = date.fromisocalendar(year, week, 1)
        y, w, _ = date.fromordinal(monday.toordinal() - 7 * back).isocalendar()
        return f"{y}-W{w:02d}"
    if period == "month":
        n = int(key[:4]) * 12 + int(key[5:7]) - 1 - back
        return f"{n // 12}-{n % 12 + 1:02d}"
    if period == "quarter":
        n = int(key[:4]) * 4 + int(key[6]) - 1 - back
        return f"{n // 4}-Q{n % 4 + 1}"
    return str(int(key) - back)


def _value(measure: str, group: _Group, min_hours: float) -> float | None:
    machines = [m for m in group.machines.values() if m.connected_s > 0]
    if not machines:
        return None
    if measure == "connected":
        return float(len(machines))
    if measure == "operating_rate":
        operating = sum(1 for m in machines if m.working_s >= min_hours * 3600 * m.connected_days)
        return 100.0 * operating / len(machines)
    if measure == "working_hours":
        return sum(m.working_s for m in machines) / 3600 / len(machines)
    energy = sum(m.energy_kwh for m in machines)
    if measure == "energy_kwh":
        return energy
    if measure == "energy_per_hour":
        hours = sum(m.working_s for m in machines) / 3600
        return None if hours <= 0 else energy / hours
    if measure == "energy_per_part":
        # Machines that count parts only: the others' energy made no counted output.
        made = sum(m.produced - m.rejected for m in machines if m.counted)
        return None if made <= 0 else sum(m.energy_kwh for m in machines if m.counted) / made
    planned = sum(m.planned_s for m in machines)
    working = sum(m.working_s for m in machines)
    if measure == "utilisation":
        return None if planned <= 0 else 100.0 * working / planned
    available = sum(min(m.working_s, m.planned_s) for m in machines)
    availability = None if planned <= 0 else available / planned
    if measure == "availability":
        return None if availability is None else 100.0 * availability
    counted = [m for m in machines if m.counted]
    produced = sum(m.produced for m in counted)
    run = sum(min(m.working_s, m.planned_s) for m in counted)
    performance = None if run <= 0 else min(1.0, sum(m.ideal_s for m in counted) / run)
    quality = None if produced <= 0 else max(0.0, produced - sum(m.rejected for m in counted)) / produced
    if measure == "performance":
        return None if performance is None else 100.0 * performance
    if measure == "quality":
        return None if quality is None else 100.0 * quality
    if measure == "oee":
        counted_planned = sum(m.planned_s for m in counted)
        if counted_planned <= 0 or performance is None or quality is None:
            return None
        return 100.0 * (run / counted_planned) * performance * quality
    raise ValueError(f"measure is one of {', '.join(MEASURES)}")


def series(
    rows: Iterable[DeviceDay],
    group_of: Callable[[str], str | None],
    measure: str,
    period: str,
    *,
    min_hours: float = 1.0,
    base: str | None = None,
    counted: Mapping[str, bool] | None = None,
) -> list[dict[str, Any]]:
    """Per group and period: the measure's value, its fixed-base index (base period = 100; the first
    period with a value when ``base`` is None), and its period-on-period and year-on-year changes.

    ``group_of`` names each device's group (None leaves the device out); ``counted`` says which
    devices have production counters (their days count for performance, quality and OEE)."""
    if measure not in MEASURES:
        raise ValueError(f"measure is one of {', '.join(MEASURES)}")
    if period not in PERIODS:
        raise ValueError(f"period is one of {', '.join(PERIODS)}")
    groups: dict[tuple[str, str], _Group] = defaultdict(_Group)
    names: dict[str, str | None] = {}
    for row in rows:
        if row.device_id not in names:
            names[row.device_id] = group_of(row.device_id)
        name = names[row.device_id]
        if name is None:
            continue
        machine = groups[(name, period_of(row.day, period))].machines[row.device_id]
        if row.connected_s > 0:
            machine.connected_days += 1
        machine.connected_s += row.connected_s
        machine.working_s += row.working_s
        machine.planned_s += row.planned_s
        machine.produced += row.produced
        machine.rejected += row.rejected
        machine.ideal_s += row.ideal_s
        machine.energy_kwh += row.energy_kwh
        machine.counted = machine.counted or bool(counted and counted.get(row.device_id))
    values: dict[str, dict[str, float | None]] = defaultdict(dict)
    for (name, key), group in groups.items():
        values[name][key] = _value(measure, group, min_hours)
    out = []
    for name in sorted(values):
        by_period = values[name]
        keys = sorted(by_period)
        base_key = base if base is not None else next((k for k in keys if by_period[k]), None)
        base_value = by_period.get(base_key) if base_key is not None else None
        for key in keys:
            value = by_period[key]
            out.append(
                {
                    "group": name,
                    "period": key,
                    "value": _round(value),
                    "index": _round(_ratio(value, base_value, 100.0)),
                    "change": _round(_change(value, by_period.get(_shift(key, period, 1)))),
                    "change_yoy": _round(
                        _change(value, by_period.get(_shift(key, period, _PER_YEAR[period])))
                    ),
                }
            )
    return out


def _ratio(value: float | None, base: float | None, scale: float) -> float | None:
    if value is None or not base:
        return None
    return scale * value / base


def _change(value: float | None, before: float | None) -> float | None:
    ratio = _ratio(value, before, 1.0)
    return None if ratio is None else 100.0 * (ratio - 1.0)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
