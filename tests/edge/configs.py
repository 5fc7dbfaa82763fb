"""Gateway configuration entries for the simulators, as a commissioning engineer would write them."""

from __future__ import annotations

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
