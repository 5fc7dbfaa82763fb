"""The tank-farm simulator: leaks reach the detectors on the timeline of two lags in series, a cooling
failure runs the reactor away past its limit with a rising rate of rise, quiet running stays quiet, and
every value fits the device types shipped in the library."""

from __future__ import annotations

import itertools
import json
import math
import threading

import httpx
import pytest

from indunet.platform.models import builtin_types, compile_validator
from indunet.platform.models.schema import DataType
from indunet.sim import SimulatedDevice, TankFarm, run_simulators
from indunet.sim.tank_farm import (
    D0_M,
    DETECTOR_TAU_S,
    SUBSTANCES,
    TEMPERATURE_LIMIT_C,
    WIND_TO_DEG,
    WIND_WEIGHT,
    FarmDevice,
)

START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
S = 1_000_000
TYPES = {dt.name: dt for dt in builtin_types()}


def quiet_farm() -> TankFarm:
    return TankFarm(noise=0.0, start_ts_us=START_US)


def device(farm: TankFarm, name: str) -> FarmDevice:
    return next(d for d in farm.devices() if d.name == name)


def expected_steady(tank: FarmDevice, detector: FarmDevice, rate_kg_s: float) -> float:
    """The documented plume formula, worked out here from the site plan rather than taken from the model."""
    dx, dy = detector.x - tank.x, detector.y - tank.y
    shell = math.hypot(dx, dy) - float(tank.attributes["diameter"]) / 2
    cos_off_wind = (dx * math.sin(math.radians(WIND_TO_DEG)) + dy * math.cos(math.radians(WIND_TO_DEG))) / (
        math.hypot(dx, dy)
    )
    gain = SUBSTANCES[tank.substance].gain
    return gain * rate_kg_s * (1 + WIND_WEIGHT * cos_off_wind) / (shell**2 + D0_M**2)


def crossing_time(steady: float, level: float, tau_cloud: float, tau_detector: float) -> float:
    """When two first-order lags in series, driven by a step to ``steady``, pass ``level``."""

    def response(t: float) -> float:
        return steady * (
            1
            - (tau_cloud * math.exp(-t / tau_cloud) - tau_detector * math.exp(-t / tau_detector))
            / (tau_cloud - tau_detector)
        )

    low, high = 0.0, 10_000.0
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if response(mid) < level else (low, mid)
    return high


def run_leak(
    farm: TankFarm, tank: str, rate_kg_s: float, seconds: int, at_s: int = 60
) -> list[dict[str, dict[str, float | int | bool]]]:
    """Readings once a second from the leak's start (index 0) on."""
    leak_us = START_US + at_s * S
    farm.advance(leak_us)
    farm.inject_leak(tank, rate_kg_s, leak_us)
    rows = [farm.readings()]
    for i in range(1, seconds + 1):
        farm.advance(leak_us + i * S)
        rows.append(farm.readings())
    return rows


def first_at_or_above(rows: list[dict[str, dict[str, float | int | bool]]], name: str, level: float) -> int:
    return next(i for i, row in enumerate(rows) if float(row[name]["concentration"]) >= level)


@pytest.mark.parametrize(
    ("tank", "nearest", "second", "far"),
    [("T-101", "GD-A01", "GD-A02", "GD-A06"), ("T-201", "GD-B01", "GD-B02", "GD-B04")],
)
def test_a_leak_reaches_the_detectors_on_a_deterministic_timeline(
    tank: str, nearest: str, second: str, far: str
) -> None:
    farm = quiet_farm()
    rows = run_leak(farm, tank, 2.0, 900)
    source = device(farm, tank)
    tau_cloud = SUBSTANCES[source.substance].cloud_tau_s
    tau_detector = DETECTOR_TAU_S["combustible"]
    steady = expected_steady(source, device(farm, nearest), 2.0)
    assert steady > 100  # the nearest detector is driven past its range

    assert rows[0][nearest]["concentration"] == 0.0
    for level in (25.0, 50.0):
        expected = crossing_time(steady, level, tau_cloud, tau_detector)
        crossed = first_at_or_above(rows, nearest, level)
        # Readings come once per integration step; rounding to 0.01 %LEL may advance one by a hair.
        assert crossed - 1 < expected + 0.05 and expected - 0.05 <= crossed
    assert 20 <= first_at_or_above(rows, nearest, 25.0) < first_at_or_above(rows, nearest, 50.0) <= 180
    assert first_at_or_above(rows, second, 25.0) > first_at_or_above(rows, nearest, 25.0) + 10
    assert max(float(row[far]["concentration"]) for row in rows) < 10.0
    assert max(float(row[nearest]["concentration"]) for row in rows) == 100.0  # capped at the range


