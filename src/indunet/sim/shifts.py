"""A plant's year in device days, for the demo's indices: two shifts on working days, Sundays off,
the Spring Festival week shut, days without orders, a line that slowly gets better, and each
machine's own scatter.

Seeded: the same machine gets the same history on every run. Only days before the first real
roll-up are written; from then on the machines' own telemetry makes the days.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta

HOLIDAYS = (
    (date(2026, 2, 16), date(2026, 2, 23)),  # Spring Festival 2026
    (date(2025, 1, 28), date(2025, 2, 4)),  # Spring Festival 2025
    (date(2025, 10, 1), date(2025, 10, 7)),  # National Day
    (date(2026, 10, 1), date(2026, 10, 7)),
)
PLANNED_S = 16 * 3600.0


def _closed(day: date) -> bool:
    return day.weekday() == 6 or any(first <= day <= last for first, last in HOLIDAYS)


def device_days(
    seed: str, first: date, last: date, *, base_hours: float, counted: bool, ideal_cycle_s: float = 60.0
) -> Iterator[dict[str, float | str]]:
    """One machine's days ``first``..``last``: connected, working, planned seconds and parts."""
    rng = random.Random(seed)  # noqa: S311 - a simulation, seeded to repeat itself
    span = max((last - first).days, 1)
    day = first
    while day <= last:
        progress = (day - first).days / span
        if _closed(day) or rng.random() < 0.03:  # closed, or down for the day
            yield {"day": day.isoformat(), "connected_s": 0.0, "working_s": 0.0, "planned_s": 0.0,
                   "produced": 0.0, "rejected": 0.0, "ideal_s": 0.0, "energy_kwh": 0.0}  # fmt: skip
        else:
            hours = min(15.5, max(0.0, rng.gauss(base_hours + 2.0 * progress, 1.5)))
            # Days without orders (more of them in the slow weeks around the Spring Festival): the
            # machine is on but hardly works.
            if rng.random() < (0.3 if day.month in (1, 2) else 0.08) * (1.0 - 0.5 * progress):
                hours = rng.uniform(0.0, 0.9)
            produced = hours * 3600 / (ideal_cycle_s * rng.uniform(1.08, 1.3)) if counted else 0.0
            rejected = produced * rng.uniform(0.005, 0.03) if counted else 0.0
            yield {
                "day": day.isoformat(),
                "connected_s": 86_400.0 * rng.uniform(0.92, 1.0),
                "working_s": hours * 3600,
                "planned_s": PLANNED_S,
                "produced": round(produced),
                "rejected": round(rejected),
                "ideal_s": round(produced) * ideal_cycle_s,
                # Spindle and drives while working, the machine's base load for the rest of the shifts.
                "energy_kwh": round(hours * rng.uniform(9.0, 12.0) + (16 - hours) * 2.5, 1),
            }
        day += timedelta(days=1)
