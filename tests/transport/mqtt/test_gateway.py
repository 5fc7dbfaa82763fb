"""The ThingsBoard gateway API: the unmodified ``TBGatewayMqttClient`` and raw MQTT 5 edge cases."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import mqtt5
from tb_gateway_mqtt import TBGatewayMqttClient  # type: ignore[import-untyped]
from tests.helpers import Tenant
from tests.transport.mqtt.raw_client import RawClient

from indunet.core.errors import NotFound
from indunet.platform import device_api, telemetry
from indunet.platform.devices import create_device, get_device, resolve
from indunet.platform.rpc import router_for
from indunet.platform.runtime import Platform
from indunet.security import Principal
from indunet.transport.mqtt import MqttThread

Reason = mqtt5.PubAckReasonCode


def _wait(condition: Any, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _gateway_device(platform: Platform, tenant: Tenant) -> dict[str, Any]:
    return create_device(platform, Principal.system(tenant.id), _unique("gw"), "cnc_machine_tool")


def _publish(raw: RawClient, topic: str, payload: Any, packet_id: int = 1) -> mqtt5.PubAckPacket:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    raw.send(mqtt5.PublishPacket(topic, body, qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=packet_id))
    ack = raw.receive()
    assert isinstance(ack, mqtt5.PubAckPacket), ack
    return ack


def _exists(platform: Platform, tenant: Tenant, name: str) -> bool:
    try:
        resolve(platform, tenant.id, name)
    except NotFound:
        return False
    return True


def test_tb_gateway_client_connects_children_sends_data_and_answers_rpc(
    platform: Platform, tenant_a: Tenant, mqtt: MqttThread, client: Any
) -> None:
    gateway_device = _gateway_device(platform, tenant_a)
    child_name = _unique("lathe")
    system = Principal.system(tenant_a.id)
    gw = TBGatewayMqttClient("127.0.0.1", port=mqtt.port, username=gateway_device["token"])

    def on_rpc(gateway: Any, request: dict[str, Any]) -> None:
        data = request["data"]
        gateway.gw_send_rpc_reply(
            request["device"], data["id"], {"applied": data["params"]["value"], "method": data["method"]}
        )

    gw.gw_set_server_side_rpc_request_handler(on_rpc)
    gw.connect()
    try:
        _wait(gw.is_connected)
        assert gw.gw_connect_device(child_name, "cnc_machine_tool").get() == 0
        child = get_device(platform, system, resolve(platform, tenant_a.id, child_name).id)
        assert child["type"] == "cnc_machine_tool"
        assert child["labels"] == {"gateway": gateway_device["name"]}
        assert child["status"] == "online"

        point = {"ts": int(time.time() * 1000), "values": {"spindle_speed": 2345.0}}
        assert gw.gw_send_telemetry(child_name, [point]).get() == 0
        query = telemetry.SeriesQuery(points=("spindle_speed",), start_us=0)
        stored = telemetry.raw(platform, system, child["id"], query)["series"]["spindle_speed"]
        assert [value for _, value in stored] == [2345.0]

        assert gw.gw_send_attributes(child_name, {"firmware": "gw-1.2"}).get() == 0
        assert device_api.get_attributes(platform, system, child["id"])["client"]["firmware"] == "gw-1.2"

        response = client.post(
            f"/api/devices/{child['id']}/rpc",
            json={"method": "spindle_override", "params": {"value": 90}, "timeout_ms": 10000},
            headers=tenant_a.engineer,
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"result": {"applied": 90, "method": "spindle_override"}}

        assert gw.gw_disconnect_device(child_name).get() == 0
        _wait(lambda: platform.marked_offline(child["id"]))
        assert router_for(platform).channel(child["id"]) is None
    finally:
        gw.disconnect()


def test_telemetry_creates_children_and_the_gateways_end_takes_them_offline(
    platform: Platform, tenant_a: Tenant, mqtt: MqttThread, raw: RawClient
) -> None:
    gateway_device = _gateway_device(platform, tenant_a)
    first, second = _unique("press"), _unique("press")
    raw.connect(gateway_device["token"])
    payload = {
        first: [{"ts": 1_700_000_000_000, "values": {"spindle_speed": 100.0}}],
        second: {"tool_number": 3},
    }
    assert _publish(raw, "v1/gateway/telemetry", payload).reason_code == Reason.SUCCESS
    ids = [resolve(platform, tenant_a.id, name).id for name in (first, second)]
    # The client's "default" type does not exist in the tenant: the child gets the gateway's type.
    assert _publish(
        raw, "v1/gateway/connect", {"device": _unique("mill"), "type": "default"}, 2
    ).reason_code == (Reason.SUCCESS)
    assert all(router_for(platform).channel(child) is not None for child in ids)
    raw.send(mqtt5.DisconnectPacket())
    _wait(lambda: all(platform.marked_offline(child) for child in ids))
    assert all(router_for(platform).channel(child) is None for child in ids)


def test_rejected_points_are_reported_and_nothing_stored_is_payload_invalid(
    platform: Platform, tenant_a: Tenant, mqtt: MqttThread, raw: RawClient
) -> None:
    raw.connect(_gateway_device(platform, tenant_a)["token"])
    name = _unique("robot")
    ack = _publish(raw, "v1/gateway/telemetry", {name: {"spindle_speed": 99999.0}})
    assert ack.reason_code == Reason.PAYLOAD_FORMAT_INVALID
    assert name in (ack.reason_str or "")
    mixed = {name: {"spindle_speed": 99999.0, "tool_number": 5}}
    assert _publish(raw, "v1/gateway/telemetry", mixed, 2).reason_code == Reason.SUCCESS


def test_bad_gateway_messages_get_reason_codes_and_the_connection_survives(
    platform: Platform, tenant_a: Tenant, mqtt: MqttThread, raw: RawClient
) -> None:
    gateway_device = _gateway_device(platform, tenant_a)
    raw.connect(gateway_device["token"])
    cases: list[tuple[str, Any, Reason]] = [
        ("v1/gateway/telemetry", b"not json", Reason.PAYLOAD_FORMAT_INVALID),
        ("v1/gateway/telemetry", [], Reason.PAYLOAD_FORMAT_INVALID),
        ("v1/gateway/telemetry", {"bad name!": {"spindle_speed": 1.0}}, Reason.PAYLOAD_FORMAT_INVALID),
        ("v1/gateway/connect", {"device": ""}, Reason.PAYLOAD_FORMAT_INVALID),
        ("v1/gateway/connect", {"device": 7}, Reason.PAYLOAD_FORMAT_INVALID),
        ("v1/gateway/attributes", {_unique("x"): []}, Reason.PAYLOAD_FORMAT_INVALID),
        ("v1/gateway/rpc", {"device": "x", "id": "one"}, Reason.PAYLOAD_FORMAT_INVALID),
        ("v1/gateway/claim", {}, Reason.NOT_AUTHORIZED),
        # A gateway may not speak for itself or for devices that are not behind it.
        ("v1/gateway/connect", {"device": gateway_device["name"]}, Reason.NOT_AUTHORIZED),
        ("v1/gateway/connect", {"device": tenant_a.device["name"]}, Reason.NOT_AUTHORIZED),
    ]
    for packet_id, (topic, payload, reason) in enumerate(cases, start=1):
        assert _publish(raw, topic, payload, packet_id).reason_code == reason, (topic, payload)
    assert not _exists(platform, tenant_a, "bad name!")
    assert _publish(raw, "v1/gateway/connect", {"device": _unique("ok")}, 99).reason_code == Reason.SUCCESS
