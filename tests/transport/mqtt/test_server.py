"""The MQTT endpoint's protocol behaviour as a device sees it: connect, publish, limits, reason codes."""

from __future__ import annotations

import json
import time
from typing import Any

import mqtt5
import pytest
from tests.helpers import Tenant
from tests.transport.mqtt.raw_client import RawClient

from indunet.platform import telemetry
from indunet.platform.runtime import Platform
from indunet.security import Principal
from indunet.transport.mqtt import MqttThread
from indunet.transport.mqtt.ratelimit import RateLimiter

TELEMETRY = "v1/devices/me/telemetry"


def _spindle(platform: Platform, tenant: Tenant) -> list[Any]:
    query = telemetry.SeriesQuery(points=("spindle_speed",), start_us=0, limit=1000)
    found = telemetry.raw(platform, Principal.system(tenant.id), tenant.device["id"], query)
    return [value for _, value in found["series"]["spindle_speed"]]


def _publish(raw: RawClient, topic: str, payload: Any, packet_id: int = 1) -> mqtt5.PubAckPacket:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    raw.send(mqtt5.PublishPacket(topic, body, qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=packet_id))
    ack = raw.receive()
    assert isinstance(ack, mqtt5.PubAckPacket), ack
    return ack


def test_wrong_token_is_refused_with_bad_credentials(raw: RawClient) -> None:
    ack = raw.connect("dev_notatoken")
    assert ack.reason_code == mqtt5.ConnAckReasonCode.BAD_USER_NAME_OR_PASSWORD
    assert raw.receive() is None


def test_missing_token_is_refused(raw: RawClient) -> None:
    assert raw.connect(None).reason_code == mqtt5.ConnAckReasonCode.BAD_USER_NAME_OR_PASSWORD


def test_mqtt_31_client_is_told_its_protocol_version_is_unsupported(raw: RawClient) -> None:
    raw.send(b"\x10\x12\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x04abcd")
    assert raw.sock.recv(16) == b"\x20\x02\x00\x01"


def test_qos1_telemetry_is_stored_before_its_puback(
    platform: Platform, tenant_a: Tenant, raw: RawClient
) -> None:
    ack = raw.connect(tenant_a.device["token"])
    assert ack.reason_code == mqtt5.ConnAckReasonCode.SUCCESS
    assert ack.max_packet_size == platform.settings.mqtt_max_packet_bytes
    assert ack.receive_max == platform.settings.mqtt_receive_maximum
    assert _publish(raw, TELEMETRY, {"spindle_speed": 1201.5}).reason_code == mqtt5.PubAckReasonCode.SUCCESS
    assert 1201.5 in _spindle(platform, tenant_a)


def test_all_three_telemetry_shapes_are_stored(platform: Platform, tenant_a: Tenant, raw: RawClient) -> None:
    raw.connect(tenant_a.device["token"])
    now_ms = int(time.time() * 1000)
    _publish(raw, TELEMETRY, {"spindle_speed": 1301.0}, 1)
    _publish(raw, TELEMETRY, {"ts": now_ms - 5000, "values": {"spindle_speed": 1302.0}}, 2)
    _publish(
        raw,
        TELEMETRY,
        [{"ts": now_ms - 4000, "values": {"spindle_speed": 1303.0}}, {"spindle_speed": 1304.0}],
        3,
    )
    assert {1301.0, 1302.0, 1303.0, 1304.0} <= set(_spindle(platform, tenant_a))


def test_many_pipelined_messages_are_each_acknowledged(
    platform: Platform, tenant_a: Tenant, raw: RawClient
) -> None:
    raw.connect(tenant_a.device["token"])
    data = b"".join(
        mqtt5.PublishPacket(
            TELEMETRY,
            json.dumps({"spindle_speed": 2000.0 + n}).encode(),
            qos=mqtt5.QoS.AT_LEAST_ONCE,
            packet_id=n,
        ).write()
        for n in range(1, 51)
    )
    raw.send(data)
    acks = [raw.receive() for _ in range(50)]
    assert [a.packet_id for a in acks if isinstance(a, mqtt5.PubAckPacket)] == list(range(1, 51))
    assert {2000.0 + n for n in range(1, 51)} <= set(_spindle(platform, tenant_a))


def test_bad_json_and_out_of_range_values_get_payload_format_invalid(
    tenant_a: Tenant, raw: RawClient
) -> None:
    raw.connect(tenant_a.device["token"])
    ack = _publish(raw, TELEMETRY, b"{not json")
    assert ack.reason_code == mqtt5.PubAckReasonCode.PAYLOAD_FORMAT_INVALID
    ack = _publish(raw, TELEMETRY, {"spindle_speed": 99999999.0}, 2)
    assert ack.reason_code == mqtt5.PubAckReasonCode.PAYLOAD_FORMAT_INVALID
    assert "spindle_speed" in (ack.reason_str or "")


