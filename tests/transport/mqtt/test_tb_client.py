"""The unmodified ThingsBoard Python client (``tb-mqtt-client``) against the endpoint."""

from __future__ import annotations

import time
from typing import Any

from tb_device_mqtt import TBDeviceMqttClient  # type: ignore[import-untyped]
from tests.helpers import Tenant

from indunet.platform import device_api, telemetry
from indunet.platform.runtime import Platform
from indunet.security import Principal
from indunet.transport.mqtt import MqttThread


def _wait(condition: Any, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_tb_client_sends_telemetry_and_attributes_and_answers_rpc(
    platform: Platform, tenant_a: Tenant, mqtt: MqttThread, client: Any
) -> None:
    device = TBDeviceMqttClient("127.0.0.1", port=mqtt.port, username=tenant_a.device["token"])

    def on_rpc(request_id: str, body: dict[str, Any]) -> None:
        device.send_rpc_reply(request_id, {"echo": body["params"], "method": body["method"]})

    device.set_server_side_rpc_request_handler(on_rpc)
    device.connect()
    try:
        _wait(device.is_connected)
        assert device.send_telemetry({"spindle_speed": 4321.0}).get() == 0
        assert device.send_telemetry({"ts": int(time.time() * 1000), "values": {"tool_number": 7}}).get() == 0
        assert device.send_attributes({"firmware": "tb-2.0"}).get() == 0
        system = Principal.system(tenant_a.id)
        query = telemetry.SeriesQuery(points=("spindle_speed",), start_us=0)
        stored = telemetry.raw(platform, system, tenant_a.device["id"], query)["series"]["spindle_speed"]
        assert 4321.0 in [value for _, value in stored]
        attributes = device_api.get_attributes(platform, system, tenant_a.device["id"])
        assert attributes["client"]["firmware"] == "tb-2.0"
        response = client.post(
            f"/api/devices/{tenant_a.device['id']}/rpc",
            json={"method": "spindle_override", "params": {"value": 110}, "timeout_ms": 10000},
            headers=tenant_a.engineer,
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"result": {"echo": {"value": 110}, "method": "spindle_override"}}
    finally:
        device.disconnect()
