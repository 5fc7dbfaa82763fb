from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from indunet.apps.phm import WRITTEN_POINTS
from indunet.core.errors import InvalidInput
from indunet.platform.models import builtin_types, compile_validator
from indunet.sim import SIMULATORS, CncMachine, FlowMeter, simulator_for
from indunet.sim.modbus_plc import NOT_MAPPED
from indunet.sim.runner import Simulator

START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
TYPES = {dt.name: dt for dt in builtin_types()}


def run(sim: Simulator, steps: int, period_us: int = 1_000_000) -> list[dict[str, Any]]:
    return [sim.step(START_US + i * period_us) for i in range(steps)]


@pytest.mark.parametrize(("type_name", "factory"), sorted(SIMULATORS.items()))
def test_every_value_passes_the_model_validator(type_name: str, factory: Callable[[int], Simulator]) -> None:
    validator = compile_validator(TYPES[type_name])
    for seed in (1, 2):
        for values in run(factory(seed), 10_000):
            # Every point but those the platform writes and the pump instruments the station lacks.
            assert set(values) == set(validator.checkers) - WRITTEN_POINTS - NOT_MAPPED
            for point, value in values.items():
                validator.check(point, value)  # raises PointRejected if out of the model


@pytest.mark.parametrize("factory", [CncMachine, FlowMeter])
def test_uneven_steps_stay_valid(factory: Callable[[int], Simulator]) -> None:
    type_name = "cnc_machine_tool" if factory is CncMachine else "flow_pressure_instrument"
    validator = compile_validator(TYPES[type_name])
    sim = factory(5)
    rng = random.Random(0)
    ts = START_US
    for _ in range(3000):
        ts += rng.choice((0, 1, 100_000, 2_000_000, 300_000_000))
        for point, value in sim.step(ts).items():
            validator.check(point, value)


@pytest.mark.parametrize("factory", [CncMachine, FlowMeter])
def test_same_seed_same_run(factory: Callable[[int], Simulator]) -> None:
    assert run(factory(42), 2000) == run(factory(42), 2000)
    assert run(factory(42), 200) != run(factory(43), 200)


def test_cnc_cycles_produce_parts_and_pass_through_tool_changes() -> None:
    rows = run(CncMachine(1, program="O1001_BRACKET"), 5000)
    parts = [r["part_count"] for r in rows]
    assert parts[-1] - parts[0] >= 8  # a cycle is about 8 minutes
    assert all(b - a in (0, 1) for a, b in itertools.pairwise(parts))
    tools = {r["tool_number"] for r in rows}
    assert {1, 4, 7, 5} <= tools
    states = Counter(r["program_state"] for r in rows)
    assert states["Running"] > states["Ended"] > 0
    assert any(r["cycle_time"] for r in rows)


def test_cnc_spindle_load_follows_feed() -> None:
    rows = run(CncMachine(3), 5000)
    cutting = [r for r in rows if r["feed_rate"] > 0]
    stopped = [r for r in rows if r["spindle_speed"] == 0]
    assert cutting and stopped
    assert min(r["spindle_load"] for r in cutting) > max(r["spindle_load"] for r in stopped)
    assert all(r["power_active"] > 1.0 for r in rows)
    assert rows[-1]["energy_total"] > rows[0]["energy_total"]


def test_cnc_alarms_interrupt_the_program() -> None:
    rows = run(CncMachine(1), 40_000)
    alarms = [r for r in rows if r["alarm_active"]]
    assert alarms
    assert all(r["program_state"] == "Interrupted" and r["alarm_code"] != 0 for r in alarms)
    assert all(r["alarm_code"] == 0 for r in rows if not r["alarm_active"])


def test_flow_follows_daily_demand_and_pressure_falls_with_flow() -> None:
    rows = run(FlowMeter(1, utc_offset_h=8.0), 24 * 60, period_us=60_000_000)
    local_hour = [(i / 60 + 8) % 24 for i in range(len(rows))]
    night = [r["volume_flow"] for r, h in zip(rows, local_hour, strict=True) if 2 <= h < 4]
    morning = [r["volume_flow"] for r, h in zip(rows, local_hour, strict=True) if 7 <= h < 8]
    assert sum(morning) / len(morning) > 1.4 * sum(night) / len(night)
    high = max(rows, key=lambda r: r["volume_flow"])
    low = min(rows, key=lambda r: r["volume_flow"])
    assert high["pressure"] < low["pressure"]


def test_totalizers_integrate_flow() -> None:
    rows = run(FlowMeter(9), 3601)
    first, rows = rows[0], rows[1:]
    mean_flow = sum(r["volume_flow"] for r in rows) / len(rows)
    gained = rows[-1]["totalizer_volume"] - first["totalizer_volume"]
    assert gained == pytest.approx(mean_flow, rel=0.01)  # one hour of flow in m3/h
    assert rows[-1]["operating_hours"] - first["operating_hours"] == pytest.approx(1.0)


def test_ne107_status_mostly_normal_with_events() -> None:
    rows = run(FlowMeter(4), 30 * 24 * 60, period_us=60_000_000)
    health = Counter(r["device_health"] for r in rows)
    assert health[0] / len(rows) > 0.8
    assert set(health) - {0}
    assert all(r["diagnostic_message"] == "" for r in rows if r["device_health"] == 0)
    assert all(r["volume_flow"] == 0.0 for r in rows if r["empty_pipe"])


def test_simulator_for() -> None:
    assert isinstance(simulator_for("cnc_machine_tool", 1), CncMachine)
    with pytest.raises(InvalidInput, match="no simulator"):
        simulator_for("toaster", 1)
