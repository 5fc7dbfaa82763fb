"""The Modbus driver against the pump-station simulator over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from tests.helpers import free_port

from indunet.edge.driver import Binding, BindingError, DeviceError, DeviceSpec, TransportError
from indunet.edge.drivers.modbus import create, scan
from indunet.platform.models import DataType
from indunet.sim.modbus_plc import PumpStation, start_server

MEMORY = 1000


@asynccontextmanager
async def plc(units: int = 2) -> AsyncIterator[tuple[PumpStation, int]]:
    station = PumpStation(units, seed=3)
    server, port = await start_server("127.0.0.1", 0, station)
    try:
        yield station, port
    finally:
        await server.shutdown()  # type: ignore[no-untyped-call]


def spec(port: int, points: list[dict[str, Any]], **connection: Any) -> DeviceSpec:
    bindings = [Binding(p["point"], {k: v for k, v in p.items() if k != "point"}) for p in points]
    conn = {"host": "127.0.0.1", "port": port, "timeout_s": 0.5} | connection
    return DeviceSpec("pump-01", conn, bindings)


def run(test: Callable[[PumpStation, int], Awaitable[None]], units: int = 2) -> None:
    async def main() -> None:
        async with plc(units) as (station, port):
            await test(station, port)

    asyncio.run(main())


PUMP_POINTS = [
    {"point": "flow", "table": "input", "address": 0, "type": "float32"},
    {"point": "discharge_pressure", "table": "input", "address": 2, "type": "float32"},
    {"point": "vibration", "table": "input", "address": 12, "type": "float32"},
    {"point": "fault_code", "table": "input", "address": 14, "type": "uint16"},
    {"point": "energy", "table": "input", "address": 17, "type": "uint32", "word_order": "little"},
    {"point": "tag", "table": "input", "address": 19, "type": "string", "length": 8},
    {"point": "speed_setpoint", "table": "holding", "address": 0, "type": "uint16"},
    {"point": "running", "table": "coil", "address": 0},
    {"point": "running_feedback", "table": "discrete", "address": 0},
]


def test_reads_the_pump_of_the_configured_unit() -> None:
    async def body(station: PumpStation, port: int) -> None:
        driver = create(spec(port, PUMP_POINTS, unit=2))
        await driver.connect()
        try:
            result = await driver.read()
        finally:
            await driver.close()
        assert result.errors == []
        got = {r.point: r.value for r in result.readings}
        truth = station.pumps[2].values
        assert got["tag"] == truth["tag"] == "P-102"
        assert got["fault_code"] == truth["fault_code"]
        assert got["energy"] == truth["energy"]
        assert isinstance(got["energy"], int) and got["energy"] > 0
        assert got["flow"] == pytest.approx(truth["flow"], rel=1e-6)
        assert got["speed_setpoint"] == 2960
        assert got["running"] is True and got["running_feedback"] is True
        assert driver.raw_types == {
            "flow": DataType.FLOAT,
            "discharge_pressure": DataType.FLOAT,
            "vibration": DataType.FLOAT,
            "fault_code": DataType.INT,
            "energy": DataType.INT,
            "tag": DataType.STRING,
            "speed_setpoint": DataType.INT,
            "running": DataType.BOOL,
            "running_feedback": DataType.BOOL,
        }
        # Input 0..26 with a gap at 4..11 and 15..16: max_gap 0 splits, the coils and inputs are apart.
        before = station.request_count
        await driver.connect()
        await driver.read()
        await driver.close()
        assert station.request_count - before == len(driver.blocks) == 6

    run(body)


def test_all_types_in_all_orders_through_the_wire() -> None:
    cases: list[tuple[str, Any]] = [
        ("int16", -12345),
        ("uint16", 54321),
        ("int32", -123456789),
        ("uint32", 3_000_000_000),
        ("float32", 1.5),
        ("float64", -2.0e-300),
    ]
    orders = [(b, w) for b in ("big", "little") for w in ("big", "little")]

    async def body(station: PumpStation, port: int) -> None:
        points: list[dict[str, Any]] = []
        address = MEMORY
        for kind, _ in cases:
            for byte_order, word_order in orders:
                name = f"{kind}_{byte_order}_{word_order}"
                points.append(
                    {"point": name, "table": "holding", "address": address, "type": kind}
                    | {"byte_order": byte_order, "word_order": word_order}
                )
                address += {"int16": 1, "uint16": 1, "float64": 4}.get(kind, 2)
        points.append(
            {"point": "text", "table": "holding", "address": address, "type": "string", "length": 5}
        )
        points.append({"point": "flag", "table": "holding", "address": address + 5, "type": "bool", "bit": 9})
        driver = create(spec(port, points, unit=1))
        await driver.connect()
        try:
            for p in points:
                value = dict(cases).get(p["type"], "PUMP-7" if p["type"] == "string" else True)
                await driver.write(p["point"], value)
            result = await driver.read()
        finally:
            await driver.close()
        assert result.errors == []
        got = {r.point: r.value for r in result.readings}
        for p in points[:-2]:
            assert got[p["point"]] == dict(cases)[p["type"]], p
        assert got["text"] == "PUMP-7"
        assert got["flag"] is True
        assert station.holding[1][address + 5] == 1 << 9
        # The wire layout is the documented one, not just self-consistent.
        f32 = next(p for p in points if p["point"] == "float32_big_big")["address"]
        assert [station.holding[1][f32], station.holding[1][f32 + 1]] == [0x3FC0, 0x0000]
        f32_swapped = next(p for p in points if p["point"] == "float32_big_little")["address"]
        assert [station.holding[1][f32_swapped], station.holding[1][f32_swapped + 1]] == [0x0000, 0x3FC0]
        assert len(driver.blocks) == 1  # one contiguous range of holding registers

    run(body)


def test_coalescing_with_max_gap_saves_requests() -> None:
    points = [
        {"point": "flow", "table": "input", "address": 0, "type": "float32"},
        {"point": "current", "table": "input", "address": 6, "type": "float32"},
        {"point": "vibration", "table": "input", "address": 12, "type": "float32"},
    ]

    async def count_requests(station: PumpStation, port: int, max_gap: int) -> int:
        driver = create(spec(port, points, max_gap=max_gap))
        await driver.connect()
        before = station.request_count
        result = await driver.read()
        await driver.close()
        assert len(result.readings) == 3 and not result.errors
        return station.request_count - before

    async def body(station: PumpStation, port: int) -> None:
        assert await count_requests(station, port, 0) == 3
        assert await count_requests(station, port, 4) == 1

    run(body)


def test_exception_response_fails_only_its_block() -> None:
    points = [
        {"point": "flow", "table": "input", "address": 0, "type": "float32"},
        {"point": "nothing", "table": "input", "address": 200, "type": "uint16"},
        {"point": "speed_setpoint", "table": "holding", "address": 0},
    ]

    async def body(station: PumpStation, port: int) -> None:
        driver = create(spec(port, points))
        await driver.connect()
        try:
            result = await driver.read()
            # The connection survives a refused block: the next poll works too.
            again = await driver.read()
        finally:
            await driver.close()
        assert {r.point for r in result.readings} == {"flow", "speed_setpoint"}
        assert len(result.errors) == 1
        assert isinstance(result.errors[0], DeviceError)
        assert "input 200..200" in str(result.errors[0])
        assert "ILLEGAL DATA ADDRESS" in str(result.errors[0])
        assert {r.point for r in again.readings} == {"flow", "speed_setpoint"}

    run(body)


def test_unknown_unit_is_a_device_error() -> None:
    async def body(station: PumpStation, port: int) -> None:
        driver = create(spec(port, PUMP_POINTS[:1], unit=9))
        await driver.connect()
        try:
            result = await driver.read()
        finally:
            await driver.close()
        assert result.readings == []
        assert "GATEWAY TARGET" in str(result.errors[0])

    run(body)


def test_unreachable_host_is_a_transport_error() -> None:
    async def body() -> None:
        driver = create(spec(free_port(), PUMP_POINTS))
        with pytest.raises(TransportError, match="cannot connect"):
            await driver.connect()
        with pytest.raises(TransportError, match="not connected"):
            await driver.read()
        await driver.close()

    asyncio.run(asyncio.wait_for(body(), 10))


def test_comm_drop_times_out_and_the_device_comes_back() -> None:
    async def body(station: PumpStation, port: int) -> None:
        driver = create(spec(port, PUMP_POINTS[:2], timeout_s=0.3))
        await driver.connect()
        station.inject("comm_drop", 30.0)
        with pytest.raises(TransportError, match=r"no reply|No response"):
            await driver.read()
        await driver.close()
        station.clear("comm_drop")
        await driver.connect()  # the gateway reconnects after a TransportError
        result = await driver.read()
        await driver.close()
        assert [r.point for r in result.readings] == ["flow", "discharge_pressure"]

    run(body)


def test_writes_reach_the_plc_and_read_only_tables_refuse() -> None:
    async def body(station: PumpStation, port: int) -> None:
        d = spec(port, PUMP_POINTS)
        driver = create(
            DeviceSpec(
                d.name,
                d.connection,
                d.bindings,
                {
                    "stop": {"write": "running", "value": False},
                    "set_speed": {"write": "speed_setpoint", "param": "rpm"},
                },
            )
        )
        await driver.connect()
        try:
            await driver.write("speed_setpoint", 1800)
            await driver.call("stop", {})
            assert station.holding[1][0] == 1800
            assert station.pumps[1].run_command is False
            await driver.call("set_speed", {"rpm": 2400})
            assert station.holding[1][0] == 2400
            await driver.write("running", True)
            assert station.pumps[1].run_command is True
            with pytest.raises(DeviceError, match="read-only"):
                await driver.write("flow", 1.0)
            with pytest.raises(DeviceError, match="read-only"):
                await driver.write("running_feedback", True)
            with pytest.raises(DeviceError, match="range"):
                await driver.write("speed_setpoint", 70000)
            with pytest.raises(DeviceError, match="ILLEGAL DATA VALUE"):
                await driver.write("speed_setpoint", 5000)  # above the drive's maximum
            with pytest.raises(DeviceError, match="no Modbus binding"):
                await driver.call("start", {})
            station.step(5.0)
            result = await driver.read()
        finally:
            await driver.close()
        got = {r.point: r.value for r in result.readings}
        assert got["speed_setpoint"] == 2400

    run(body)


def test_scan_finds_units_and_ranges() -> None:
    async def body(station: PumpStation, port: int) -> None:
        drafts = await scan("127.0.0.1", port, 0.5)
        assert [d["connection"]["unit"] for d in drafts] == [1, 2, 3]
        first = drafts[0]
        assert first["driver"] == "modbus" and first["type"] == "TODO"
        assert first["connection"]["port"] == port
        by_table: dict[str, list[int]] = {}
        for p in first["points"]:
            by_table.setdefault(p["table"], []).append(p["address"])
        assert by_table["input"] == list(range(27))
        assert by_table["holding"] == [0, *range(1000, 1100)]
        assert by_table["coil"] == [0, 1]
        assert by_table["discrete"] == [0, 1]
        # The draft is a valid configuration for this driver.
        assert create(spec(port, first["points"], unit=1)).blocks

    run(body, units=3)


def test_scan_of_a_closed_port_is_a_transport_error() -> None:
    with pytest.raises(TransportError):
        asyncio.run(asyncio.wait_for(scan("127.0.0.1", free_port(), 0.5), 10))


@pytest.mark.parametrize(
    ("connection", "points", "path"),
    [
        ({"port": 502}, [], "connection.host"),
        ({"host": "h", "port": 0}, [], "connection.port"),
        ({"host": "h", "unit": 248}, [], "connection.unit"),
        ({"host": "h", "timeout_s": 0}, [], "connection.timeout_s"),
        ({"host": "h", "max_gap": 500}, [], "connection.max_gap"),
        ({"host": "h", "baud": 9600}, [], "connection.baud"),
        ({"host": "h"}, [{"point": "a", "table": "holding", "address": 70000}], "points[0].address"),
        (
            {"host": "h"},
            [
                {"point": "a", "table": "input", "address": 0},
                {"point": "b", "table": "coil", "address": 0, "type": "int16"},
            ],
            "points[1].type",
        ),
        (
            {"host": "h"},
            [{"point": "a", "table": "input", "address": 0}, {"point": "a", "table": "input", "address": 1}],
            "points[1].point",
        ),
    ],
)
def test_create_rejects_bad_specs_with_a_path(
    connection: dict[str, Any], points: list[dict[str, Any]], path: str
) -> None:
    bindings = [Binding(p["point"], {k: v for k, v in p.items() if k != "point"}) for p in points]
    with pytest.raises(BindingError) as info:
        create(DeviceSpec("d", connection, bindings))
    assert info.value.path == path


@pytest.mark.parametrize(
    ("command", "path"),
    [
        ({"write": "flow", "value": 1.0}, "commands.c.write"),
        ({"write": "nope", "value": 1}, "commands.c.write"),
        ({"write": "speed_setpoint", "value": -1}, "commands.c.value"),
        ({"write": "speed_setpoint"}, "commands.c"),
    ],
)
def test_create_rejects_bad_commands(command: dict[str, Any], path: str) -> None:
    d = spec(502, PUMP_POINTS)
    with pytest.raises(BindingError) as info:
        create(DeviceSpec(d.name, d.connection, d.bindings, {"c": command}))
    assert info.value.path == path
