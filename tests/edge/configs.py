"""Gateway configuration entries for the simulators, as a commissioning engineer would write them."""

from __future__ import annotations

import json
from typing import Any

from indunet.demo_edge import pump_entry


def pump(name: str, port: int, unit: int = 1, poll_ms: int = 200, timeout_s: float = 1.0) -> dict[str, Any]:
    """A pump of ``indunet sim modbus``, bound as the demo binds it (``indunet.demo_edge``)."""
    entry = pump_entry(name, port, unit, poll_ms)
    entry["connection"]["timeout_s"] = timeout_s
    return entry


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


def commented_gateway(token: str, password: str, broker_password: str) -> str:
    """A gateway file as people write it, with three credentials: comments, quoted and plain scalars,
    flow and block mappings. Nothing connects; it is for loading and for sealing in place."""
    from indunet.sim import opcua_cnc

    pump_points = json.dumps(pump("pump-1", 502)["points"])
    cnc_points = json.dumps(opcua_cnc.gateway_points("CNC-1"))
    return f"""\
# Line 1 gateway, commissioned by the plant's automation team.
name: gw-line1
uplink:
  mqtt: mqtt://127.0.0.1:1883
  token: "{token}"   # the gateway device's access token
queue: {{path: q.db}}
devices:
  - name: pump-1            # Modbus: no credentials
    type: centrifugal_pump
    driver: modbus
    connection: {{host: 127.0.0.1, port: 502, unit: 1}}
    points: {pump_points}
  - name: cnc-1
    type: cnc_machine_tool
    driver: opcua
    connection:
      endpoint: opc.tcp://127.0.0.1:4840
      username: operator
      # changed after the audit; ask the line supervisor
      password: {password}
    points: {cnc_points}
  - name: flow-7
    type: flow_pressure_instrument
    driver: mqtt
    connection: {{host: 127.0.0.1, port: 1883, topic: line1/flow, username: gw, password: '{broker_password}'}}
    points:
      - {{point: volume_flow, path: q}}
"""
