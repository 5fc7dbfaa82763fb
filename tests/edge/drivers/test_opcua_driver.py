"""The OPC UA driver against the CNC simulator over real sockets (one server for the module)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import free_port

from indunet.edge.driver import Binding, BindingError, DeviceError, DeviceSpec, Reading, TransportError
from indunet.edge.drivers import opcua, opcua_discovery
from indunet.platform.models import DataType
from indunet.sim.opcua_cnc import (
    CncOpcUaServer,
    ServerThread,
    gateway_commands,
    gateway_points,
    point_browse_path,
    point_node_id,
)

USERS = {"operator": "s3cret-pass"}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    certs = tmp_path_factory.mktemp("server-pki")
    server = CncOpcUaServer(
        "127.0.0.1", free_port(), cert_dir=certs, users=USERS, allow_anonymous=True, period_s=0.1
    )
    with ServerThread(server) as thread:
        yield thread


def spec(endpoint: str, points: list[dict[str, Any]], **conn: Any) -> DeviceSpec:
    bindings = [Binding(p["point"], {k: v for k, v in p.items() if k != "point"}) for p in points]
    return DeviceSpec(
        "cnc-1", {"endpoint": endpoint, "timeout_s": 2, **conn}, bindings, commands=gateway_commands("CNC-1")
    )


def all_points(sim: ServerThread, **conn: Any) -> opcua.OpcUaDriver:
    return opcua.create(spec(sim.server.endpoint, gateway_points("CNC-1"), **conn))


def test_create_rejects_bad_configuration() -> None:
    good = {"point": "x", "node": "ns=2;s=A"}
    with pytest.raises(BindingError) as err:
        opcua.create(spec("http://nope", [good]))
    assert err.value.path == "connection.endpoint"
    with pytest.raises(BindingError) as err:
        opcua.create(spec("opc.tcp://h:4840", [good, {"point": "y", "node": "ns=2;q=broken"}]))
    assert err.value.path == "points[1].node"
    with pytest.raises(BindingError) as err:
        opcua.create(spec("opc.tcp://h:4840", [{"point": "y", "node": "ns=2;s=A", "type": "float64"}]))
    assert err.value.path == "points[0].type"
    with pytest.raises(BindingError) as err:
        opcua.create(spec("opc.tcp://h:4840", [good], security_policy="Basic256Sha256"))
    assert err.value.path == "connection.certificate"
    with pytest.raises(BindingError) as err:
        opcua.create(spec("opc.tcp://h:4840", [good], polling="yes"))
    assert err.value.path == "connection.polling"


def test_raw_types_come_from_the_type_key() -> None:
    driver = opcua.create(spec("opc.tcp://h:4840", gateway_points("CNC-1")))
    assert driver.raw_types["spindle_speed"] is DataType.FLOAT
    assert driver.raw_types["part_count"] is DataType.INT
    assert driver.raw_types["alarm_active"] is DataType.BOOL
    assert driver.raw_types["program_name"] is DataType.STRING
    assert driver.subscribes


def test_poll_reads_every_point_and_a_bad_node_only_fails_itself(sim: ServerThread) -> None:
    points = [
        *gateway_points("CNC-1"),
        {"point": "ghost", "node": "ns=2;s=CNC-1.Nothing.Here"},
        {"point": "by_path", "node": point_browse_path("CNC-1", "spindle_override")},
        {"point": "bad_path", "node": "/Objects/2:Machines/2:CNC-1/2:Nope"},
    ]

    async def run() -> Any:
        driver = opcua.create(spec(sim.server.endpoint, points, mode="poll"))
        await driver.connect()
        try:
            return await driver.read()
        finally:
            await driver.close()

    result = asyncio.run(run())
    values = {r.point: r.value for r in result.readings}
    assert set(values) == {p["point"] for p in gateway_points("CNC-1")} | {"by_path"}, result.errors
    assert values["program_name"] in ("O1001_BRACKET", "O2040_HOUSING")
    assert isinstance(values["part_count"], int) and isinstance(values["alarm_active"], bool)
    assert values["by_path"] == values["spindle_override"]
    assert sorted(str(e).split(":")[0] for e in result.errors) == ["bad_path", "ghost"]
    assert all(isinstance(e, DeviceError) for e in result.errors)


def test_subscription_delivers_changes_with_source_timestamps(sim: ServerThread) -> None:
    got: list[Reading] = []

    async def run() -> None:
        driver = all_points(sim, publishing_interval_ms=100)
        await driver.connect()
        task = asyncio.create_task(driver.subscribe(got.extend))
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                stamps = {r.ts_us for r in got if r.point == "spindle_temperature"}
                if len(stamps) >= 2:
                    break
                await asyncio.sleep(0.1)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await driver.close()

    asyncio.run(run())
    temps = [r for r in got if r.point == "spindle_temperature"]
    assert len({r.ts_us for r in temps}) >= 2, "no data change after the initial value"
    # Source timestamps are the simulator's tick times, not the gateway's clock at receipt.
    assert all(abs(r.ts_us / 1e6 - time.time()) < 120 for r in temps)
    assert {r.point for r in got} >= {"program_name", "part_count", "spindle_override"}


def test_write_override_and_read_back(sim: ServerThread) -> None:
    async def run() -> tuple[Any, Any]:
        driver = all_points(sim, mode="poll")
        await driver.connect()
        try:
            await driver.write("feed_override", 80)
            first = {r.point: r.value for r in (await driver.read()).readings}["feed_override"]
            with pytest.raises(DeviceError):
                await driver.write("feed_override", "fast")
            return first, None
        finally:
            await driver.close()

    value, _ = asyncio.run(run())
    assert value == 80.0
    deadline = time.monotonic() + 5
    while sim.server.processes[0].machine.feed_override != 80.0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sim.server.processes[0].machine.feed_override == 80.0


def test_method_calls_change_the_machine(sim: ServerThread) -> None:
    async def run() -> None:
        driver = all_points(sim, mode="poll")
        await driver.connect()
        try:
            await driver.call("set_spindle_override", {"percent": 110})
            await driver.call("start_program", {"program_name": "O2040_HOUSING"})
            with pytest.raises(DeviceError, match="BadInvalidArgument"):
                await driver.call("start_program", {"program_name": "NO_SUCH_PROGRAM"})
            with pytest.raises(DeviceError, match="no such method"):
                await driver.call("self_destruct", {})
        finally:
            await driver.close()

    asyncio.run(run())
    machine = sim.server.processes[0].machine
    assert machine.spindle_override == 110.0
    assert machine.program_name == "O2040_HOUSING"


def test_encrypted_session_with_user_and_wrong_password(sim: ServerThread, tmp_path: Path) -> None:
    cert, key = asyncio.run(opcua_discovery.generate_client_certificate(tmp_path))
    secure = {
        "security_policy": "Basic256Sha256",
        "security_mode": "SignAndEncrypt",
        "certificate": str(cert),
        "private_key": str(key),
        "mode": "poll",
    }

    async def run(password: str) -> Any:
        driver = all_points(sim, username="operator", password=password, **secure)
        await driver.connect()
        try:
            return await driver.read()
        finally:
            await driver.close()

    result = asyncio.run(run(USERS["operator"]))
    assert len(result.readings) == len(gateway_points("CNC-1")) and not result.errors
    with pytest.raises(TransportError, match="password refused"):
        asyncio.run(run("wrong"))


def test_unreachable_server_is_a_transport_error() -> None:
    async def run() -> None:
        driver = opcua.create(
            spec(f"opc.tcp://127.0.0.1:{free_port()}", gateway_points("CNC-1"), timeout_s=1)
        )
        await driver.connect()

    with pytest.raises(TransportError):
        asyncio.run(run())


def test_scan_lists_endpoints_and_proposes_points(sim: ServerThread) -> None:
    entries = asyncio.run(opcua.scan("127.0.0.1", sim.server.port, 3))
    assert len(entries) == 1
    entry = entries[0]
    policies = {(e["security_policy"], e["security_mode"]) for e in entry["endpoints"]}
    assert ("None", "None_") in policies or ("None", "None") in policies
    assert ("Basic256Sha256", "SignAndEncrypt") in policies
    nodes = {p["node"]: p for p in entry["points"]}
    assert nodes[point_node_id("CNC-1", "spindle_speed")]["type"] == "float"
    assert nodes[point_node_id("CNC-1", "part_count")]["type"] == "int"
    assert "start" in entry["commands"]
    assert entry["driver"] == "opcua"


def test_server_stopped_ends_subscribe_with_transport_error() -> None:
    async def run() -> BaseException | None:
        server = CncOpcUaServer("127.0.0.1", free_port(), period_s=0.1)
        await server.start()
        driver = opcua.create(spec(server.endpoint, gateway_points("CNC-1"), publishing_interval_ms=100))
        got: list[Reading] = []
        try:
            await driver.connect()
            task = asyncio.create_task(driver.subscribe(got.extend))
            while not got:
                await asyncio.sleep(0.05)
            await server.stop()
            # A hang guard, not a timing assertion: the driver must give up on its own.
            done, _ = await asyncio.wait({task}, timeout=20)
            assert done, "subscribe() did not notice the server going away"
            return task.exception()
        finally:
            await driver.close()
            await server.stop()

    assert isinstance(asyncio.run(run()), TransportError)
