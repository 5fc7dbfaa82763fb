"""The S7 driver against the S7 PLC simulator over real sockets."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest

from indunet.edge.driver import Binding, BindingError, DeviceError, DeviceSpec, PollResult, TransportError
from indunet.edge.drivers import s7
from indunet.platform.models import DataType
from indunet.sim.s7_plc import PlcServer, UtilitiesPlc

T0 = 1_750_000_000_000_000

POINTS: list[dict[str, Any]] = [
    {"point": "volume_flow", "address": "DB1.DBD0", "type": "real"},
    {"point": "pressure", "address": "DB1.DBD4"},
    {"point": "totalizer_volume", "address": "DB1.DBB32", "type": "lreal"},
    {"point": "device_health", "address": "DB1.DBW56", "type": "int"},
    {"point": "diagnostic_count", "address": "DB1.DBW58", "type": "word"},
    {"point": "empty_pipe", "address": "DB1.DBX60.0"},
    {"point": "pump_running", "address": "DB1.DBX60.1", "type": "bool"},
    {"point": "flags", "address": "DB1.DBB60", "type": "byte"},
    {"point": "tag", "address": "DB1.DBB70", "type": "string", "length": 32},
    {"point": "damping", "address": "DB2.DBD0", "type": "real"},
    {"point": "limit_raw", "address": "DB2.DBD4", "type": "dword"},
    {"point": "limit_dint", "address": "DB2.DBD4", "type": "dint"},
    {"point": "pump_enable", "address": "DB2.DBX8.1"},
    {"point": "heartbeat", "address": "M0.0"},
    {"point": "cycles", "address": "MW2", "type": "int"},
]


def spec(port: int, points: list[dict[str, Any]] = POINTS, **connection: Any) -> DeviceSpec:
    bindings = [Binding(p["point"], {k: v for k, v in p.items() if k != "point"}) for p in points]
    return DeviceSpec("plc-1", {"host": "127.0.0.1", "port": port, "timeout_s": 1.0, **connection}, bindings)


@pytest.fixture
def plc() -> Iterator[tuple[UtilitiesPlc, PlcServer]]:
    process = UtilitiesPlc(seed=7)
    process.step(T0)
    with PlcServer(process) as server:
        yield process, server


def _read(driver: s7.S7Driver) -> PollResult:
    async def main() -> PollResult:
        await driver.connect()
        try:
            return await driver.read()
        finally:
            await driver.close()

    return asyncio.run(main())


def test_reads_every_type(plc: tuple[UtilitiesPlc, PlcServer]) -> None:
    process, server = plc
    driver = s7.create(spec(server.port))
    assert driver.raw_types["tag"] == DataType.STRING
    assert driver.raw_types["totalizer_volume"] == DataType.FLOAT
    assert driver.raw_types["cycles"] == DataType.INT
    assert driver.raw_types["pump_running"] == DataType.BOOL
    result = _read(driver)
    assert result.errors == []
    values = {r.point: r.value for r in result.readings}
    assert values["volume_flow"] == pytest.approx(process.values["volume_flow"], rel=1e-6)
    assert values["totalizer_volume"] == process.values["totalizer_volume"]
    assert values["device_health"] == 0
    assert values["pump_running"] is True and values["empty_pipe"] is False
    flags = values["flags"]
    assert isinstance(flags, int) and flags & 0b10
    assert values["tag"] == "FIT-101"
    assert values["damping"] == 1.0
    assert values["limit_raw"] == struct.unpack(">I", struct.pack(">f", 300.0))[0]
    assert values["limit_dint"] == values["limit_raw"]
    assert values["heartbeat"] is True and values["cycles"] == 1
    assert set(values) == {p["point"] for p in POINTS}


def test_coalescing_reduces_requests(plc: tuple[UtilitiesPlc, PlcServer]) -> None:
    _, server = plc

    def requests_per_poll(points: list[dict[str, Any]]) -> int:
        driver = s7.create(spec(server.port, points=points))

        async def main() -> int:
            await driver.connect()
            try:
                before = server.requests
                assert not (await driver.read()).errors
                return server.requests - before
            finally:
                await driver.close()

        return asyncio.run(main())

    one_by_one = sum(requests_per_poll([point]) for point in POINTS)
    assert one_by_one == len(POINTS)
    assert requests_per_poll(POINTS) == 1  # DB1, DB2 and M in one multi-item request


def test_missing_db_fails_only_its_block(plc: tuple[UtilitiesPlc, PlcServer]) -> None:
    _, server = plc
    points = [
        *POINTS,
        {"point": "ghost", "address": "DB9.DBD0"},
        {"point": "past_end", "address": "DB2.DBD200"},
    ]
    driver = s7.create(spec(server.port, points=points))

    async def main() -> tuple[PollResult, PollResult]:
        await driver.connect()
        try:
            return await driver.read(), await driver.read()
        finally:
            await driver.close()

    for result in asyncio.run(main()):
        assert len(result.errors) == 2
        assert any("DB9" in str(e) for e in result.errors)
        assert all(isinstance(e, DeviceError) for e in result.errors)
        read = {r.point for r in result.readings}
        assert read == {p["point"] for p in POINTS}


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_host_is_a_transport_error() -> None:
    driver = s7.create(spec(_unused_port()))

    async def main() -> None:
        try:
            await driver.connect()
        finally:
            await driver.close()

    with pytest.raises(TransportError):
        asyncio.run(main())

    async def read_unconnected() -> None:
        await driver.read()

    with pytest.raises(TransportError):
        asyncio.run(read_unconnected())


def test_comm_drop_then_recovery(plc: tuple[UtilitiesPlc, PlcServer]) -> None:
    process, server = plc
    driver = s7.create(spec(server.port, timeout_s=0.3))

    async def main() -> PollResult:
        await driver.connect()
        assert not (await driver.read()).errors
        process.inject("comm_drop", 1.5)
        with pytest.raises(TransportError):
            await driver.read()
        await driver.close()
        deadline = time.monotonic() + 20
        while True:  # the gateway's reconnect loop, without its back-off
            try:
                await driver.connect()
                return await driver.read()
            except TransportError:
                await driver.close()
                assert time.monotonic() < deadline, "never recovered"
                await asyncio.sleep(0.2)

    result = asyncio.run(main())
    asyncio.run(driver.close())
    assert not result.errors and len(result.readings) == len(POINTS)


def test_writes_reach_the_plc(plc: tuple[UtilitiesPlc, PlcServer]) -> None:
    process, server = plc
    driver = s7.create(spec(server.port))

    async def main() -> PollResult:
        await driver.connect()
        try:
            await driver.write("damping", 7.25)
            await driver.write("pump_enable", False)
            await driver.write("cycles", 1234.0)
            await driver.write("tag", "FIT-999")
            with pytest.raises(DeviceError):
                await driver.write("cycles", 70_000)
            with pytest.raises(DeviceError):
                await driver.write("nope", 1)
            return await driver.read()
        finally:
            await driver.close()

    result = asyncio.run(main())
    assert process.damping == 7.25
    assert process.pump_enable is False
    assert process.db2[8] == 0  # the neighbouring command bit untouched
    values = {r.point: r.value for r in result.readings}
    assert values["cycles"] == 1234 and values["tag"] == "FIT-999"
    process.step(T0 + 1_000_000)
    assert process.flow.tau == pytest.approx(7.25)


def test_scan_finds_the_data_blocks(plc: tuple[UtilitiesPlc, PlcServer]) -> None:
    _, server = plc
    (entry,) = asyncio.run(s7.scan("127.0.0.1", server.port, 1.0))
    assert entry["driver"] == "s7"
    assert entry["connection"]["port"] == server.port
    assert {"db": 1, "size": 170} in entry["info"]["data_blocks"]
    assert {"db": 2, "size": 10} in entry["info"]["data_blocks"]
    assert entry["info"]["order_code"]
    assert {p["address"] for p in entry["points"]} >= {"DB1.DBD0", "DB2.DBD0", "M0.0"}
    # The draft is a valid configuration for the driver.
    s7.create(spec(server.port, points=entry["points"]))


def test_scan_of_nothing_is_a_transport_error() -> None:
    with pytest.raises(TransportError):
        asyncio.run(s7.scan("127.0.0.1", _unused_port(), 0.5))


@pytest.mark.parametrize(
    ("connection", "points", "path"),
    [
        ({"port": 0}, POINTS, "connection.port"),
        ({"rack": 9}, POINTS, "connection.rack"),
        ({"timeout_s": 0}, POINTS, "connection.timeout_s"),
        ({"colour": 1}, POINTS, "connection.colour"),
        ({}, [*POINTS[:3], {"point": "x", "address": "DB1.DBW0", "type": "real"}], "points[3].address"),
        ({}, [{"point": "x", "address": "DB1.DBD0", "type": "float64"}], "points[0].type"),
        ({}, [{"point": "x", "address": "DB1.DBB0", "type": "string", "length": 999}], "points[0].length"),
        ({}, [{"point": "x", "address": "DB1.DBD0", "table": "holding"}], "points[0].table"),
        ({}, [POINTS[0], POINTS[0]], "points[1].point"),
    ],
)
def test_bad_configuration_names_the_entry(
    connection: dict[str, Any], points: list[dict[str, Any]], path: str
) -> None:
    with pytest.raises(BindingError) as caught:
        options = dict(connection)
        s7.create(spec(options.pop("port", 1), points=points, **options))
    assert caught.value.path == path
