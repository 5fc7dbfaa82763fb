"""Safety warnings: how fast the warning evaluator keeps up with 10,000 monitoring points reporting at 1 Hz.

The plant: 500 units (atmospheric storage, pressurised storage and reaction units in turn, so the shipped
risk feature library applies), 20 monitoring points each: 8 combustible gas detectors (25/50 %LEL),
2 ammonia detectors (GB/T 50493 from the PC-STEL: 30/60 mg/m3), and on two storage tanks and a reactor
4 temperatures, 3 pressures, 2 levels and 1 inflow with high/high-high limits; 13 devices per unit,
6,500 in all. Every point reports once a second (noise around its working value) at its device's own
phase in the second. One unit in 50 leaks (three detectors climbing, one past both set-points, a second
one past the second: gas spreading, red) and one in 50 heats up (reactor temperature and pressure
climbing: trends, runaway features), so trends, reasons and features all run.

Batches: a group-commit round of the ingest path hands the listeners every sample committed in it, the
whole message of each device. At 10,000 points/s from 6,500 devices a round every ~10 ms holds ~100
samples, so each second goes out as ~100 batches of whole devices in phase order. A batch touches ~60
units, so a unit is assessed about as often as its devices report: that is the work the evaluator does.
Samples are built batch by batch from readings drawn in advance, as ingest builds them, so the heap
holds no more samples than a real process would (400,000 samples held in advance made every full
garbage collection a 100 ms stall of their own).

1. Evaluator, no database (``assess.Evaluator`` with the default library): per batch ``on_samples`` and
   ``assess`` of every touched unit. Throughput flat out over 30 simulated seconds (after 10 untimed
   ones, so the trends are warm), and again in rounds of ~1,000 samples (a round every 100 ms, ~370
   units touched per round): how much fewer assessments per sample buy. Peers on the same batches: the
   platform's rule ``Evaluator`` with the points' template rules (2 threshold rules per point, 20,000
   ``CompiledRule``s looked up per device from a dict), the alarm engine indunet already has, which
   answers "past a set-point" and nothing else; and a bare loop (a dict lookup and two comparisons per
   sample), the floor for touching every sample in Python at all. Latency: the same batches handed over
   at their real times (10,000 points/s), from the time of the batch's last sample to the last touched
   unit assessed, queueing included when a batch waits for the one before; the rule evaluator paced
   the same way is the peer.
2. End to end: an embedded platform (SQLite) with the enterprise, units and points made through the
   safety registry (``bind(rules=False)``: the 20,000 template rules would add minutes of setup and are
   not what is measured) and the ``SafetyMonitor`` running as it does in service: its worker thread,
   per-second ticks of all units, the registry's fingerprint checked every ``reload_s`` (10 s), alarm
   context every 5 s, warnings written on change, up to 100 queued batches taken as one when it falls
   behind. The batches go to ``monitor.submit`` at 10,000 points/s; latency runs from the batch's
   scheduled hand-over to the end of the evaluation that held its newest sample (every unit it touched
   assessed, warnings written). Its flat-out rate is measured in the warm-up, with every batch
   submitted at once. Peer: the ``RuleEngine`` with one threshold rule per point type (9 rules, each type's
   first set-point) fed the same batches, timed until its worker has evaluated the batch and written
   its alarms.

Targets: p99 under 1 s at 10,000 points/s (a point reports once a second: a warning may not lag more
than one period) and a throughput of 50,000 points/s (5x headroom).
"""

from __future__ import annotations

import random
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import percentile, record, write_results
from indunet.apps.safety import registry
from indunet.apps.safety.assess import GAS, Evaluator, Limits, UnitInfo, WatchedPoint
from indunet.apps.safety.features import FeatureSet, default_library
from indunet.apps.safety.gbt50493 import combustible_setpoints, toxic_setpoints
from indunet.apps.safety.levels import RED
from indunet.apps.safety.monitor import SafetyMonitor
from indunet.apps.safety.templates import rule_specs
from indunet.core.config import Settings
from indunet.core.timeutil import now_us
from indunet.platform import devices, rules, tenants
from indunet.platform.rules import CompiledRule, RuleEngine
from indunet.platform.rules import Evaluator as RuleEvaluator
from indunet.platform.runtime import DeviceRef, Platform, StoredSample, open_platform
from indunet.security import Principal

