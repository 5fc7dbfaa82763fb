"""The unmodified ThingsBoard IoT Gateway, Modbus connector included, against indunet's MQTT server.

A pymodbus TCP server stands in for the field: its registers hold a meter's readings. The gateway runs
as a process of its own (its threads and logging stay out of pytest) from a configuration written for
the test, with the access token of an ordinary indunet device; everything is checked the way a user
would, through the REST API, and on the simulator's registers.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sysconfig
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import ModbusTcpServer
from tests.helpers import Tenant

from indunet.transport.mqtt import MqttThread

DEADLINE_S = 60.0
HOLDING, INPUT = 3, 4  # pymodbus datastore function codes for the two register tables
# Input registers 0 and 1: temperature and pressure in tenths; holding registers: 1 serial number,
# 5 and 6 the two meters' setpoints (written by the gateway), 10 a counter read by RPC, 12 and 13 a
# pressure limit and a valve output written by RPC.
TEMPERATURE_TENTHS, PRESSURE_TENTHS, SERIAL, COUNTER = 215, 1234, 4242, 777
LIMIT_REGISTER, OUTPUT_REGISTER = 12, 13

METER_TYPE = {
    "name": "tb_modbus_meter",
    "version": "1.0.0",
    "title": "Modbus meter behind a ThingsBoard IoT Gateway",
    "description": "A meter read over Modbus TCP by the ThingsBoard IoT Gateway's Modbus connector.",
    "category": "meter",
    "reference": "indunet test model",
    "points": [
        {
            "name": "temperature",
            "description": "Process temperature.",
            "data_type": "float",
            "min": -40,
            "max": 150,
        },
        {"name": "pressure", "description": "Line pressure.", "data_type": "float", "min": 0, "max": 1000},
        {
            "name": "valve_output",
            "description": "Valve output in percent, set by RPC.",
            "data_type": "int",
            "min": 0,
            "max": 100,
            "access": "read_write",
        },
    ],
    "commands": [
        {"name": "read_counter", "description": "Read the pulse counter register."},
        {
            "name": "set_pressure_limit",
            "description": "Write the pressure limit register.",
            "params": [{"name": "limit", "data_type": "int", "min": 0, "max": 1000}],
        },
    ],
}


class ModbusSimulator:
    """A Modbus TCP server on its own event loop, with register tables the test can read and set."""

    def __init__(self) -> None:
        self.store = ModbusSlaveContext(
            hr=ModbusSequentialDataBlock(0, [0] * 32), ir=ModbusSequentialDataBlock(0, [0] * 32)
        )
        self.store.setValues(INPUT, 0, [TEMPERATURE_TENTHS, PRESSURE_TENTHS])
        self.store.setValues(HOLDING, 1, [SERIAL])
        self.store.setValues(HOLDING, 10, [COUNTER])
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="modbus-sim", daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result()
        self.port: int = self._server.transport.sockets[0].getsockname()[1]

    async def _serve(self) -> ModbusTcpServer:
        # pymodbus binds its server to the running loop: it must be made on that loop.
        server = ModbusTcpServer(
            ModbusServerContext(slaves=self.store, single=True), address=("127.0.0.1", 0)
        )
        await server.serve_forever(background=True)
        return server

    def holding(self, address: int) -> int:
        return int(self.store.getValues(HOLDING, address, 1)[0])

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture
def modbus() -> Iterator[ModbusSimulator]:
    simulator = ModbusSimulator()
    yield simulator
    simulator.close()


def _slave(port: int, name: str, setpoint_address: int) -> dict[str, Any]:
    register = {"type": "16int", "objectsCount": 1}
    return {
        "host": "127.0.0.1",
        "port": port,
        "type": "tcp",
        "method": "socket",
        "unitId": 1,
        "deviceName": name,
        "deviceType": METER_TYPE["name"],
        "timeout": 5,
        "byteOrder": "BIG",
        "wordOrder": "BIG",
        "pollPeriod": 500,
        "timeseries": [
            {"tag": "temperature", "functionCode": 4, "address": 0, "divider": 10, **register},
            {"tag": "pressure", "functionCode": 4, "address": 1, "divider": 10, **register},
        ],
        "attributes": [{"tag": "serial", "functionCode": 3, "address": 1, **register}],
        "attributeUpdates": [{"tag": "setpoint", "functionCode": 6, "address": setpoint_address, **register}],
        # The connector matches an RPC's method to a tag and writes the RPC's params, a bare value.
        "rpc": [
            {"tag": "read_counter", "functionCode": 3, "address": 10, **register},
            {"tag": "set_pressure_limit", "functionCode": 6, "address": LIMIT_REGISTER, **register},
            {"tag": "valve_output", "functionCode": 6, "address": OUTPUT_REGISTER, **register},
        ],
    }


def _write_config(folder: Path, mqtt_port: int, token: str, slaves: list[dict[str, Any]]) -> None:
    folder.mkdir()
    gateway = {
        "thingsboard": {
            "host": "127.0.0.1",
            "port": mqtt_port,
            "security": {"type": "accessToken", "accessToken": token},
            "qos": 1,
            # Left on as shipped, so the test sees the gateway's own traffic (configuration
            # attributes, statistics telemetry) answered without harm.
            "remoteConfiguration": True,
            "statistics": {
                "enable": True,
                "statsSendPeriodInSeconds": 5,
                "customStatsSendPeriodInSeconds": 3600,
            },
        },
        "storage": {"type": "memory", "read_records_count": 100, "max_records_count": 100000},
        "connectors": [{"type": "modbus", "name": "Modbus", "configuration": "modbus.json"}],
    }
    logs = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stdout"}
        },
        "root": {"level": "INFO", "handlers": ["console"]},
        # The connector's pymodbus warns of its own deprecations on every poll.
        "loggers": {"pymodbus": {"level": "ERROR"}},
    }
    (folder / "tb_gateway.json").write_text(json.dumps(gateway))
    (folder / "modbus.json").write_text(json.dumps({"master": {"slaves": slaves}}))
    (folder / "logs.json").write_text(json.dumps(logs))


class GatewayProcess:
    """``thingsboard-gateway`` (its installed entry point) run on a configuration folder."""

    def __init__(self, workdir: Path, config: Path) -> None:
        self.log_path = workdir / "gateway.log"
        env = dict(
            os.environ,
            TB_GW_CONFIG_DIR=str(config),
            # The gateway asks a public host for updates at start; a proxy on a closed loopback port
            # keeps that request on this machine, where it fails at once.
            HTTPS_PROXY="http://127.0.0.1:9",
            HTTP_PROXY="http://127.0.0.1:9",
        )
        command = Path(sysconfig.get_path("scripts")) / "thingsboard-gateway"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(command)],
                cwd=workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


def _eventually(gateway: GatewayProcess, what: str, check: Callable[[], Any]) -> Any:
    """``check()``'s first truthy result; fails naming ``what`` (with the gateway's log) at the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        result = check()
        if result:
            return result
        if gateway.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(
                f"{what}: not seen (gateway exit code {gateway.process.poll()})\n{gateway.log_tail()}"
            )
        time.sleep(0.2)


