"""Gateway configuration entries for the simulators, as a commissioning engineer would write them."""

from __future__ import annotations

from typing import Any


def pump(name: str, port: int, unit: int = 1, poll_ms: int = 200, timeout_s: float = 1.0) -> dict[str, Any]:
    """A pump of ``indunet sim modbus`` (register map in ``indunet.sim.modbus_plc``)."""
    return {
        "name": name,
        "type": "centrifugal_pump",
        "driver": "modbus",
        "connection": {"host": "127.0.0.1", "port": port, "unit": unit, "timeout_s": timeout_s},
        "poll_ms": poll_ms,
        "points": [
            {"point": "flow", "table": "input", "address": 0, "type": "float32"},
            {"point": "discharge_pressure", "table": "input", "address": 2, "type": "float32"},
            {"point": "motor_current", "table": "input", "address": 6, "type": "float32"},
            {"point": "speed", "table": "input", "address": 8, "type": "float32"},
            {"point": "vibration", "table": "input", "address": 12, "type": "float32"},
            {"point": "fault_code", "table": "input", "address": 14, "type": "uint16"},
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


def gateway(
    name: str, token: str, mqtt_port: int, queue: str, devices: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "uplink": {"mqtt": f"mqtt://127.0.0.1:{mqtt_port}", "token": token, **extra.pop("uplink", {})},
        "queue": {"path": queue},
        "health_interval_s": 1,
        **extra,
        "devices": devices,
    }
