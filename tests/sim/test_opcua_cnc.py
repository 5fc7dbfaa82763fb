"""The OPC UA CNC simulator: its process model, commands, faults and address space."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asyncua import Client, ua
from tests.helpers import free_port

from indunet.apps.phm import WRITTEN_POINTS
from indunet.platform.models import builtin_types
from indunet.sim.opcua_cnc import (
    VARIABLES,
    CncOpcUaServer,
    CncProcess,
    gateway_points,
    parse_fault,
    point_node_id,
)

S = 1_000_000


def run_for(process: CncProcess, seconds: int, start_s: int = 0) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for t in range(start_s, start_s + seconds):
        values = process.step(t * S)
    return values


def test_every_model_point_has_a_variable() -> None:
    model = next(t for t in builtin_types() if t.name == "cnc_machine_tool")
    mapped = {v.point for v in VARIABLES if v.point is not None}
    assert mapped == {p.name for p in model.points} - WRITTEN_POINTS
    for entry in gateway_points("CNC-1"):
        assert entry["type"] == model.point(entry["point"]).data_type.value  # type: ignore[union-attr]


def test_commands_change_the_process() -> None:
    process = CncProcess(seed=3)
    process.start_program("O1001_BRACKET")
    values = run_for(process, 60)
    assert values["program_name"] == "O1001_BRACKET" and values["program_state"] == "Running"
    process.stop_program()
    values = run_for(process, 30, 60)
    assert values["program_state"] == "Aborted" and values["spindle_speed"] == 0
    with pytest.raises(ValueError):
        process.start_program("nope")
    with pytest.raises(ValueError):
        process.set_spindle_override(200)
    process.reset_part_count(7)
    assert run_for(process, 1, 90)["part_count"] == 7


def test_faults_bearing_wear_drift_and_stuck() -> None:
    healthy, worn = CncProcess(seed=5), CncProcess(seed=5)
    worn.inject("bearing_wear", "5")
    worn.inject("sensor_drift", "1")
    worn.inject("stuck", "axis_x_position")
    a = run_for(healthy, 600)
    b = run_for(worn, 600)
    assert b["spindle_temperature"] > a["spindle_temperature"] + 20
    assert b["coolant_temperature"] > a["coolant_temperature"] + 5
    frozen = {worn.step(t * S)["axis_x_position"] for t in range(600, 700)}
    assert len(frozen) == 1
    with pytest.raises(ValueError):
        parse_fault("meltdown")
    with pytest.raises(ValueError):
        worn.inject("stuck", "no_such_point")


def test_comm_drop_silences_the_server_then_it_answers_again() -> None:
    async def run() -> tuple[bool, Any]:
        server = CncOpcUaServer("127.0.0.1", free_port(), period_s=0.1)
        await server.start()
        try:
            client = Client(server.endpoint, timeout=1)
            await client.connect()
            server.inject("comm_drop=2")
            await asyncio.sleep(0.1)
            failed = False
            try:
                await client.get_node(point_node_id("CNC-1", "spindle_speed")).read_value()
            except Exception:
                failed = True
            with_timeout = Client(server.endpoint, timeout=1)
            refused = False
            try:
                await asyncio.wait_for(with_timeout.connect(), 3)
            except Exception:
                refused = True
            await asyncio.sleep(2.5)
            again = Client(server.endpoint, timeout=2)
            await again.connect()
            value = await again.get_node(point_node_id("CNC-1", "program_name")).read_value()
            await again.disconnect()
            return failed and refused, value
        finally:
            await server.stop()

    silenced, value = asyncio.run(run())
    assert silenced
    assert value in ("O1001_BRACKET", "O2040_HOUSING")


def test_address_space_follows_machine_tools_names() -> None:
    async def run() -> dict[str, Any]:
        server = CncOpcUaServer("127.0.0.1", free_port(), machines=2)
        await server.start()
        try:
            client = Client(server.endpoint, timeout=2)
            await client.connect()
            try:
                ns = await client.get_namespace_index("urn:indunet:sim:opcua-cnc")
                root = await client.nodes.objects.get_child([f"{ns}:Machines", f"{ns}:CNC-2"])
                ident = await root.get_child([f"{ns}:Identification", f"{ns}:SerialNumber"])
                speed = await root.get_child([f"{ns}:Monitoring", f"{ns}:Spindle", f"{ns}:ActualSpeed"])
                units = await speed.get_child(["0:EngineeringUnits"])
                rng = await speed.get_child(["0:EURange"])
                return {
                    "serial": await ident.read_value(),
                    "unit": (await units.read_value()).DisplayName.Text,
                    "range": (await rng.read_value()).High,
                    "typedef": (await speed.read_type_definition()),
                }
            finally:
                await client.disconnect()
        finally:
            await server.stop()

    info = asyncio.run(run())
    assert info["serial"].startswith("VMC850-")
    assert info["unit"] == "rpm" and info["range"] == 24000.0
    assert info["typedef"] == ua.NodeId(17570, 0)  # AnalogUnitRangeType