def test_topic_outside_device_rights_is_not_authorised(tenant_a: Tenant, raw: RawClient) -> None:
    raw.connect(tenant_a.device["token"])
    assert (
        _publish(raw, "v1/devices/other/telemetry", {"a": 1}).reason_code
        == mqtt5.PubAckReasonCode.NOT_AUTHORIZED
    )
    raw.send(
        mqtt5.SubscribePacket(7, [mqtt5.TopicFilter("#"), mqtt5.TopicFilter("v1/devices/me/rpc/request/+")])
    )
    suback = raw.receive()
    assert isinstance(suback, mqtt5.SubAckPacket)
    assert suback.reason_codes == [
        mqtt5.SubAckReasonCode.NOT_AUTHORIZED,
        mqtt5.SubAckReasonCode.GRANTED_QOS_AT_LEAST_ONCE,
    ]


def test_oversized_packet_is_refused_with_packet_too_large(
    platform: Platform, tenant_a: Tenant, raw: RawClient, mqtt: MqttThread
) -> None:
    raw.connect(tenant_a.device["token"])
    big = json.dumps({"program_name": "x" * platform.settings.mqtt_max_packet_bytes}).encode()
    raw.send(mqtt5.PublishPacket(TELEMETRY, big, qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=1))
    reply = raw.receive()
    assert isinstance(reply, mqtt5.DisconnectPacket)
    assert reply.reason_code == mqtt5.DisconnectReasonCode.PACKET_TOO_LARGE
    assert raw.receive() is None
    again = RawClient(mqtt.port)  # the server is still up
    assert again.connect(tenant_a.device["token"]).reason_code == mqtt5.ConnAckReasonCode.SUCCESS
    again.close()


def test_receive_maximum_is_enforced(platform: Platform, tenant_a: Tenant, raw: RawClient) -> None:
    raw.connect(tenant_a.device["token"])
    too_many = platform.settings.mqtt_receive_maximum + 1
    raw.send(
        b"".join(
            mqtt5.PublishPacket(
                TELEMETRY, b'{"spindle_speed": 1}', qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=n
            ).write()
            for n in range(1, too_many + 1)
        )
    )
    packets = []
    while (packet := raw.receive()) is not None:
        packets.append(packet)
    if any(isinstance(p, mqtt5.DisconnectPacket) for p in packets):
        last = packets[-1]
        assert isinstance(last, mqtt5.DisconnectPacket)
        assert last.reason_code == mqtt5.DisconnectReasonCode.RECEIVE_MAX_EXCEEDED
    else:  # the bytes arrived in several reads, each within the limit: every message acknowledged
        pytest.fail(f"expected RECEIVE_MAX_EXCEEDED, got {packets[-1:]}")


def test_over_quota_messages_get_quota_exceeded_not_silence(platform: Platform, tenant_a: Tenant) -> None:
    thread = MqttThread(platform, "127.0.0.1", 0)
    thread.server.limiter = RateLimiter(0.001, 2, 1000, 1000)
    thread.start()
    try:
        raw = RawClient(thread.port)
        raw.connect(tenant_a.device["token"])
        codes = [_publish(raw, TELEMETRY, {"spindle_speed": 10.0}, n).reason_code for n in range(1, 5)]
        assert codes == [mqtt5.PubAckReasonCode.SUCCESS] * 2 + [mqtt5.PubAckReasonCode.QUOTA_EXCEEDED] * 2
        raw.send(mqtt5.PublishPacket(TELEMETRY, b'{"spindle_speed": 1}'))
        reply = raw.receive()
        assert isinstance(reply, mqtt5.DisconnectPacket)
        assert reply.reason_code == mqtt5.DisconnectReasonCode.QUOTA_EXCEEDED
        raw.close()
    finally:
        thread.stop()


def test_client_attributes_and_attribute_request(
    platform: Platform, tenant_a: Tenant, raw: RawClient, client: Any
) -> None:
    raw.connect(tenant_a.device["token"])
    raw.send(mqtt5.SubscribePacket(1, [mqtt5.TopicFilter("v1/devices/me/attributes/response/+")]))
    assert isinstance(raw.receive(), mqtt5.SubAckPacket)
    assert _publish(raw, "v1/devices/me/attributes", {"firmware": "1.2.3", "serial": "S-9"}).reason_code == 0
    response = client.put(
        f"/api/devices/{tenant_a.device['id']}/attributes/shared",
        json={"target_rpm": 1500},
        headers=tenant_a.engineer,
    )
    assert response.status_code == 200, response.text
    raw.send(
        mqtt5.PublishPacket(
            "v1/devices/me/attributes/request/5", b'{"clientKeys":"firmware","sharedKeys":"target_rpm"}'
        )
    )
    reply = raw.receive()
    assert isinstance(reply, mqtt5.PublishPacket)
    assert reply.topic == "v1/devices/me/attributes/response/5"
    assert json.loads(reply.payload) == {"client": {"firmware": "1.2.3"}, "shared": {"target_rpm": 1500}}


