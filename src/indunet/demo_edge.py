"""The demo's shop floor: a Modbus pump station, an OPC UA machine tool and an S7 utilities PLC, all
real protocol servers on loopback, behind one edge gateway that forwards to the demo platform.

The gateway is configured exactly as a plant engineer would write its file (``gateway_document``;
``indunet gateway --config`` takes the same document as YAML) and reaches the platform over the
device MQTT endpoint with its own device token, like any third-party gateway.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

from indunet.core.loop_thread import LoopThread
from indunet.platform.models import builtin_types
from indunet.sim import modbus_plc, opcua_cnc, s7_plc

GATEWAY = "edge-gw-01"
PUMPS = ("pump-01", "pump-02")
CNC = "cnc-03"
PLC = "flow-03"
START_TIMEOUT_S = 30.0


def pump_entry(name: str, port: int, unit: int = 1, poll_ms: int = 1000) -> dict[str, Any]:
    """A pump of the Modbus pump station (register map in ``indunet.sim.modbus_plc``)."""
    return {
        "name": name,
        "type": "centrifugal_pump",
        "driver": "modbus",
        "connection": {"host": "127.0.0.1", "port": port, "unit": unit, "timeout_s": 1.0},
        "poll_ms": poll_ms,
        "points": [
            {"point": "flow", "table": "input", "address": 0, "type": "float32"},
            {"point": "discharge_pressure", "table": "input", "address": 2, "type": "float32"},
            {"point": "suction_pressure", "table": "input", "address": 4, "type": "float32"},
            {"point": "motor_current", "table": "input", "address": 6, "type": "float32"},
            {"point": "speed", "table": "input", "address": 8, "type": "float32"},
            {"point": "bearing_temperature", "table": "input", "address": 10, "type": "float32"},
            {"point": "vibration", "table": "input", "address": 12, "type": "float32"},
            {"point": "fault_code", "table": "input", "address": 14, "type": "uint16"},
            {"point": "operating_hours", "table": "input", "address": 15, "type": "float32"},
            {"point": "energy", "table": "input", "address": 17, "type": "uint32", "word_order": "little"},
            {"point": "tag", "table": "input", "address": 19, "type": "string", "length": 8},
            {"point": "speed_setpoint", "table": "holding", "address": 0, "type": "uint16"},
            {"point": "running", "table": "coil", "address": 0},
        ],
        "commands": {
            "start": {"write": "running", "value": True},
            "stop": {"write": "running", "value": False},
            "set_speed": {"write": "speed_setpoint", "param": "rpm"},
        },
    }


def cnc_entry(name: str, endpoint: str, machine: str = "CNC-1") -> dict[str, Any]:
    """A machine of the OPC UA simulator (address space after OPC 40501-1), by subscription."""
    declared = {c.name for c in {t.name: t for t in builtin_types()}["cnc_machine_tool"].commands}
    return {
        "name": name,
        "type": "cnc_machine_tool",
        "driver": "opcua",
        "connection": {"endpoint": endpoint, "mode": "subscribe", "publishing_interval_ms": 500},
        "points": opcua_cnc.gateway_points(machine),
        "commands": {k: v for k, v in opcua_cnc.gateway_commands(machine).items() if k in declared},
    }


def plc_entry(name: str, port: int, poll_ms: int = 1000) -> dict[str, Any]:
    """The cooling-water line of the S7 utilities PLC (memory layout in ``indunet.sim.s7_plc``)."""
    reals = ("volume_flow", "temperature", "mass_flow", "density", "flow_velocity", "conductivity")
    points: list[dict[str, Any]] = [
        {"point": point, "address": f"DB1.DBD{offset}", "type": "real"}
        for point, offset in zip(reals, (0, 8, 12, 16, 20, 24), strict=True)
    ]
    points += [
        {"point": "pressure", "address": "DB1.DBD4", "type": "real"},
        {"point": "electronics_temperature", "address": "DB1.DBD28", "type": "real"},
        {"point": "totalizer_volume", "address": "DB1.DBB32", "type": "lreal"},
        {"point": "totalizer_mass", "address": "DB1.DBB40", "type": "lreal"},
        {"point": "operating_hours", "address": "DB1.DBB48", "type": "lreal"},
        {"point": "device_health", "address": "DB1.DBW56", "type": "int"},
        {"point": "empty_pipe", "address": "DB1.DBX60.0", "type": "bool"},
        {"point": "diagnostic_message", "address": "DB1.DBB104", "type": "string", "length": 64},
    ]
    return {
        "name": name,
        "type": "flow_pressure_instrument",
        "driver": "s7",
        "connection": {"host": "127.0.0.1", "port": port, "rack": 0, "slot": 1, "timeout_s": 1.0},
        "poll_ms": poll_ms,
        "points": points,
    }


def gateway_document(
    token: str, mqtt_port: int, queue: Path, modbus_port: int, opcua_endpoint: str, s7_port: int
) -> dict[str, Any]:
    return {
        "name": GATEWAY,
        "uplink": {"mqtt": f"mqtt://127.0.0.1:{mqtt_port}", "token": token},
        "queue": {"path": str(queue)},
        "health_interval_s": 10,
        "devices": [
            *(pump_entry(name, modbus_port, unit) for unit, name in enumerate(PUMPS, start=1)),
            cnc_entry(CNC, opcua_endpoint),
            plc_entry(PLC, s7_port),
        ],
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ShopFloor(LoopThread):
    """Simulators and the gateway on one event loop in a background thread."""

    name = "shop-floor"
    start_timeout_s = START_TIMEOUT_S

    def __init__(self, token: str, mqtt_port: int, data_dir: Path) -> None:
        super().__init__()
        self.token = token
        self.mqtt_port = mqtt_port
        self.data_dir = data_dir

    async def main(self, stop: asyncio.Event) -> None:
        from indunet.edge import config as gateway_config
        from indunet.edge.gateway import Gateway

        modbus_port, opcua_port, s7_port = _free_port(), _free_port(), _free_port()
        readies = [asyncio.Event() for _ in range(3)]
        simulators = [
            asyncio.create_task(
                modbus_plc.serve("127.0.0.1", modbus_port, units=len(PUMPS), ready=readies[0], stop=stop)
            ),
            asyncio.create_task(
                opcua_cnc.serve("127.0.0.1", opcua_port, seed=3, ready=readies[1], stop=stop)
            ),
            asyncio.create_task(s7_plc.serve("127.0.0.1", s7_port, seed=4, ready=readies[2], stop=stop)),
        ]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), START_TIMEOUT_S)
        document = gateway_document(
            self.token,
            self.mqtt_port,
            self.data_dir / "gateway" / "queue.db",
            modbus_port,
            f"opc.tcp://127.0.0.1:{opcua_port}",
            s7_port,
        )
        gateway = Gateway(gateway_config.parse(document))
        self.ready()
        try:
            await gateway.run(stop)
        finally:
            stop.set()
            await asyncio.gather(*simulators, return_exceptions=True)
