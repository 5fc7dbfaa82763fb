"""Equipment indices: a year of 1 Hz data for 1,000 machines.

Roll-up: ``activity.daily_activity`` (held samples, gaps, midnight cuts, working time) over days of
86,400 one-second samples, on one core, against numpy merely counting the samples above the threshold
in the same arrays (one pass over the data, no gaps, no holding: the least any roll-up must do). The
year for 1,000 machines (31.5 billion samples) is timed on a share of it and scaled, for both.

Series: ``compute.series`` (monthly operating rate and OEE per line) over the device days of 1,000
machines for a year (365,000 rows), against numpy summing the same rows per line and month with
bincount.
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any

import numpy as np

from _common import record, write_results
from indunet.apps.indices.activity import daily_activity
from indunet.apps.indices.compute import DeviceDay, period_of, series

NAME = "indices"
DAY_S = 86_400
MACHINES = 1_000
DAYS = 365


def _day_pattern(rng: np.random.Generator) -> np.ndarray:
    """A day of 1 Hz spindle speeds: two shifts with breaks and stops, idle at night."""
    speed = np.zeros(DAY_S)
    for start, end in ((8 * 3600, 16 * 3600), (16 * 3600, 24 * 3600)):
        t = start
        while t < end:
            run = int(rng.integers(600, 5400))
            speed[t : min(t + run, end)] = rng.uniform(800, 9000)
            t += run + int(rng.integers(60, 1200))
    return speed


def _rollup(machine_days: int) -> tuple[float, float]:
    rng = np.random.default_rng(7)
    patterns = [_day_pattern(rng) for _ in range(8)]
    base_ts = np.arange(DAY_S, dtype=np.int64) * 1_000_000
    bounds = np.array([0, DAY_S * 1_000_000], dtype=np.int64)
    days = [(base_ts, patterns[n % 8]) for n in range(machine_days)]
    start = time.perf_counter()
    for ts, values in days:
        daily_activity(ts, values, bounds, 0.0, 120.0, DAY_S * 1_000_000)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    for _, values in days:
        np.count_nonzero(values > 0.0)
    floor = time.perf_counter() - start
    return ours / machine_days, floor / machine_days


def _device_days() -> list[DeviceDay]:
    rng = random.Random(7)
    first = np.datetime64("2026-01-01")
    rows = []
    for m in range(MACHINES):
        for d in range(DAYS):
            connected = 0.0 if rng.random() < 0.08 else 86_400.0
            working = 0.0 if not connected else rng.uniform(0, 16) * 3600
            made = working / 60
            planned = 57_600.0 if connected else 0.0
            rows.append(
                DeviceDay(f"m{m}", str(first + d), connected, working, planned, made, made * 0.02, made * 55)
            )
    return rows


def _series_time(rows: list[DeviceDay]) -> tuple[float, float]:
    line = {f"m{m}": f"line-{m % 20}" for m in range(MACHINES)}
    counted = dict.fromkeys(line, True)
    start = time.perf_counter()
    for measure in ("operating_rate", "oee"):
        series(rows, line.get, measure, "month", counted=counted)
    ours = (time.perf_counter() - start) / 2
    groups = np.array([int(line[r.device_id][5:]) for r in rows])
    months = np.array([int(period_of(r.day, "month")[5:]) - 1 for r in rows])
    working = np.array([r.working_s for r in rows])
    start = time.perf_counter()
    np.bincount(groups * 12 + months, weights=working, minlength=20 * 12)
    floor = time.perf_counter() - start
    return ours, floor


def run(quick: bool = False) -> list[dict[str, Any]]:
    per_day, floor_per_day = _rollup(20 if quick else 200)
    year = MACHINES * DAYS
    rows = _device_days() if not quick else _device_days()[: MACHINES * 30]
    ours, floor = _series_time(rows)
    results = [
        record(
            "Roll-up of one year of 1 Hz samples for 1,000 machines (31.5 billion samples), one core",
            per_day * year / 60, "min",
            "numpy counting the samples above the threshold in the same arrays",
            floor_per_day * year / 60, "reported",
        ),
        record(
            f"Monthly index series (operating rate, OEE) per line from {len(rows):,} device days",
            ours, "s",
            "numpy bincount of the same rows' working time per line and month",
            floor, "< 5 s",
        ),
    ]  # fmt: skip
    write_results(NAME, results)
    return results


if __name__ == "__main__":
    for item in run(quick="--quick" in sys.argv):
        print(item)