def test_the_timeline_in_numbers() -> None:
    """The demo's story for a 2 kg/s methanol leak at T-101, in seconds from the leak's start."""
    rows = run_leak(quiet_farm(), "T-101", 2.0, 600)
    assert first_at_or_above(rows, "GD-A01", 25.0) == 50
    assert first_at_or_above(rows, "GD-A01", 50.0) == 92
    assert first_at_or_above(rows, "GD-A02", 25.0) == 98
    assert first_at_or_above(rows, "GD-A02", 50.0) == 360


def test_an_ammonia_leak_reaches_only_the_toxic_detectors() -> None:
    farm = quiet_farm()
    rows = run_leak(farm, "T-301", 0.1, 600)
    steady = expected_steady(device(farm, "T-301"), device(farm, "TD-B01"), 0.1)
    expected = crossing_time(steady, 30.0, SUBSTANCES["ammonia"].cloud_tau_s, DETECTOR_TAU_S["toxic"])
    crossed = first_at_or_above(rows, "TD-B01", 30.0)
    assert crossed - 1 < expected + 0.05 and expected - 0.05 <= crossed
    combustible = [d.name for d in farm.devices() if d.kind == "combustible"]
    assert all(row[name]["concentration"] == 0.0 for row in rows for name in combustible)


def test_the_level_falls_by_the_leaked_mass() -> None:
    leaking, intact = quiet_farm(), quiet_farm()
    rows = run_leak(leaking, "T-101", 2.0, 600)
    intact.advance(START_US + 660 * S)
    after, before = rows[-1]["T-101"], intact.readings()["T-101"]
    lost_t = 2.0 * 600 / 1000
    assert float(before["mass_t"]) - float(after["mass_t"]) == pytest.approx(lost_t, abs=0.002)
    area = math.pi * 10.0**2
    assert float(before["level"]) - float(after["level"]) == pytest.approx(lost_t / 0.79 / area, abs=0.0011)
    # The leak bypasses the flow meters: only a mass balance would show it.
    assert (after["inflow"], after["outflow"]) == (before["inflow"], before["outflow"])


def test_a_stopped_leak_clears() -> None:
    farm = quiet_farm()
    run_leak(farm, "T-201", 2.0, 300)
    stop_us = START_US + 360 * S
    farm.stop_leak("T-201", stop_us)
    mass = float(farm.readings()["T-201"]["mass_t"])
    trace = []
    for i in range(1, 1201):
        farm.advance(stop_us + i * S)
        trace.append(float(farm.readings()["GD-B01"]["concentration"]))
    assert trace[0] == 100.0 and trace[-1] < 1.0
    falling = trace[trace.index(max(v for v in trace if v < 100.0)) :]
    assert all(b <= a for a, b in itertools.pairwise(falling))
    # Only the steady 10 m3/h outflow moves the inventory now.
    assert float(farm.readings()["T-201"]["mass_t"]) == pytest.approx(mass - 10.0 * 0.55 / 3, abs=0.01)


def reactor_minutes(farm: TankFarm, minutes: int, first_min: int = 0) -> list[dict[str, float | int | bool]]:
    rows = []
    for m in range(first_min, first_min + minutes + 1):
        farm.advance(START_US + m * 60 * S)
        rows.append(farm.readings()["R-401"])
    return rows


