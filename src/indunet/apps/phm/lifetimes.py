"""Remaining useful life on live telemetry: a device's cycles assembled from its points, predicted by a
production RUL model after every cycle.

A model trained on run-to-failure tables knows columns (``flow_m3h``, ``discharge_kpa``); a device
type knows points (``flow``, ``discharge_pressure`` in bar). The ``Binding`` says which point feeds
which column, with a factor for the unit (``discharge_kpa=discharge_pressure*100``), and which point
counts the cycles: a cycle closes when that counter passes the next whole number (``operating_hours``:
one row per operating hour, as the training table has), and the row is the mean of each point's
samples during the cycle. A counter that goes down starts a new life: the machine (or its wearing
part) was replaced.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indunet.apps.phm.histories import Fleet, History
from indunet.apps.phm.saved import AnyModel
from indunet.core.errors import InvalidInput
from indunet.platform.models import DataType, DeviceType
from indunet.platform.runtime import DeviceRef, Platform
from indunet.platform.series import read_points, series_ids
from indunet.store.timeseries import MAX_BUCKETS

MAX_CYCLES = 20_000
"""Cycles of one life kept per device (the oldest are dropped beyond): longer than any run to
failure the models are trained on."""
_ENTRY = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*=\s*([A-Za-z_][\w]*)\s*(?:\*\s*([-+0-9.eE]+))?\s*$")


@dataclass(frozen=True)
class Feed:
    column: str
    point: str
    factor: float = 1.0


@dataclass(frozen=True)
class Binding:
    settings: tuple[Feed, ...]
    sensors: tuple[Feed, ...]
    cycle_point: str
    level: float = 0.9
    """Probability that the interval written with the prediction holds the truth."""
    work_order_below: float = 0.0
    """Open a work order when the interval's lower end falls below this many cycles (0: never)."""

    def points(self) -> set[str]:
        return {f.point for f in (*self.settings, *self.sensors)}

    def to_dict(self) -> dict[str, Any]:
        def feeds(items: tuple[Feed, ...]) -> list[dict[str, Any]]:
            return [{"column": f.column, "point": f.point, "factor": f.factor} for f in items]

        return {
            "settings": feeds(self.settings),
            "sensors": feeds(self.sensors),
            "cycle_point": self.cycle_point,
            "level": self.level,
            "work_order_below": self.work_order_below,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Binding:
        return cls(
            tuple(Feed(**f) for f in data["settings"]),
            tuple(Feed(**f) for f in data["sensors"]),
            data["cycle_point"],
            float(data["level"]),
            float(data["work_order_below"]),
        )


def parse_feeds(text: str) -> dict[str, Feed]:
    """``column=point[*factor],...`` to feeds by column; InvalidInput naming the entry otherwise."""
    feeds: dict[str, Feed] = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        match = _ENTRY.match(entry)
        if match is None:
            raise InvalidInput(f"not column=point[*factor]: {entry!r}", key="error.phm_feed", entry=entry)
        factor = float(match.group(3)) if match.group(3) else 1.0
        if not math.isfinite(factor) or factor == 0:
            raise InvalidInput(
                f"factor must be a finite non-zero number: {entry!r}", key="error.phm_feed", entry=entry
            )
        feeds[match.group(1)] = Feed(match.group(1), match.group(2), factor)
    return feeds


def bind(
    model: AnyModel,
    settings: tuple[str, ...],
    sensors: tuple[str, ...],
    feeds: dict[str, Feed],
    device_type: DeviceType,
    cycle_point: str,
    level: float = 0.9,
    work_order_below: float = 0.0,
) -> Binding:
    """A binding of every column the model reads to numeric points of the type, checked."""
    missing = [c for c in (*settings, *sensors) if c not in feeds]
    if missing:
        raise InvalidInput(
            f"no point given for column(s) {', '.join(missing)}",
            key="error.phm_unbound",
            columns=", ".join(missing),
        )
    for name in {f.point for f in feeds.values()} | {cycle_point}:
        point = device_type.point(name)
        if point is None or point.data_type not in (DataType.FLOAT, DataType.INT):
            raise InvalidInput(
                f"{device_type.name} has no numeric point {name!r}", key="error.phm_point", point=name
            )
    for name in ("rul", "rul_lower", "rul_upper", "health"):
        if device_type.point(name) is None:
            raise InvalidInput(
                f"device type {device_type.name} needs the points rul, rul_lower, rul_upper and health",
                key="error.phm_rul_points",
                type=device_type.name,
            )
    if not 0.5 <= level < 1:
        raise InvalidInput("level must be from 0.5 to below 1", key="error.phm_level")
    return Binding(
        tuple(feeds[c] for c in settings),
        tuple(feeds[c] for c in sensors),
        cycle_point,
        level,
        work_order_below,
    )


@dataclass
class Life:
    """One device's current life: its closed cycles and the cycle being filled."""

    counter: float | None = None
    rows: list[np.ndarray] = field(default_factory=list)
    cycles: list[float] = field(default_factory=list)
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    closed_ts: list[int] = field(default_factory=list)


class LifeTracker:
    """Cycles of one model's devices, and the prediction after each."""

    def __init__(self, model: AnyModel, binding: Binding) -> None:
        self.model = model
        self.binding = binding
        self._feeds = (*binding.settings, *binding.sensors)
        self._points = binding.points()
        self.lives: dict[str, Life] = {}

    def update(self, device_id: str, point: str, ts_us: int, value: float | None) -> bool:
        """Take a sample; True when it closed a cycle (then ``predict`` has something new)."""
        if value is None or not math.isfinite(value):
            return False
        life = self.lives.setdefault(device_id, Life())
        if point in self._points:
            life.sums[point] = life.sums.get(point, 0.0) + value
            life.counts[point] = life.counts.get(point, 0) + 1
            life.last[point] = value
            return False
        if point != self.binding.cycle_point:
            return False
        if life.counter is not None and value < life.counter:
            # The counter went back: a replaced machine starts a new life.
            # The samples since the last count belong to the new life's first cycle.
            self.lives[device_id] = life = Life(sums=life.sums, counts=life.counts, last=life.last)
        previous = life.counter
        life.counter = value
        # The first count closes the cycle it ends when samples came before it (a device reporting
        # its points and its counter together), else it only starts the count.
        if previous is None and not life.counts:
            return False
        if previous is not None and math.floor(value) <= math.floor(previous):
            return False
        row = []
        for feed in self._feeds:
            count = life.counts.get(feed.point, 0)
            mean = life.sums[feed.point] / count if count else life.last.get(feed.point, math.nan)
            row.append(mean * feed.factor)
        life.sums.clear()
        life.counts.clear()
        if not all(math.isfinite(v) for v in row):
            return False
        life.rows.append(np.asarray(row))
        life.cycles.append(math.floor(value))
        life.closed_ts.append(ts_us)
        if len(life.rows) > MAX_CYCLES:
            del life.rows[0], life.cycles[0], life.closed_ts[0]
        return True

    def predict(self, device_id: str) -> tuple[float, float, float, float]:
        """(rul, lower, upper, health) at the device's last closed cycle."""
        life = self.lives[device_id]
        matrix = np.vstack(life.rows)
        n_settings = len(self.binding.settings)
        history = History(
            device_id,
            np.asarray(life.cycles, dtype=np.float64),
            matrix[:, :n_settings],
            matrix[:, n_settings:],
        )
        fleet = Fleet(
            [history],
            tuple(f.column for f in self.binding.settings),
            tuple(f.column for f in self.binding.sensors),
        )
        if self.model.calibration is None:
            rul = float(self.model.predict(fleet)[0])
            lower = upper = rul
        else:
            predicted, lowers, uppers = self.model.predict_interval(fleet, self.binding.level)
            rul, lower, upper = float(predicted[0]), float(lowers[0]), float(uppers[0])
        rul, lower, upper = max(rul, 0.0), max(lower, 0.0), max(upper, 0.0)
        return rul, lower, upper, min(1.0, rul / self.model.config.cap)

    def cycle_seconds(self, device_id: str) -> float:
        """Median seconds per cycle of the device lately (how fast its life is being used)."""
        closed = self.lives[device_id].closed_ts[-20:]
        if len(closed) < 2:
            return 3600.0
        return max(float(np.median(np.diff(closed))) / 1e6, 1e-3)


REBUILD_DAYS = 60.0
"""How far back a device's life is rebuilt from the store when a monitor first sees it."""


def rebuild(
    platform: Platform, device: DeviceRef, tracker: LifeTracker, end: int, days: float = REBUILD_DAYS
) -> None:
    """Replay the device's stored samples into ``tracker`` (a restarted monitor must not predict from a
    life that seems to begin now). The cycle counter is read raw; the other points as bucket means a
    twentieth of a cycle long (at most a minute), so months of 1 Hz data cost thousands of rows, not
    millions. Samples from ``end`` on are left to the caller (the batch being handled)."""
    start = end - int(days * 86_400_000_000)
    sids = series_ids(
        platform, device, [tracker.binding.cycle_point, *tracker.binding.points()], create=False
    )
    counter_sid = sids.get(tracker.binding.cycle_point)
    if counter_sid is None:
        return
    counter_ts, counter = read_points(platform, counter_sid, start, end)
    if not len(counter_ts):
        return
    closes = counter_ts[1:][np.diff(np.floor(counter)) > 0]
    steps = np.diff(closes)
    cycle_us = float(np.median(steps)) if len(steps) else 3_600_000_000.0
    bucket = int(min(max(cycle_us / 20, 1_000_000), 60_000_000))
    first = int(counter_ts[0]) - int(cycle_us)
    samples: list[tuple[int, int, str, float]] = [
        (int(t), 1, tracker.binding.cycle_point, float(v)) for t, v in zip(counter_ts, counter, strict=True)
    ]
    for point in tracker.binding.points():
        sid = sids.get(point)
        if sid is None:
            continue
        for row in _bucket_means(platform, sid, max(first, start), end, bucket):
            samples.append((row[0], 0, point, row[1]))
    # Within a time, points before the counter: the counter closes the cycle they belong to.
    samples.sort(key=lambda s: (s[0], s[1]))
    for ts, _, point, value in samples:
        tracker.update(device.id, point, ts, value)


def _bucket_means(platform: Platform, sid: int, start: int, end: int, bucket: int) -> list[tuple[int, float]]:
    found: list[tuple[int, float]] = []
    span = bucket * (MAX_BUCKETS - 1)
    while start < end:
        stop = min(end, start - start % bucket + span)
        for row in platform.timeseries.aggregate(sid, start, stop, bucket, ["avg"]):
            if isinstance(row["avg"], float | int):
                # At the bucket's start: samples sent with a count belong to the cycle it closes.
                found.append((int(row["ts"]), float(row["avg"])))  # type: ignore[arg-type]
        start = stop
    return found
