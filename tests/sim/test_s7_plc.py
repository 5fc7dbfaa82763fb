"""The S7 PLC simulator: memory layout, setpoints, faults, and several servers on free ports."""

from __future__ import annotations

import asyncio
import struct

import pytest
from snap7.client import Client
from snap7.type import Area
from tests.helpers import free_port

from indunet.sim.s7_plc import PlcServer, UtilitiesPlc, parse_fault, serve

T0 = 1_750_000_000_000_000  # a fixed start time keeps the process deterministic


def _run(plc: UtilitiesPlc, seconds: int, start: int = T0) -> int:
    ts = start
    for _ in range(seconds):
        plc.step(ts)
        ts += 1_000_000
    return ts


def test_memory_layout_matches_the_docstring() -> None:
    plc = UtilitiesPlc(seed=3)
    values = plc.step(T0)
    flow, pressure, temperature = struct.unpack_from(">3f", plc.db1, 0)
    assert flow == pytest.approx(values["volume_flow"], rel=1e-6)
    assert pressure == pytest.approx(values["pressure"], rel=1e-6)
    assert temperature == pytest.approx(values["temperature"], rel=1e-6)
    assert struct.unpack_from(">d", plc.db1, 32)[0] == values["totalizer_volume"]
    assert struct.unpack_from(">h", plc.db1, 56)[0] == values["device_health"]
    assert bool(plc.db1[60] & 0b10) is True  # pump running
    assert plc.db1[70:72] == bytes([32, 7]) and plc.db1[72:79] == b"FIT-101"
    assert plc.damping == 1.0 and plc.pump_enable


def test_same_seed_same_process() -> None:
    a, b = UtilitiesPlc(seed=5), UtilitiesPlc(seed=5)
    _run(a, 30)
    _run(b, 30)
    assert a.db1 == b.db1


def test_heartbeat_toggles() -> None:
    plc = UtilitiesPlc()
    plc.step(T0)
    first = plc.mk[0] & 1
    plc.step(T0 + 1_000_000)
    assert plc.mk[0] & 1 != first


def test_setpoints_drive_the_process() -> None:
    plc = UtilitiesPlc()
    ts = _run(plc, 5)
    plc.db2[8] |= 0b01  # reset totalizer command
    plc.step(ts)
    assert struct.unpack_from(">d", plc.db1, 32)[0] < 1.0
    assert plc.db2[8] & 0b01 == 0  # acknowledged
    plc.db2[8] &= ~0b10 & 0xFF  # pump off
    ts = _run(plc, 60, ts + 1_000_000)
    assert struct.unpack_from(">f", plc.db1, 0)[0] == pytest.approx(0.0, abs=0.5)
    assert plc.db1[60] & 0b10 == 0


def test_faults() -> None:
    drifting, healthy = UtilitiesPlc(seed=2), UtilitiesPlc(seed=2)
    drifting.inject("sensor_drift", 10.0)  # kPa per minute
    for plc in (drifting, healthy):
        _run(plc, 10 * 60 // 30, T0)  # steps of 1 s
    # Same seed, same noise: the difference is the drift alone.
    drift = struct.unpack_from(">f", drifting.db1, 4)[0] - struct.unpack_from(">f", healthy.db1, 4)[0]
    assert drift == pytest.approx(10.0 * 19 / 60, abs=0.05)

    stuck = UtilitiesPlc(seed=2)
    ts = _run(stuck, 3)
    stuck.inject("stuck")
    stuck.step(ts)
    frozen = stuck.db1[0:4]
    _run(stuck, 20, ts + 1_000_000)
    assert stuck.db1[0:4] == frozen

    worn = UtilitiesPlc(seed=2)
    worn.inject("bearing_wear", 2.0)
    _run(worn, 1)
    start = struct.unpack_from(">ff", worn.db1, 62)
    ts = T0 + 1_000_000
    for _ in range(60):  # one simulated hour in steps of one minute
        worn.step(ts)
        ts += 60_000_000
    vibration, bearing = struct.unpack_from(">ff", worn.db1, 62)
    assert vibration > 3 * start[0]
    assert bearing > start[1] + 20

    with pytest.raises(ValueError):
        worn.inject("meltdown")


def test_parse_fault() -> None:
    assert parse_fault("comm_drop=5") == ("comm_drop", 5.0)
    assert parse_fault("stuck") == ("stuck", None)
    for bad in ("nope", "comm_drop=x", "comm_drop=-1", "comm_drop=nan"):
        with pytest.raises(ValueError):
            parse_fault(bad)


def test_two_servers_on_free_ports_serve_real_s7() -> None:
    first, second = UtilitiesPlc(seed=1, tag="FIT-101"), UtilitiesPlc(seed=2, tag="FIT-202")
    with PlcServer(first) as one, PlcServer(second) as two:
        assert one.port != two.port and one.port > 0
        first.step(T0)
        second.step(T0)
        for server, tag in ((one, b"FIT-101"), (two, b"FIT-202")):
            client = Client()
            client.connect("127.0.0.1", 0, 1, server.port)
            try:
                assert bytes(client.read_area(Area.DB, 1, 72, 7)) == tag
                client.write_area(Area.DB, 2, 0, bytearray(struct.pack(">f", 4.5)))
            finally:
                client.disconnect()
        assert first.damping == 4.5 and second.damping == 4.5


def test_comm_drop_silences_the_server() -> None:
    plc = UtilitiesPlc()
    with PlcServer(plc) as server:
        plc.inject("comm_drop", 30.0)
        client = Client()
        with pytest.raises(Exception):  # noqa: B017 - snap7 reports the silence as a timeout
            client.connect("127.0.0.1", 0, 1, server.port)
        plc.clear("comm_drop")
        client = Client()
        client.connect("127.0.0.1", 0, 1, server.port)
        assert len(client.read_area(Area.DB, 1, 0, 4)) == 4
        client.disconnect()


def test_serve_runs_until_stopped() -> None:
    async def main() -> bytes:
        port = free_port()
        ready, stop = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(
            serve("127.0.0.1", port, faults=["stuck"], ready=ready, stop=stop, period_s=0.05)
        )
        await asyncio.wait_for(ready.wait(), 10)

        def read() -> bytes:
            client = Client()
            client.connect("127.0.0.1", 0, 1, port)
            try:
                return bytes(client.read_area(Area.DB, 1, 70, 10))
            finally:
                client.disconnect()

        data = await asyncio.to_thread(read)
        stop.set()
        await asyncio.wait_for(task, 15)
        return data

    assert asyncio.run(main())[2:9] == b"FIT-101"
