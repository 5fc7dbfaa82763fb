"""MQTT 3.1.1 devices: plain ``paho-mqtt`` in its default MQTTv311 mode, and refusals on raw 3.1.1 bytes."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import paho.mqtt.client as paho
import pytest
from tests.helpers import Tenant

from indunet.platform import device_api, telemetry
from indunet.platform.runtime import Platform
from indunet.security import Principal
from indunet.transport.mqtt import MqttThread
from indunet.transport.mqtt import codec311 as c
from indunet.transport.mqtt.ratelimit import RateLimiter


def _paho(port: int, token: str) -> tuple[paho.Client, list[Any]]:
    outcome: list[Any] = []
    connected = threading.Event()
    device = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="paho-311")

    def on_connect(client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        outcome.append(reason)
        connected.set()

    device.on_connect = on_connect
    device.username_pw_set(token)
    device.connect("127.0.0.1", port)
    device.loop_start()
    assert connected.wait(15)
    return device, outcome


def _raw(port: int, token: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    sock.sendall(c.Connect("raw-311", username=token).write())
    assert sock.recv(4) == c.ConnAck(c.ReturnCode.ACCEPTED).write()
    return sock


def _closed_without_answer(sock: socket.socket) -> bool:
    try:
        return sock.recv(64) == b""
    except ConnectionResetError:
        return True


def test_paho_311_telemetry_is_stored_before_puback_and_attributes_and_rpc_work(
    platform: Platform, tenant_a: Tenant, mqtt: MqttThread, client: Any
) -> None:
    device, outcome = _paho(mqtt.port, tenant_a.device["token"])
    try:
        assert not outcome[0].is_failure
        info = device.publish("v1/devices/me/telemetry", json.dumps({"spindle_speed": 3111.0}), qos=1)
        info.wait_for_publish(15)
        system = Principal.system(tenant_a.id)
        query = telemetry.SeriesQuery(points=("spindle_speed",), start_us=0, limit=1000)
        stored = telemetry.raw(platform, system, tenant_a.device["id"], query)["series"]["spindle_speed"]
        assert 3111.0 in [value for _, value in stored]

        device.publish(
            "v1/devices/me/attributes", json.dumps({"firmware": "paho-311"}), qos=1
        ).wait_for_publish(15)
        assert (
            device_api.get_attributes(platform, system, tenant_a.device["id"])["client"]["firmware"]
            == "paho-311"
        )

        subscribed = threading.Event()
        device.on_subscribe = lambda *args: subscribed.set()

        def on_message(cl: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
            request_id = message.topic.rsplit("/", 1)[1]
            body = json.loads(message.payload)
            cl.publish(f"v1/devices/me/rpc/response/{request_id}", json.dumps({"got": body["params"]}), qos=1)

        device.on_message = on_message
        device.subscribe("v1/devices/me/rpc/request/+", qos=1)
        assert subscribed.wait(15)
        response = client.post(
            f"/api/devices/{tenant_a.device['id']}/rpc",
            json={"method": "spindle_override", "params": {"value": 90}, "timeout_ms": 10000},
            headers=tenant_a.engineer,
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"result": {"got": {"value": 90}}}
    finally:
        device.disconnect()
        device.loop_stop()


def test_paho_311_wrong_token_is_refused_as_bad_credentials(mqtt: MqttThread) -> None:
    device, outcome = _paho(mqtt.port, "dev_notatoken")
    try:
        assert outcome[0].is_failure
        assert outcome[0] == "Bad user name or password"
    finally:
        device.loop_stop()


def test_311_connack_return_codes_for_bad_token_and_client_id(mqtt: MqttThread) -> None:
    sock = socket.create_connection(("127.0.0.1", mqtt.port), timeout=15)
    sock.sendall(c.Connect("x", username="dev_notatoken").write())
    assert sock.recv(4) == c.ConnAck(c.ReturnCode.BAD_USER_NAME_OR_PASSWORD).write()
    assert _closed_without_answer(sock)
    sock = socket.create_connection(("127.0.0.1", mqtt.port), timeout=15)
    sock.sendall(c.Connect("", clean_session=False, username="dev_notatoken").write())
    assert sock.recv(4) == c.ConnAck(c.ReturnCode.IDENTIFIER_REJECTED).write()


@pytest.mark.parametrize(
    "packet",
    [
        c.Publish("v1/devices/other/telemetry", b"{}", 1, 5),
        c.Publish("v1/devices/me/telemetry", b"not json", 1, 5),
        c.Publish("v1/devices/me/telemetry", b'{"spindle_speed": 1}', 2, 5),
    ],
    ids=["forbidden-topic", "bad-payload", "qos2"],
)
def test_311_refused_publish_closes_the_connection(
    tenant_a: Tenant, mqtt: MqttThread, packet: c.Publish
) -> None:
    sock = _raw(mqtt.port, tenant_a.device["token"])
    sock.sendall(packet.write())
    assert _closed_without_answer(sock)


def test_311_over_quota_closes_the_connection(
    platform: Platform, tenant_a: Tenant, mqtt: MqttThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bucket that does not refill during the test: how fast the store is cannot matter.
    monkeypatch.setattr(mqtt.server, "limiter", RateLimiter(0.001, 20, 1000, 1000))
    sock = _raw(mqtt.port, tenant_a.device["token"])
    data = b"".join(c.Publish("v1/devices/me/attributes", b'{"n": 1}', 0).write() for _ in range(30))
    sock.sendall(data)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
    else:
        pytest.fail("the connection stayed open over quota")


def test_311_malformed_packet_closes_the_connection(tenant_a: Tenant, mqtt: MqttThread) -> None:
    sock = _raw(mqtt.port, tenant_a.device["token"])
    sock.sendall(b"\x38\x03\x00\x01a")  # DUP set at QoS 0
    assert _closed_without_answer(sock)