def _json(response: Any) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def test_thingsboard_iot_gateway_brings_a_modbus_meter_into_indunet(
    mqtt: MqttThread, client: TestClient, tenant_a: Tenant, modbus: ModbusSimulator, tmp_path: Path
) -> None:
    engineer = tenant_a.engineer
    _json(client.post("/api/device-types", json=METER_TYPE, headers=engineer))
    tag = secrets.token_hex(3)
    gateway_device = _json(
        client.post(
            "/api/devices", json={"name": f"edge-gw-{tag}", "type": METER_TYPE["name"]}, headers=engineer
        )
    )
    # One meter is registered beforehand with a setpoint waiting for it, the other is discovered.
    known = _json(
        client.post(
            "/api/devices",
            json={
                "name": f"meter-{tag}-a",
                "type": METER_TYPE["name"],
                "labels": {"gateway": gateway_device["name"]},
            },
            headers=engineer,
        )
    )
    _json(
        client.put(f"/api/devices/{known['id']}/attributes/shared", json={"setpoint": 250}, headers=engineer)
    )
    discovered_name = f"meter-{tag}-b"
    config = tmp_path / "config"
    slaves = [_slave(modbus.port, known["name"], 5), _slave(modbus.port, discovered_name, 6)]
    _write_config(config, mqtt.port, gateway_device["token"], slaves)

    gateway = GatewayProcess(tmp_path, config)
    try:
        # The gateway asks for the known meter's shared attributes when it connects it
        # (v1/gateway/attributes/request) and writes the setpoint it gets to the meter.
        _eventually(gateway, "setpoint 250 written to holding register 5", lambda: modbus.holding(5) == 250)

        def discovered() -> dict[str, Any] | None:
            children = _json(
                client.get(
                    "/api/devices", params={"label": f"gateway={gateway_device['name']}"}, headers=engineer
                )
            )
            return next((d for d in children["items"] if d["name"] == discovered_name), None)

        meter = _eventually(gateway, "the discovered meter registered under the gateway", discovered)
        assert meter["type"] == METER_TYPE["name"]
        assert meter["status"] == "online"

        def readings() -> dict[str, Any]:
            series = _json(client.get(f"/api/telemetry/{meter['id']}", headers=engineer))["series"]
            return series if series.get("temperature") and series.get("pressure") else {}

        series = _eventually(gateway, "the meter's registers as telemetry", readings)
        assert series["temperature"][-1][1] == TEMPERATURE_TENTHS / 10
        assert series["pressure"][-1][1] == PRESSURE_TENTHS / 10

        def reported() -> dict[str, Any]:
            attributes = _json(client.get(f"/api/devices/{meter['id']}/attributes", headers=engineer))
            return attributes["client"] if "serial" in attributes["client"] else {}

        assert _eventually(gateway, "the serial number as a client attribute", reported)["serial"] == SERIAL

        # A shared attribute set while the gateway is connected reaches it on v1/gateway/attributes.
        _json(
            client.put(
                f"/api/devices/{meter['id']}/attributes/shared", json={"setpoint": 321}, headers=engineer
            )
        )
        _eventually(gateway, "setpoint 321 written to holding register 6", lambda: modbus.holding(6) == 321)

        # Server-side RPC: the Modbus connector reads the counter register and answers through indunet.
        answer = _json(
            client.post(
                f"/api/devices/{meter['id']}/rpc",
                json={"method": "read_counter", "timeout_ms": 20000},
                headers=engineer,
            )
        )
        # The connector's own answer, as the gateway sent it on v1/gateway/rpc.
        assert answer == {"result": {"result": {"value": COUNTER}}}

        # Writes by RPC take the bare value the connector needs ("params": 640), checked first against
        # the one-parameter command or the read-write point the method names.
        def rpc(method: str, params: Any) -> Any:
            return client.post(
                f"/api/devices/{meter['id']}/rpc",
                json={"method": method, "params": params, "timeout_ms": 20000},
                headers=engineer,
            )

        for method, value, register in (
            ("set_pressure_limit", 640, LIMIT_REGISTER),
            ("valve_output", 42, OUTPUT_REGISTER),
        ):
            # After the write the connector answers with the params it got: the bare value, as sent.
            assert _json(rpc(method, value)) == {"result": {"result": {"value": value}}}
            assert modbus.holding(register) == value
        refused = rpc("set_pressure_limit", 5000)
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "outside [0, 1000]" in refused.json()["detail"]
        assert modbus.holding(LIMIT_REGISTER) == 640
        assert gateway.process.poll() is None, gateway.log_tail()
    finally:
        gateway.stop()
