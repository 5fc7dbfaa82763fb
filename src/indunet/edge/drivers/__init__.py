"""Field protocol drivers, one module each; imported on first use so a gateway loads only what it runs.

Each module exposes ``create(spec: DeviceSpec) -> Driver`` (see ``indunet.edge.driver``) and, when the
protocol can be probed, ``async scan(host, port, timeout_s) -> list[dict]`` returning draft device
entries for the gateway configuration.
"""

from __future__ import annotations

import importlib
from typing import Any

from indunet.edge.driver import DriverFactory

MODULES = {
    "modbus": "indunet.edge.drivers.modbus",
    "opcua": "indunet.edge.drivers.opcua",
    "s7": "indunet.edge.drivers.s7",
    "mqtt": "indunet.edge.drivers.mqtt_json",
}


def module(name: str) -> Any:
    if name not in MODULES:
        raise KeyError(name)
    return importlib.import_module(MODULES[name])


def factory(name: str) -> DriverFactory:
    """The ``create`` function of driver ``name``; KeyError for an unknown driver."""
    create: DriverFactory = module(name).create
    return create