NAME = "safety_warning"
BATCH = 100
"""Samples per listener batch (whole devices): one group-commit round every ~10 ms at 10,000 points/s."""
BIG_BATCH = 1_000
WARM_S = 10
"""Untimed seconds first: Holt trends need 10 samples before they forecast."""
UNIT_TYPES = ("atmospheric_storage", "pressurised_storage", "reaction")
INCIDENT_EVERY = 50
TOXIC = "ammonia"
ENTERPRISE_CODE = "91310116MA1XXXXX00"
TARGET_P99 = "< 1000 ms p99"
TARGET_RATE = "≥ 50,000 points/s"
SECOND = 1_000_000


@dataclass(frozen=True, slots=True)
class _Point:
    unit: int
    device: str
    type_name: str
    point: str
    kind: str
    high: float
    high_high: float
    base: float
    noise: float
    ramp: float = 0.0
    """Rise per second from ``ONSET_S`` on (leaks, heating)."""
    cap: float = 100.0


ONSET_S = 3.0


def _unit_points(u: int, rng: random.Random) -> list[_Point]:
    gas, toxic = combustible_setpoints(), toxic_setpoints(TOXIC)
    leaking = u % INCIDENT_EVERY == 7
    heating = u % INCIDENT_EVERY == 23
    name = f"u{u:04d}"
    points = [
        _Point(
            u,
            f"{name}-gd{i}",
            "gas_detector",
            "concentration",
            "combustible",
            gas.first,
            gas.second,
            rng.uniform(0.0, 2.0),
            0.4,
            ramp=(2.0, 1.6, 0.5)[i] if leaking and i < 3 else 0.0,
        )
        for i in range(8)
    ]
    points += [
        _Point(
            u,
            f"{name}-td{i}",
            "toxic_gas_detector",
            "concentration",
            "toxic",
            toxic.first,
            toxic.second,
            rng.uniform(0.5, 3.0),
            0.3,
            ramp=0.8 if leaking and i == 0 else 0.0,
        )
        for i in range(2)
    ]
    for tank in ("tk0", "tk1"):
        device = f"{name}-{tank}"
        points += [
            _Point(u, device, "storage_tank", "level", "level", 14.0, 15.5, rng.uniform(4.0, 10.0), 0.01),
            _Point(
                u,
                device,
                "storage_tank",
                "temperature",
                "temperature",
                45.0,
                55.0,
                rng.uniform(18.0, 28.0),
                0.1,
            ),
            _Point(
                u, device, "storage_tank", "pressure", "pressure", 12.0, 15.0, rng.uniform(2.0, 6.0), 0.05
            ),
        ]
    points.append(
        _Point(
            u, f"{name}-tk0", "storage_tank", "inflow", "flow", 250.0, 300.0, rng.uniform(60.0, 150.0), 2.0
        )
    )
    reactor = f"{name}-rx"
    points += [
        _Point(u, reactor, "chemical_reactor", "temperature", "temperature", 95.0, 105.0,
               rng.uniform(75.0, 82.0), 0.2, ramp=0.6 if heating else 0.0, cap=180.0),
        _Point(u, reactor, "chemical_reactor", "jacket_inlet_temperature", "temperature", 30.0, 40.0,
               rng.uniform(12.0, 18.0), 0.1),
        _Point(u, reactor, "chemical_reactor", "pressure", "pressure", 450.0, 550.0,
               rng.uniform(280.0, 320.0), 1.0, ramp=6.0 if heating else 0.0, cap=900.0),
    ]  # fmt: skip
    return points