def test_a_cooling_failure_runs_the_reactor_away() -> None:
    farm = quiet_farm()
    before = reactor_minutes(farm, 10)
    assert all(abs(float(r["temperature"]) - 80.0) < 0.5 and float(r["coolant_flow"]) > 5 for r in before)
    fail_us = START_US + 600 * S
    farm.inject_runaway("R-401", fail_us)
    seconds = []
    for i in range(1, 1801):
        farm.advance(fail_us + i * S)
        seconds.append(farm.readings()["R-401"])
    assert float(seconds[59]["coolant_flow"]) < 1.0
    over = next(i for i, r in enumerate(seconds, start=1) if float(r["temperature"]) > TEMPERATURE_LIMIT_C)
    assert 5 * 60 <= over <= 15 * 60
    # Minute by minute the rise itself grows, from the first minute to the limit: what a trend sees early.
    minutes = [80.0] + [float(seconds[m * 60 - 1]["temperature"]) for m in range(1, over // 60 + 1)]
    rises = [b - a for a, b in itertools.pairwise(minutes)]
    assert rises[0] > 0.5
    assert all(b > a for a, b in itertools.pairwise(rises))
    assert float(seconds[over]["pressure"]) > float(before[-1]["pressure"]) + 50


def test_a_quench_stops_the_runaway() -> None:
    farm = quiet_farm()
    farm.inject_runaway("R-401", START_US + 60 * S)
    farm.stop_runaway("R-401", START_US + 10 * 60 * S)
    rows = reactor_minutes(farm, 60)
    temperatures = [float(r["temperature"]) for r in rows]
    # Past 100 degC restored cooling alone no longer catches up at once; the quench turns it at once.
    assert max(temperatures) == temperatures[10] > 100.0
    assert temperatures[11] < temperatures[10] - 2.0
    assert float(rows[11]["coolant_flow"]) > 100.0  # the controller opens the cooling wide
    assert all(abs(t - 80.0) < 0.5 for t in temperatures[25:])


def test_normal_operation_stays_quiet_for_hours() -> None:
    farm = TankFarm(seed=7, start_ts_us=START_US)
    highest: dict[str, float] = {}
    levels = []
    reactor = []
    for i in range(0, 6 * 3600 + 1, 10):
        farm.advance(START_US + i * S)
        readings = farm.readings()
        for name, values in readings.items():
            if "concentration" in values:
                assert values["fault"] is False
                highest[name] = max(highest.get(name, 0.0), float(values["concentration"]))
        levels.append(float(readings["T-101"]["level"]))
        reactor.append(float(readings["R-401"]["temperature"]))
    assert len(highest) == 16
    assert max(highest.values()) < 5.0
    assert min(highest.values()) > 0.0  # the noise is there
    assert 0.3 < levels[0] - levels[-1] < 1.5  # T-101 sends about 40 m3/h, 0.13 m/h
    assert all(78.0 < t < 82.0 for t in reactor)


def test_advance_is_idempotent_and_readings_do_not_depend_on_how_often_they_are_read() -> None:
    stepwise = TankFarm(seed=3, start_ts_us=START_US)
    for i in range(1, 601):
        stepwise.advance(START_US + i * S)
        stepwise.readings()
    at_once = TankFarm(seed=3, start_ts_us=START_US)
    at_once.advance(START_US + 600 * S + S // 2)  # half a step more is not a step
    assert at_once.now_us == START_US + 600 * S
    assert stepwise.readings() == at_once.readings()

    before = at_once.readings()
    at_once.advance(START_US + 10 * S)
    at_once.advance(START_US + 600 * S)
    assert at_once.readings() == before
    assert (
        TankFarm(seed=4, start_ts_us=START_US).readings() != TankFarm(seed=3, start_ts_us=START_US).readings()
    )


def test_events_already_passed_take_effect_at_once() -> None:
    farm = quiet_farm()
    farm.advance(START_US + 120 * S)
    farm.inject_fault("GD-A01", START_US)
    assert farm.readings()["GD-A01"] == {"concentration": 0.0, "fault": True}
    farm.clear_fault("GD-A01", START_US + 130 * S)
    farm.advance(START_US + 129 * S)
    assert farm.readings()["GD-A01"]["fault"] is True
    farm.advance(START_US + 130 * S)
    assert farm.readings()["GD-A01"]["fault"] is False


def test_a_detector_in_fault_reads_zero_through_a_leak() -> None:
    farm = quiet_farm()
    farm.inject_fault("GD-A01", START_US + 60 * S)
    rows = run_leak(farm, "T-101", 2.0, 300)
    assert all(row["GD-A01"] == {"concentration": 0.0, "fault": True} for row in rows)
    assert float(rows[-1]["GD-A02"]["concentration"]) > 25.0


def test_every_value_fits_its_device_type() -> None:
    farm = TankFarm(seed=11, start_ts_us=START_US)
    checked = 0
    for tank in ("T-101", "T-102", "T-201", "T-301"):
        farm.inject_leak(tank, 2.0, START_US + 600 * S)
    farm.inject_runaway("R-401", START_US + 900 * S)
    validators = {name: compile_validator(dt) for name, dt in TYPES.items()}
    kinds = {d.name: d for d in farm.devices()}
    for i in range(0, 4 * 3600 + 1, 5):
        farm.advance(START_US + i * S)
        for name, values in farm.readings().items():
            validator = validators[kinds[name].type_name]
            assert set(values) == set(validator.checkers)
            for point, value in values.items():
                validator.check(point, value)  # raises PointRejected outside the model
                checked += 1
    assert checked > 100_000


def test_devices_carry_their_types_attributes_and_sit_in_their_units() -> None:
    farm = TankFarm()
    units = {u.name: u for u in farm.units()}
    devices = farm.devices()
    assert {d.kind for d in devices} == {"tank", "combustible", "toxic", "reactor"}
    assert len({d.name for d in devices}) == len(devices) == 21
    for d in devices:
        declared = {a.name: a for a in TYPES[d.type_name].attributes}
        for name, value in d.attributes.items():
            kind = declared[name].data_type
            assert kind is not DataType.FLOAT or isinstance(value, float), (d.name, name)
            assert kind is not DataType.STRING or isinstance(value, str), (d.name, name)
        assert (d.attributes["site_x"], d.attributes["site_y"]) == (d.x, d.y)
        unit = units[d.unit]
        assert unit.x <= d.x <= unit.x + unit.width and unit.y <= d.y <= unit.y + unit.height, d.name
    substances = {d.name: d.substance for d in devices}
    assert (substances["T-101"], substances["T-201"], substances["T-301"]) == ("methanol", "lpg", "ammonia")


# GB 18218-2018: critical quantity Q in t and correction factor beta.
CRITICAL = {"methanol": (500.0, 1.0), "lpg": (50.0, 1.5), "ammonia": (10.0, 2.0), "toluene": (500.0, 1.0),
            "nitric_acid": (100.0, 1.0)}  # fmt: skip


def alpha(people: int) -> float:
    return 2.0 if people >= 100 else 1.5 if people >= 50 else 1.2 if people >= 30 else 1.0 if people else 0.5


def test_units_rank_as_major_hazards_as_designed() -> None:
    units = {u.name: u for u in TankFarm().units()}
    assert {u.kind for u in units.values()} == {"storage", "production"}
    ratio = {n: sum(q / CRITICAL[s][0] for s, q in u.holdings) for n, u in units.items()}
    risk = {
        n: alpha(u.exposed_people) * sum(CRITICAL[s][1] * q / CRITICAL[s][0] for s, q in u.holdings)
        for n, u in units.items()
    }
    assert ratio["tank-area-A"] >= 1 and 10 <= risk["tank-area-A"] < 50  # grade 3
    assert ratio["tank-area-B"] >= 1 and risk["tank-area-B"] >= 50  # grade 1 or 2
    assert ratio["reactor-area"] < 1  # not a major hazard
    assert risk["tank-area-A"] == pytest.approx(14.3, abs=0.05)
    assert risk["tank-area-B"] == pytest.approx(70.5, abs=0.05)
    assert dict(units["tank-area-B"].holdings) == {"lpg": 495.0, "ammonia": 219.6}


def test_unknown_names_and_bad_rates_are_refused() -> None:
    farm = TankFarm()
    with pytest.raises(ValueError, match="no tank"):
        farm.inject_leak("T-999", 1.0, START_US)
    with pytest.raises(ValueError, match="leak rate"):
        farm.inject_leak("T-101", -1.0, START_US)
    with pytest.raises(ValueError, match="no reactor"):
        farm.inject_runaway("T-101", START_US)
    with pytest.raises(ValueError, match="no device"):
        farm.simulator("nope")
    with pytest.raises(RuntimeError, match="advance"):
        farm.readings()
    with pytest.raises(ValueError, match="noise"):
        TankFarm(noise=-1.0)


def test_device_simulators_share_the_farm() -> None:
    farm = TankFarm(seed=5)
    tank, detector = farm.simulator("T-201"), farm.simulator("GD-B01")
    first = tank.step(START_US)  # the clock starts at the first step
    assert farm.now_us == START_US
    assert detector.step(START_US + 2 * S) == farm.readings()["GD-B01"]
    assert tank.step(START_US + 2 * S) == farm.readings()["T-201"] != first


def test_runs_under_the_telemetry_runner() -> None:
    farm = TankFarm(seed=1)
    names = ("T-101", "GD-A01", "TD-B01", "R-401")
    devices = [
        SimulatedDevice(d.name, d.type_name, f"tok-{d.name}", farm.simulator(d.name))
        for d in farm.devices()
        if d.name in names
    ]
    bodies: list[dict[str, object]] = []
    stop = threading.Event()

    def endpoint(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content)["records"][0])
        if len(bodies) >= 8:
            stop.set()
        return httpx.Response(202, json={"accepted": 1})

    client = httpx.Client(transport=httpx.MockTransport(endpoint))
    run_simulators("http://platform.test", devices, 0.01, stop=stop, client=client)
    assert {b["device"] for b in bodies} == set(names)
    for body in bodies:
        type_name = next(d.type_name for d in devices if d.name == body["device"])
        validator = compile_validator(TYPES[type_name])
        values = body["values"]
        assert isinstance(values, dict) and set(values) == set(validator.checkers)
        for point, value in values.items():
            validator.check(point, value)
