"""automodel: a browsed address space becomes a valid device type plus gateway bindings."""

from __future__ import annotations

import asyncio
import json

from asyncua import Client
from tests.helpers import free_port

from indunet.edge.automodel import Argument, BrowsedNode, identifier, propose, snake_case
from indunet.edge.drivers.opcua_discovery import browse
from indunet.platform.models import Access, DataType, from_aas_json, to_aas_json
from indunet.sim.opcua_cnc import CncOpcUaServer, point_node_id


def var(name: str, data_type: str, **kw: object) -> BrowsedNode:
    return BrowsedNode(name, f"ns=2;s={name}", "Variable", data_type=data_type, **kw)  # type: ignore[arg-type]


def test_names_are_snake_case_unique_and_bounded() -> None:
    assert snake_case("ActualSpeed") == "actual_speed"
    assert snake_case("CNC-1") == "cnc_1"
    assert snake_case("HTTPServer") == "http_server"
    taken: set[str] = set()
    assert identifier(["Monitoring", "Spindle", "ActualSpeed"], taken) == "spindle_actual_speed"
    assert identifier(["Monitoring", "Spindle", "ActualSpeed"], taken) == "spindle_actual_speed_2"
    long = identifier(["X" * 50, "Y" * 50], taken)
    assert len(long) <= 64 and long[0].isalpha()
    assert identifier(["123"], taken) == "node_123"
    assert identifier(["%%%"], taken) == "node"


def test_propose_maps_types_units_ranges_access_and_methods() -> None:
    root = BrowsedNode(
        "Pump-7",
        "ns=2;s=Pump",
        "Object",
        children=(
            var("Speed", "Double", unit="rpm", range=(0.0, 3000.0), writable=True),
            var("Running", "Boolean"),
            var("Count", "UInt32", unit="pcs", range=(5.0, 1.0)),
            var("Label", "LocalizedText", unit="ignored"),
            var("Serial", "String", is_property=True),
            var("Blob", "ByteString"),
            var("Table", "Double", array=True),
            BrowsedNode(
                "SetSpeed",
                "ns=2;s=SetSpeed",
                "Method",
                arguments=(Argument("TargetSpeed", "Double"), Argument("Ramp", "Int32")),
            ),
            BrowsedNode("Weird", "ns=2;s=Weird", "Method", arguments=(Argument("X", "ExtensionObject"),)),
        ),
    )
    proposal = propose(root)
    dt = proposal.device_type
    assert dt.name == "pump_7"
    speed = dt.point("speed")
    assert speed is not None and speed.data_type is DataType.FLOAT and speed.unit == "rpm"
    assert (speed.min, speed.max, speed.access) == (0.0, 3000.0, Access.READ_WRITE)
    count = dt.point("count")
    # An inverted EURange is no range at all.
    assert count is not None and count.data_type is DataType.INT and count.min is None
    label = dt.point("label")
    assert label is not None and label.data_type is DataType.STRING and label.unit is None
    assert [a.name for a in dt.attributes] == ["serial"]
    assert dt.point("blob") is None and dt.point("table") is None
    assert len(proposal.skipped) == 3
    (command,) = dt.commands
    assert command.name == "set_speed" and [p.name for p in command.params] == ["target_speed", "ramp"]
    assert proposal.commands["set_speed"] == {
        "object": "ns=2;s=Pump",
        "method": "ns=2;s=SetSpeed",
        "args": ["target_speed", "ramp"],
    }
    assert {"point": "speed", "node": "ns=2;s=Speed", "type": "float"} in proposal.points
    assert from_aas_json(to_aas_json(dt)) == dt


def test_browse_the_cnc_simulator_and_propose_a_type() -> None:
    async def run() -> BrowsedNode:
        server = CncOpcUaServer("127.0.0.1", free_port())
        await server.start()
        try:
            client = Client(server.endpoint, timeout=2)
            await client.connect()
            try:
                return await browse(client)
            finally:
                await client.disconnect()
        finally:
            await server.stop()

    objects = asyncio.run(run())
    machines = next(c for c in objects.children if c.browse_name == "Machines")
    proposal = propose(machines.children[0])
    dt = proposal.device_type
    names = {p.name for p in dt.points}
    assert {"spindle_actual_speed", "spindle_override", "channel_feed_override"} <= names
    speed = dt.point("spindle_actual_speed")
    assert speed is not None and speed.unit == "rpm" and speed.max == 24000.0
    override = dt.point("spindle_override")
    assert override is not None and override.access is Access.READ_WRITE
    assert {"manufacturer", "serial_number", "year_of_construction"} <= {a.name for a in dt.attributes}
    assert {"start", "stop", "set_spindle_override"} <= {c.name for c in dt.commands}
    nodes = {p["point"]: p["node"] for p in proposal.points}
    assert nodes["spindle_actual_speed"] == point_node_id("CNC-1", "spindle_speed")
    aas = to_aas_json(dt)
    assert json.loads(aas) and from_aas_json(aas) == dt