class _Plant:
    """The points, their devices in reporting order, and the batches each second is cut into."""

    def __init__(self, units: int, seed: int = 1, batch_size: int = BATCH) -> None:
        rng = random.Random(seed)
        self.units = units
        self.points = [p for u in range(units) for p in _unit_points(u, rng)]
        by_device: dict[str, list[_Point]] = {}
        for point in self.points:
            by_device.setdefault(point.device, []).append(point)
        self.devices = list(by_device)
        self.type_of = {d: ps[0].type_name for d, ps in by_device.items()}
        order = self.devices[:]
        rng.shuffle(order)  # each device reports on its own clock: a random phase in the second
        # Batches of whole devices in phase order; the phase of a device is its place in the second.
        self.batches: list[list[tuple[int, _Point]]] = []
        batch: list[tuple[int, _Point]] = []
        for i, device in enumerate(order):
            batch += [(i * SECOND // len(order), p) for p in by_device[device]]
            if len(batch) >= batch_size:
                self.batches.append(batch)
                batch = []
        if batch:
            self.batches.append(batch)
        self.touched = [len({p.unit for _, p in b}) for b in self.batches]
        self.rng = random.Random(seed + 1)

    def values(self, first: int, count: int) -> list[tuple[int, array[float]]]:
        """The readings of seconds ``first`` ... in batch order: noise, and the incidents' rise."""
        gauss = self.rng.gauss
        out = []
        for s in range(first, first + count):
            rise = max(0.0, s - ONSET_S)
            values = array("d")
            for batch in self.batches:
                for _, p in batch:
                    value = min(p.cap, p.base + p.ramp * rise + gauss(0.0, p.noise))
                    values.append(max(0.0, value) if p.kind in GAS else value)
            out.append((s, values))
        return out


class _Feed:
    """The plant's batches as listeners get them, built from a second's readings as ingest builds them
    (``ingest_service.samples_of``): the heap never holds more samples than the batch in hand. Held in
    advance, a run's 400,000 samples made every full garbage collection a 100 ms stall."""

    def __init__(self, plant: _Plant, start_us: int, tenant_id: str, ids: dict[str, str]) -> None:
        self.start_us = start_us
        self.tenant_id = tenant_id
        self.rows = [[(phase, ids[p.device], p.type_name, p.point) for phase, p in b] for b in plant.batches]

    def stream(self, seconds: list[tuple[int, array[float]]]) -> Iterator[list[StoredSample]]:
        new, tenant = tuple.__new__, self.tenant_id
        for s, values in seconds:
            base, i = self.start_us + s * SECOND, 0
            for rows in self.rows:
                yield [
                    new(StoredSample, (tenant, device, type_name, point, base + phase, values[i + j], None))
                    for j, (phase, device, type_name, point) in enumerate(rows)
                ]
                i += len(rows)

    def due(self, batch: list[StoredSample], first_s: int) -> float:
        """Seconds from the start of second ``first_s`` to the batch's last sample."""
        return (batch[-1].ts_us - self.start_us - first_s * SECOND) / SECOND


# -- 1. the evaluator alone ------------------------------------------------------------------------------
TENANT = "bench"
START_US = 1_764_000_000 * SECOND
Step = Callable[[list[StoredSample]], object]
Seconds = list[tuple[int, "array[float]"]]


def _evaluator(plant: _Plant, ids: dict[str, str]) -> Evaluator:
    evaluator = Evaluator(FeatureSet(default_library()))
    units = [UnitInfo(f"unit-{u:04d}", UNIT_TYPES[u % len(UNIT_TYPES)]) for u in range(plant.units)]
    points = [
        WatchedPoint(
            f"point-{n}", f"unit-{p.unit:04d}", ids[p.device], p.point, p.kind, Limits(p.high, p.high_high),
            f"{p.device}/{p.point}",
        )
        for n, p in enumerate(plant.points)
    ]  # fmt: skip
    evaluator.load(units, points)
    return evaluator


def _assess_batch(evaluator: Evaluator) -> Step:
    def step(batch: list[StoredSample]) -> object:
        now = batch[-1].ts_us
        return [evaluator.assess(unit_id, now) for unit_id in evaluator.on_samples(batch)]

    return step


def _rule_batch(plant: _Plant, ids: dict[str, str]) -> Step:
    """The platform's rule evaluator with the points' template rules, found per device from a dict."""
    evaluator = RuleEvaluator()
    by_device: dict[str, list[CompiledRule]] = {}
    for n, p in enumerate(plant.points):
        ref = DeviceRef(ids[p.device], TENANT, p.device, p.type_name)
        limits = Limits(p.high, p.high_high)
        for k, spec in enumerate(rule_specs(ref, p.point, p.kind, limits, f"u{p.unit:04d}")):
            by_device.setdefault(ref.id, []).append(CompiledRule.build(f"r{n}.{k}", TENANT, ref.id, spec))

    def step(batch: list[StoredSample]) -> object:
        own: dict[str, list[StoredSample]] = {}
        for sample in batch:
            own.setdefault(sample.device_id, []).append(sample)
        return [
            evaluator.on_samples(rule, device_id, samples)
            for device_id, samples in own.items()
            for rule in by_device.get(device_id, ())
        ]

    return step


def _floor_batch(plant: _Plant, ids: dict[str, str]) -> Step:
    """A dict lookup and two comparisons per sample, and nothing else."""
    limits = {(ids[p.device], p.point): (p.high, p.high_high) for p in plant.points}
    stages: dict[tuple[str, str], int] = {}

    def step(batch: list[StoredSample]) -> object:
        for sample in batch:
            key = (sample.device_id, sample.point)
            high, high_high = limits[key]
            value = sample.num
            stages[key] = 2 if value >= high_high else 1 if value >= high else 0  # type: ignore[operator]
        return None

    return step


def _flat_out(step: Step, feed: _Feed, warm: Seconds, timed: Seconds) -> float:
    """Points per second through ``step`` (building the batches not counted), after the warm-up."""
    for batch in feed.stream(warm):
        step(batch)
    points, busy = 0, 0.0
    for batch in feed.stream(timed):
        start = time.perf_counter()
        step(batch)
        busy += time.perf_counter() - start
        points += len(batch)
    return points / busy


def _paced(step: Step, feed: _Feed, warm: Seconds, timed: Seconds) -> list[float]:
    """Milliseconds from each batch's due time (its last sample's time) until ``step`` returned."""
    for batch in feed.stream(warm):
        step(batch)
    t0 = time.perf_counter() + 0.05
    latencies = []
    for batch in feed.stream(timed):
        due = t0 + feed.due(batch, timed[0][0])
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        step(batch)
        latencies.append((time.perf_counter() - due) * 1000)
    return latencies


def _check_scenario(evaluator: Evaluator, complete: bool) -> dict[str, int]:
    """What the units say at the end: once the incidents have run their course (``complete``) they must
    have raised set-point reasons, gas spreading and a runaway feature."""
    now = START_US + 3600 * SECOND
    assessments = [evaluator.assess(u, now) for u in evaluator.unit_ids]
    codes = {r.code for a in assessments for r in a.reasons}
    warned = sum(a.level is not None for a in assessments)
    red = sum(a.level == RED for a in assessments)
    needed = {"gas.second", "gas.spreading", "process.first", "feature.runaway-accelerating"}
    if complete and not needed <= codes:
        raise RuntimeError(f"the incidents did not raise {sorted(needed - codes)} (seen {sorted(codes)})")
    return {"warned": warned, "red": red}


def _evaluator_figures(quick: bool) -> dict[str, Any]:
    units = 25 if quick else 500
    timed_s = 3 if quick else 30
    plant = _Plant(units)
    ids = {d: d for d in plant.devices}
    feed = _Feed(plant, START_US, TENANT, ids)
    warm, timed = plant.values(0, WARM_S), plant.values(WARM_S, timed_s)
    evaluator = _evaluator(plant, ids)
    rate = _flat_out(_assess_batch(evaluator), feed, warm, timed)
    scenario = _check_scenario(evaluator, complete=WARM_S + timed_s >= 40)
    rule_rate = _flat_out(_rule_batch(plant, ids), feed, warm, timed)
    floor_rate = _flat_out(_floor_batch(plant, ids), feed, warm, timed)
    latencies = _paced(_assess_batch(_evaluator(plant, ids)), feed, warm, timed)
    # The peer barely works between batches: a third of the paced seconds is enough for its p99.
    rule_latencies = _paced(_rule_batch(plant, ids), feed, warm, timed[: max(1, timed_s // 3)])
    # The same readings in rounds of ~1,000 samples (one every 100 ms): fewer assessments per sample.
    big = _Plant(units, batch_size=BIG_BATCH)
    big_feed = _Feed(big, START_US, TENANT, ids)
    big_timed = timed[: max(1, timed_s // 2)]
    big_rate = _flat_out(_assess_batch(_evaluator(big, ids)), big_feed, warm, big_timed)
    big_rule_rate = _flat_out(_rule_batch(big, ids), big_feed, warm, big_timed)
    return {
        "plant": plant,
        "rate": rate,
        "rule_rate": rule_rate,
        "floor_rate": floor_rate,
        "latencies": latencies,
        "rule_latencies": rule_latencies,
        "scenario": scenario,
        "batches": len(latencies),
        "touched": sum(plant.touched) / len(plant.touched),
        "big_rate": big_rate,
        "big_rule_rate": big_rule_rate,
        "big_touched": sum(big.touched) / len(big.touched),
        "big_every_ms": 1000 / len(big.batches),
    }


# -- 2. end to end: the monitor on a platform ----------------------------------------------------------
def _setup(platform: Platform, plant: _Plant) -> tuple[Principal, dict[str, str]]:
    tenant = tenants.create_tenant(platform, "bench")
    admin = Principal.system(tenant["id"], label="system:bench")
    ids = {d: devices.create_device(platform, admin, d, plant.type_of[d])["id"] for d in plant.devices}
    registry.save_enterprise(
        platform,
        admin,
        registry.EnterpriseSpec(
            name="plant", title="Bench chemical park", code=ENTERPRISE_CODE, region="310116"
        ),
    )
    for u in range(plant.units):
        unit_type = UNIT_TYPES[u % len(UNIT_TYPES)]
        spec = registry.UnitSpec(
            name=f"u{u:04d}",
            enterprise="plant",
            title=f"Unit {u}",
            kind="production" if unit_type == "reaction" else "storage",
            unit_type=unit_type,
            exposed_people=10,
        )
        registry.save_unit(platform, admin, spec)
    for p in plant.points:
        gas = p.kind in ("combustible", "toxic")
        registry.bind(
            platform,
            admin,
            registry.PointSpec(
                unit=f"u{p.unit:04d}",
                device=p.device,
                point=p.point,
                kind=p.kind,  # type: ignore[arg-type]
                substance=TOXIC if p.kind == "toxic" else None,
                high=None if gas else p.high,
                high_high=None if gas else p.high_high,
                rules=False,
            ),
        )
    return admin, ids


class _TimedEngine(RuleEngine):
    """The rule engine, noting when its worker has evaluated each batch and written its alarms."""

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self.done: list[float] = []

    def _evaluate(self, samples: list[StoredSample]) -> None:
        super()._evaluate(samples)
        self.done.append(time.perf_counter())


class _TimedMonitor(SafetyMonitor):
    """The safety monitor, noting when its worker has assessed (and written the warnings of) the units
    of each evaluation and the newest sample that evaluation held: a worker that falls behind takes
    several queued batches as one."""

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self.done: list[tuple[float, int]] = []

    def _evaluate(self, samples: list[StoredSample]) -> None:
        super()._evaluate(samples)
        self.done.append((time.perf_counter(), max(s.ts_us for s in samples)))


def _pace(submit: Callable[[list[StoredSample]], None], feed: _Feed, seconds: Seconds,
          before: Callable[[int, list[StoredSample]], None] | None = None) -> list[float]:  # fmt: skip
    """Hand the batches over at their times; returns each batch's due time (perf_counter)."""
    t0 = time.perf_counter() + 0.05
    due_times = []
    for index, batch in enumerate(feed.stream(seconds)):
        due = t0 + feed.due(batch, seconds[0][0])
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        if before is not None:
            before(index, batch)
        submit(batch)
        due_times.append(due)
    return due_times


def _monitor_run(platform: Platform, plant: _Plant, feed: _Feed, warm: Seconds,
                 timed: Seconds) -> tuple[list[float], float]:  # fmt: skip
    """Latencies (ms) of the paced batches through the safety monitor; its flat-out rate in the warm-up.
    A batch is done when the evaluation that held its newest sample has assessed every unit it touched."""
    last_ts: list[int] = []

    def before(_index: int, batch: list[StoredSample]) -> None:
        last_ts.append(max(s.ts_us for s in batch))

    monitor = _TimedMonitor(platform)
    monitor.start()
    try:
        start, points = time.perf_counter(), 0
        for batch in feed.stream(warm):
            monitor.submit(batch)
            points += len(batch)
        if not monitor.wait_idle(timeout_s=600):
            raise RuntimeError("the safety monitor did not catch up with the warm-up")
        warm_rate = points / (time.perf_counter() - start)
        evaluated = len(monitor.done)
        due = _pace(monitor.submit, feed, timed, before)
        if not monitor.wait_idle(timeout_s=600):
            raise RuntimeError("the safety monitor did not catch up")
    finally:
        monitor.stop()
    finished = monitor.done[evaluated:]
    latencies = []
    for due_at, newest in zip(due, last_ts, strict=True):
        done_at = next((at for at, ts in finished if ts >= newest), None)
        if done_at is None:
            raise RuntimeError("a batch was never assessed")
        latencies.append((done_at - due_at) * 1000)
    return latencies, warm_rate


def _engine_run(platform: Platform, admin: Principal, plant: _Plant, feed: _Feed, warm: Seconds,
                timed: Seconds) -> list[float]:  # fmt: skip
    """The same batches through the rule engine with one threshold rule per point type."""
    first_limit: dict[tuple[str, str], float] = {}
    for p in plant.points:
        first_limit.setdefault((p.type_name, p.point), p.high)
    for (type_name, point), high in first_limit.items():
        spec = {
            "name": f"{type_name} {point} high",
            "type": type_name,
            "condition": {"kind": "threshold", "point": point, "high": high, "inclusive": True},
        }
        rules.create_rule(platform, admin, rules.parse_spec(spec))
    engine = _TimedEngine(platform)
    engine.start()
    try:
        for batch in feed.stream(warm):
            engine.submit(batch)
        if not engine.wait_idle(timeout_s=600):
            raise RuntimeError("the rule engine did not catch up with the warm-up")
        engine.done.clear()
        due = _pace(engine.submit, feed, timed)
        if not engine.wait_idle(timeout_s=600):
            raise RuntimeError("the rule engine did not catch up")
    finally:
        engine.stop()
    return [(d - s) * 1000 for d, s in zip(engine.done, due, strict=True)]


def _end_to_end(quick: bool) -> dict[str, Any]:
    units = 25 if quick else 500
    timed_s = 3 if quick else 30
    plant = _Plant(units)
    with tempfile.TemporaryDirectory() as tmp:
        platform = open_platform(Settings(data_dir=Path(tmp)))
        try:
            start = time.perf_counter()
            admin, ids = _setup(platform, plant)
            setup_s = time.perf_counter() - start
            # The warm-up is the last seconds before now, the paced part now: warnings get real times.
            feed = _Feed(plant, now_us() - WARM_S * SECOND, admin.tenant_id, ids)
            warm, timed = plant.values(0, WARM_S), plant.values(WARM_S, timed_s)
            latencies, warm_rate = _monitor_run(platform, plant, feed, warm, timed)
            # The engine gets the same readings, timed from its own start.
            feed = _Feed(plant, now_us() - WARM_S * SECOND, admin.tenant_id, ids)
            engine = _engine_run(platform, admin, plant, feed, warm, timed)
        finally:
            platform.close()
    return {
        "plant": plant,
        "latencies": latencies,
        "engine": engine,
        "warm_rate": warm_rate,
        "setup_s": setup_s,
    }


def _p50_p99(values: list[float]) -> Iterator[float]:
    yield percentile(values, 0.5)
    yield percentile(values, 0.99)


def run(quick: bool = False) -> list[dict[str, Any]]:
    pure = _evaluator_figures(quick)
    e2e = _end_to_end(quick)
    plant: _Plant = pure["plant"]
    points = len(plant.points)
    rate = points  # 1 Hz: points per second offered
    where = (
        f"{points:,} points, {plant.units} units, {len(plant.devices):,} devices, batches of ~{BATCH} "
        "samples (whole devices)"
    )
    p50, p99 = _p50_p99(pure["latencies"])
    rule_p50, rule_p99 = _p50_p99(pure["rule_latencies"])
    e2e_p50, e2e_p99 = _p50_p99(e2e["latencies"])
    engine_p50, engine_p99 = _p50_p99(e2e["engine"])
    results = [
        record(
            f"safety_warning_throughput: Evaluator.on_samples + assess of the touched units, flat out ({where}; "
            f"{pure['scenario']['warned']} units warning at the end)",
            pure["rate"], "points/s",
            "platform rule Evaluator: the points' 2 template threshold rules each "
            f"({2 * points:,} CompiledRules), same batches",
            pure["rule_rate"], TARGET_RATE,
        ),
        record(
            f"safety_warning_throughput with rounds of ~{BIG_BATCH:,} samples (one every {pure['big_every_ms']:.0f} ms; "
            f"{pure['big_touched']:.0f} units touched per round, against {pure['touched']:.0f} per ~{BATCH})",
            pure["big_rate"], "points/s",
            "platform rule Evaluator (template rules), same rounds",
            pure["big_rule_rate"], TARGET_RATE,
        ),
        record(
            "safety_warning_throughput, against the floor",
            pure["rate"], "points/s",
            "bare Python loop: dict lookup + 2 comparisons per sample, same batches",
            pure["floor_rate"], TARGET_RATE,
        ),
        record(
            f"safety_warning_latency_p99: batch due -> every touched unit assessed, paced at {rate:,} points/s "
            f"({pure['batches']:,} batches)",
            p99, "ms",
            "platform rule Evaluator (template rules) paced the same (the first third of the batches)",
            rule_p99, TARGET_P99,
        ),
        record(
            "safety_warning_latency_p50",
            p50, "ms",
            "platform rule Evaluator (template rules) paced the same",
            rule_p50, "reported",
        ),
        record(
            f"safety_warning_e2e_p99: SafetyMonitor.submit -> the evaluation holding the batch assessed its units, "
            f"{rate:,} points/s, embedded SQLite (points bound with rules=False)",
            e2e_p99, "ms",
            "RuleEngine.submit -> batch evaluated and alarms written, one threshold rule per point type",
            engine_p99, TARGET_P99,
        ),
        record(
            "safety_warning_monitor_throughput: the SafetyMonitor flat out (every warm-up batch submitted at "
            "once; its worker takes up to 100 queued batches as one), embedded SQLite",
            e2e["warm_rate"], "points/s",
            "platform rule Evaluator (template rules) flat out on the same batches, no database",
            pure["rule_rate"], TARGET_RATE,
        ),
        record(
            "safety_warning_e2e_p50",
            e2e_p50, "ms",
            "RuleEngine, one threshold rule per point type",
            engine_p50, "reported",
        ),
    ]  # fmt: skip
    write_results(NAME, results)
    print(
        f"   (monitor flat out in the warm-up: {e2e['warm_rate']:,.0f} points/s; "
        f"setup {e2e['setup_s']:.0f} s; end state {pure['scenario']})",
        flush=True,
    )
    return results


if __name__ == "__main__":
    import sys

    for item in run(quick="--quick" in sys.argv):
        print(item)
