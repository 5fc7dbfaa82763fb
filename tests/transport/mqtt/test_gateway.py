"""The ThingsBoard gateway API: the unmodified ``TBGatewayMqttClient`` and raw MQTT 5 edge cases."""

from __future__ import annotations

import hashlib
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
        ("v1/gateway/claim", {}, Reason.PAYLOAD_FORMAT_INVALID),
        ("v1/gateway/claim", {_unique("x"): {"durationMs": -1}}, Reason.PAYLOAD_FORMAT_INVALID),
        ("v1/gateway/claim", {_unique("x"): {"secretKey": 7}}, Reason.PAYLOAD_FORMAT_INVALID),
        ("v1/gateway/attributes/request", {"device": "x", "keys": []}, Reason.PAYLOAD_FORMAT_INVALID),
        (
            "v1/gateway/attributes/request",
            {"id": 1, "device": "x", "client": "yes"},
            Reason.PAYLOAD_FORMAT_INVALID,
        ),
        (
            "v1/gateway/attributes/request",
            {"id": 1, "device": "x", "keys": "a,b"},
            Reason.PAYLOAD_FORMAT_INVALID,
        ),
        (
            "v1/gateway/attributes/request",
            {"id": 1, "device": tenant_a.device["name"]},
            Reason.NOT_AUTHORIZED,
        ),
        ("v1/gateway/claim", {tenant_a.device["name"]: {"secretKey": "s"}}, Reason.NOT_AUTHORIZED),
        ("v1/gateway/statistics", {}, Reason.NOT_AUTHORIZED),
        # A gateway may not speak for itself or for devices that are not behind it.
        ("v1/gateway/connect", {"device": gateway_device["name"]}, Reason.NOT_AUTHORIZED),
        ("v1/gateway/connect", {"device": tenant_a.device["name"]}, Reason.NOT_AUTHORIZED),
    ]
    for packet_id, (topic, payload, reason) in enumerate(cases, start=1):
        assert _publish(raw, topic, payload, packet_id).reason_code == reason, (topic, payload)
    assert not _exists(platform, tenant_a, "bad name!")
    assert _publish(raw, "v1/gateway/connect", {"device": _unique("ok")}, 99).reason_code == Reason.SUCCESS


def test_tb_gateway_client_reads_attributes_gets_shared_updates_and_claims(
    platform: Platform, tenant_a: Tenant, mqtt: MqttThread, client: Any
) -> None:
    gateway_device = _gateway_device(platform, tenant_a)
    child_name = _unique("lathe")
    gw = TBGatewayMqttClient("127.0.0.1", port=mqtt.port, username=gateway_device["token"])
    answers: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    gw.connect()
    try:
        _wait(gw.is_connected)
        assert gw.gw_connect_device(child_name, "cnc_machine_tool").get() == 0
        child_id = resolve(platform, tenant_a.id, child_name).id
        assert gw.gw_send_attributes(child_name, {"firmware": "2.0", "serial": "SN-7"}).get() == 0
        response = client.put(
            f"/api/devices/{child_id}/attributes/shared",
            json={"feed_limit": 80, "mode": "auto"},
            headers=tenant_a.engineer,
        )
        assert response.status_code == 200, response.text

        def answered(content: dict[str, Any], error: Any, *_: Any) -> None:
            answers.append(content)

        gw.gw_request_client_attributes(child_name, ["firmware", "serial", "absent"], answered)
        gw.gw_request_shared_attributes(child_name, ["feed_limit"], answered)
        gw.gw_request_shared_attributes(child_name, [], answered)
        _wait(lambda: len(answers) == 3)
        by_id = sorted(answers, key=lambda content: content["id"])
        assert all(content["device"] == child_name for content in by_id)
        assert by_id[0]["values"] == {"firmware": "2.0", "serial": "SN-7"}
        assert by_id[1]["value"] == 80
        assert by_id[2]["values"] == {"feed_limit": 80, "mode": "auto"}

        gw.gw_subscribe_to_all_attributes(updates.append)
        response = client.put(
            f"/api/devices/{child_id}/attributes/shared",
            json={"feed_limit": 60, "mode": None},
            headers=tenant_a.engineer,
        )
        assert response.status_code == 200, response.text
        _wait(lambda: bool(updates))
        assert updates == [{"device": child_name, "data": {"feed_limit": 60, "deleted": ["mode"]}}]

        assert gw.gw_claim(child_name, "open sesame", 60_000).get() == 0
        attributes = device_api.get_attributes(platform, Principal.system(tenant_a.id), child_id)
        claim = attributes["client"]["claim"]
        digest = hashlib.sha256(f"{child_id}:open sesame".encode()).hexdigest()
        assert claim["secret_sha256"] == digest
        assert "open sesame" not in json.dumps(claim)
        response = client.get(
            "/api/audit",
            params={"entity_id": child_id, "entity": "client_attributes"},
            headers=tenant_a.admin,
        )
        assert response.status_code == 200, response.text
        assert any((entry["after"] or {}).get("claim") == claim for entry in response.json()["items"])
    finally:
        gw.disconnect()


def test_a_request_for_one_absent_key_is_answered_without_a_value(
    platform: Platform, tenant_a: Tenant, mqtt: MqttThread, raw: RawClient
) -> None:
    raw.connect(_gateway_device(platform, tenant_a)["token"])
    raw.send(mqtt5.SubscribePacket(1, [mqtt5.TopicFilter("v1/gateway/attributes/response")]))
    assert isinstance(raw.receive(), mqtt5.SubAckPacket)
    name = _unique("press")
    request = {"id": 12, "device": name, "client": True, "key": "firmware"}
    raw.send(
        mqtt5.PublishPacket(
            "v1/gateway/attributes/request",
            json.dumps(request).encode(),
            qos=mqtt5.QoS.AT_LEAST_ONCE,
            packet_id=2,
        )
    )
    packets = [raw.receive(), raw.receive()]
    acks = [p for p in packets if isinstance(p, mqtt5.PubAckPacket)]
    answers = [p for p in packets if isinstance(p, mqtt5.PublishPacket)]
    assert [ack.reason_code for ack in acks] == [Reason.SUCCESS]
    assert [json.loads(p.payload) for p in answers] == [{"id": 12, "device": name}]
