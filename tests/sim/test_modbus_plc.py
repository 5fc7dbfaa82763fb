"""The pump-station PLC: process behaviour, faults, and serving many devices over real sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from indunet.apps.phm import WRITTEN_POINTS
from indunet.edge.driver import Binding, DeviceSpec, TransportError
from indunet.edge.drivers.modbus import create
from indunet.platform.models import builtin_types, compile_validator
from indunet.sim.modbus_plc import (
    NOT_MAPPED,
    TEMP_TRIP,
    VIB_ALARM,
    VIB_TRIP,
    ZONE_C_MM_S,
    CentrifugalPump,
    PumpStation,
    parse_fault,
    serve,
    serve_many,
)

MODEL = next(t for t in builtin_types() if t.name == "centrifugal_pump")


def run_pump(station: PumpStation, seconds: int, unit: int = 1, dt: float = 1.0) -> list[dict[str, Any]]:
    rows = []
    for _ in range(seconds):
        station.step(dt)
        rows.append(dict(station.pumps[unit].values))
    return rows


def test_values_fit_the_model_in_health_and_in_every_fault() -> None:
    validator = compile_validator(MODEL)
    model_points = {p.name for p in MODEL.points} - WRITTEN_POINTS - NOT_MAPPED
    for fault in (None, "bearing_wear", "sensor_drift", "stuck"):
        station = PumpStation(units=2, seed=7)
        if fault:
            station.inject(fault, 50.0 if fault == "bearing_wear" else None)
        for dt in (1.0, 60.0):
            for values in run_pump(station, 400, dt=dt):
                assert model_points <= set(values)
                for name in model_points:
                    validator.check(name, values[name])


def test_plain_simulator_gives_exactly_the_model_points() -> None:
    validator = compile_validator(MODEL)
    sim = CentrifugalPump(3)
    for i in range(2000):
        values = sim.step(1_767_225_600_000_000 + i * 1_000_000)
        assert set(values) == set(validator.checkers) - WRITTEN_POINTS - NOT_MAPPED
        for name, value in values.items():
            validator.check(name, value)


def test_operating_point_follows_speed_and_run_command() -> None:
    station = PumpStation(seed=2)
    full = run_pump(station, 30)[-1]
    assert 150 < float(full["flow"]) < 260
    assert 4.0 < float(full["discharge_pressure"]) < 7.0
    assert 40 < float(full["motor_current"]) < 90
    assert float(full["vibration"]) < ZONE_C_MM_S
    station.set_registers(1, 0, [2400])
    slower = run_pump(station, 30)[-1]
    assert float(slower["flow"]) < 0.85 * float(full["flow"])
    assert float(slower["speed"]) == pytest.approx(2400, abs=10)
    station.write(1, 5, 0, [False])  # run coil off
    stopped = run_pump(station, 30)[-1]
    assert stopped["flow"] == 0 and stopped["motor_current"] == 0 and stopped["running_feedback"] is False
    hours = float(stopped["operating_hours"])
    assert float(run_pump(station, 3600)[-1]["operating_hours"]) == hours


def test_bearing_wear_raises_vibration_and_temperature_then_trips() -> None:
    station = PumpStation(units=2, seed=4)
    station.inject("bearing_wear", 4.0)  # full wear in 30 simulated minutes
    start = dict(station.pumps[1].values)
    rows = run_pump(station, 1800)
    codes = [r["fault_code"] for r in rows]
    assert VIB_ALARM in codes
    assert codes[-1] in (VIB_TRIP, TEMP_TRIP)
    assert rows[-1]["running_feedback"] is False or float(rows[-1]["speed"]) < float(start["speed"])
    peak_vibration = max(float(r["vibration"]) for r in rows)
    peak_temperature = max(float(r["bearing_temperature"]) for r in rows)
    assert peak_vibration > 2 * float(start["vibration"])
    assert peak_temperature > float(start["bearing_temperature"]) + 10
    # The healthy pump next door is unaffected.
    assert station.pumps[2].values["fault_code"] == 0
    # A trip is latched until a fault reset, and the worn bearing trips again once running.
    station.clear("bearing_wear")
    assert station.pumps[1].values["fault_code"] in (VIB_TRIP, TEMP_TRIP)
    station.write(1, 5, 1, [True])
    assert station.pumps[1].tripped == 0
    assert run_pump(station, 120)[-1]["fault_code"] in (VIB_TRIP, TEMP_TRIP)


def test_sensor_drift_moves_discharge_pressure_only() -> None:
    healthy, drifting = PumpStation(seed=9), PumpStation(seed=9)
    drifting.inject("sensor_drift", 2.0)  # bar per hour
    a, b = run_pump(healthy, 1800)[-1], run_pump(drifting, 1800)[-1]
    assert float(b["discharge_pressure"]) - float(a["discharge_pressure"]) == pytest.approx(1.0, abs=0.1)
    assert a["flow"] == b["flow"]


def test_stuck_freezes_flow_and_clears() -> None:
    station = PumpStation(seed=5)
    station.inject("stuck", 100.0)
    rows = run_pump(station, 60)
    assert len({r["flow"] for r in rows}) == 1
    assert len({r["discharge_pressure"] for r in rows}) > 1
    later = run_pump(station, 100)
    assert len({r["flow"] for r in later[-30:]}) > 1


def test_fault_specs() -> None:
    assert parse_fault("comm_drop=5") == ("comm_drop", 5.0)
    assert parse_fault("stuck") == ("stuck", None)
    with pytest.raises(ValueError, match="unknown fault"):
        parse_fault("meltdown")
    with pytest.raises(ValueError, match="not a number"):
        parse_fault("stuck=soon")
    with pytest.raises(ValueError, match="no pump"):
        PumpStation(units=1).inject("stuck", unit=2)
    with pytest.raises(ValueError):
        PumpStation(units=0)


def spec(port: int, unit: int = 1, timeout_s: float = 2.0) -> DeviceSpec:
    points = [
        Binding("flow", {"table": "input", "address": 0, "type": "float32"}),
        Binding("tag", {"table": "input", "address": 19, "type": "string", "length": 8}),
    ]
    return DeviceSpec("p", {"host": "127.0.0.1", "port": port, "unit": unit, "timeout_s": timeout_s}, points)


async def read_tag(port: int, unit: int = 1, timeout_s: float = 2.0) -> str:
    driver = create(spec(port, unit, timeout_s))
    await driver.connect()
    try:
        result = await driver.read()
    finally:
        await driver.close()
    assert not result.errors, result.errors
    return str({r.point: r.value for r in result.readings}["tag"])


def test_serve_many_answers_100_ports_concurrently() -> None:
    async def main() -> None:
        ready, stop = asyncio.Event(), asyncio.Event()
        stations: list[PumpStation] = []
        ports: list[int] = []
        task = asyncio.create_task(
            serve_many("127.0.0.1", [0] * 100, ready=ready, stop=stop, stations=stations, bound_ports=ports)
        )
        await asyncio.wait_for(ready.wait(), 30)
        try:
            assert len(set(ports)) == 100
            tags = await asyncio.wait_for(asyncio.gather(*(read_tag(p) for p in ports)), 60)
            assert tags == [f"P{i + 1:03d}-101" for i in range(100)]
            assert all(s.request_count == 2 for s in stations)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)

    asyncio.run(main())


def test_serve_with_100_units_faults_and_a_comm_drop() -> None:
    async def main() -> None:
        station = PumpStation(units=100, seed=1)
        ready, stop = asyncio.Event(), asyncio.Event()
        port = await _free_port()
        task = asyncio.create_task(
            serve("127.0.0.1", port, faults=["bearing_wear=3"], ready=ready, stop=stop, station=station)
        )
        await asyncio.wait_for(ready.wait(), 10)
        try:
            assert station.pumps[1].wear_speedup == 3.0 and station.pumps[2].wear_speedup == 0.0
            tags = await asyncio.gather(*(read_tag(port, unit) for unit in (1, 50, 100)))
            assert tags == ["P-101", "P-150", "P-200"]
            station.inject("comm_drop", 60.0)
            with pytest.raises(TransportError):
                await read_tag(port, 1, timeout_s=0.3)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)

    asyncio.run(main())


async def _free_port() -> int:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()
    return port