def test_shared_attribute_change_is_pushed_to_subscribed_device(
    tenant_a: Tenant, raw: RawClient, client: Any
) -> None:
    raw.connect(tenant_a.device["token"])
    raw.send(mqtt5.SubscribePacket(1, [mqtt5.TopicFilter("v1/devices/me/attributes")]))
    assert isinstance(raw.receive(), mqtt5.SubAckPacket)
    response = client.put(
        f"/api/devices/{tenant_a.device['id']}/attributes/shared",
        json={"mode": "auto", "old": None},
        headers=tenant_a.engineer,
    )
    assert response.status_code == 200
    update = raw.receive()
    assert isinstance(update, mqtt5.PublishPacket)
    assert json.loads(update.payload) == {"mode": "auto", "deleted": ["old"]}


def test_session_limits_answer_client_rpc(platform: Platform, tenant_a: Tenant, raw: RawClient) -> None:
    raw.connect(tenant_a.device["token"])
    raw.send(mqtt5.SubscribePacket(1, [mqtt5.TopicFilter("v1/devices/me/rpc/response/+")]))
    raw.receive()
    raw.send(mqtt5.PublishPacket("v1/devices/me/rpc/request/3", b'{"method":"getSessionLimits","params":{}}'))
    reply = raw.receive()
    assert isinstance(reply, mqtt5.PublishPacket)
    assert reply.topic == "v1/devices/me/rpc/response/3"
    limits = json.loads(reply.payload)
    assert limits["maxPayloadSize"] == platform.settings.mqtt_max_packet_bytes
    assert limits["maxInflightMessages"] == platform.settings.mqtt_receive_maximum
    assert "messages" in limits["rateLimits"]


def test_will_on_attributes_topic_is_stored_when_the_device_drops(
    platform: Platform, tenant_a: Tenant, mqtt: MqttThread, client: Any
) -> None:
    raw = RawClient(mqtt.port)
    will = mqtt5.Will("v1/devices/me/attributes", payload=b'{"online": false}')
    raw.connect(tenant_a.device["token"], will=will)
    raw.sock.close()  # no DISCONNECT: the will applies
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = client.get(f"/api/devices/{tenant_a.device['id']}/attributes", headers=tenant_a.viewer).json()
        if found["client"].get("online") is False:
            break
        time.sleep(0.05)
    assert found["client"]["online"] is False


def test_clean_disconnect_discards_the_will_and_session_resumes(tenant_a: Tenant, mqtt: MqttThread) -> None:
    first = RawClient(mqtt.port)
    first.connect(tenant_a.device["token"], session_expiry_interval=60, clean_start=True)
    first.send(mqtt5.SubscribePacket(1, [mqtt5.TopicFilter("v1/devices/me/attributes")]))
    first.receive()
    first.send(mqtt5.DisconnectPacket())
    assert first.receive() is None
    second = RawClient(mqtt.port)
    assert second.connect(tenant_a.device["token"], session_expiry_interval=60).session_present
    second.close()


def test_silent_client_is_disconnected_after_one_and_a_half_keep_alives(
    tenant_a: Tenant, mqtt: MqttThread, raw: RawClient
) -> None:
    raw.connect(tenant_a.device["token"], keep_alive=1)
    started = time.monotonic()
    packet = raw.receive()  # blocks: the client sends nothing, not even PINGREQ
    assert isinstance(packet, mqtt5.DisconnectPacket)
    assert packet.reason_code == mqtt5.DisconnectReasonCode.KEEP_ALIVE_TIMEOUT
    assert time.monotonic() - started >= 1.5
    assert raw.receive() is None


def test_pings_keep_a_quiet_client_connected(tenant_a: Tenant, mqtt: MqttThread, raw: RawClient) -> None:
    raw.connect(tenant_a.device["token"], keep_alive=1)
    for _ in range(4):  # 3.2 s in all: a silent client would have been dropped by now
        time.sleep(0.8)
        raw.send(mqtt5.PingReqPacket())
        assert isinstance(raw.receive(), mqtt5.PingRespPacket)
    ack = _publish(raw, TELEMETRY, {"spindle_speed": 1200})
    assert ack.reason_code == mqtt5.PubAckReasonCode.SUCCESS
