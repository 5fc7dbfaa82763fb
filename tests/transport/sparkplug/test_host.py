"""End to end: a simulated Sparkplug B edge node publishes through Mosquitto to indunet's host."""

from __future__ import annotations

import json
import queue
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from indunet.core.config import MqttSubscription
from indunet.platform import devices, telemetry, tenants
from indunet.platform.runtime import Platform
from indunet.security import Principal
from indunet.transport.sparkplug import JsonSubscriber, SparkplugHost
from indunet.transport.sparkplug.payload import DataType, Metric, Payload, decode_payload, encode_payload

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], what: str, within_s: float = 15.0) -> T:
    """Polls until ``probe`` gives a value: the host works asynchronously to the publisher."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        value = probe()
        if value is not None and value is not False:
            return value
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


class Edge:
    """A Sparkplug edge node: paho client, our codec, and a queue of the commands it receives."""

    def __init__(self, group: str, node: str) -> None:
        self.group, self.node, self.seq = group, node, 0
        self.commands: queue.Queue[tuple[str, Payload]] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"edge-{secrets.token_hex(4)}")
        death = Payload(metrics=(Metric(name="bdSeq", datatype=DataType.INT64, value=0),))
        self.client.will_set(self.topic("NDEATH"), encode_payload(death), qos=1)
        self.client.on_message = lambda _c, _u, m: self.commands.put((m.topic, decode_payload(m.payload)))
        self.client.connect("127.0.0.1", 1883)
        self.client.loop_start()
        self.client.subscribe(f"spBv1.0/{group}/NCMD/{node}", qos=1)[1]
        self.client.subscribe(f"spBv1.0/{group}/DCMD/{node}/#", qos=1)

    def topic(self, kind: str, device: str | None = None) -> str:
        return f"spBv1.0/{self.group}/{kind}/{self.node}" + (f"/{device}" if device else "")

    def send(
        self, kind: str, metrics: tuple[Metric, ...], device: str | None = None, seq: int | None = None
    ) -> None:
        if seq is None:
            seq, self.seq = self.seq, (self.seq + 1) % 256
        payload = Payload(timestamp=int(time.time() * 1000), metrics=metrics, seq=seq)
        self.client.publish(self.topic(kind, device), encode_payload(payload), qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def sparkplug(platform: Platform, broker_url: str) -> Iterator[tuple[SparkplugHost, Edge, str]]:
    tenant = tenants.create_tenant(platform, f"spb-{secrets.token_hex(3)}")
    group = f"g{secrets.token_hex(4)}"
    host = SparkplugHost(platform, tenant["id"], f"h{secrets.token_hex(4)}", broker_url, group)
    host.start()
    edge = Edge(group, "edge1")
    yield host, edge, tenant["id"]
    edge.close()
    host.stop()


def _latest(platform: Platform, principal: Principal, device_id: str, point: str) -> Any:
    series = telemetry.raw(
        platform, principal, device_id, telemetry.SeriesQuery(points=(point,), descending=True)
    )
    values = series["series"][point]
    return values[0][1] if values else None


def test_edge_node_appears_as_devices_with_live_values(
    platform: Platform, sparkplug: tuple[SparkplugHost, Edge, str]
) -> None:
    host, edge, tenant_id = sparkplug
    viewer = Principal.system(tenant_id)
    edge.send(
        "NBIRTH",
        (
            Metric(name="bdSeq", datatype=DataType.INT64, value=0),
            Metric(name="Node Control/Rebirth", datatype=DataType.BOOLEAN, value=False),
            Metric(name="Uptime", alias=1, datatype=DataType.UINT32, value=5),
        ),
    )
    edge.send(
        "DBIRTH",
        (
            Metric(
                name="Spindle/Speed",
                alias=10,
                datatype=DataType.DOUBLE,
                value=1000.0,
                properties={"engUnit": "rpm"},
            ),
            Metric(name="Alarm", alias=11, datatype=DataType.BOOLEAN, value=False),
            Metric(name="Temp", alias=12, datatype=DataType.INT16, value=-3),
        ),
        device="cnc1",
    )

    def ddata() -> None:
        edge.send(
            "DDATA",
            (Metric(alias=10, value=1500.0, datatype=DataType.DOUBLE), Metric(alias=12, value=0xFFFFFFF9)),
            device="cnc1",
        )

    ddata()
    name = f"{edge.group}.edge1.cnc1"
    device = eventually(lambda: _find(platform, tenant_id, name), "device created")
    # DDATA is QoS 0 (Sparkplug B 3.0, 7.1.2): a broker under load may drop one, so the edge says it again.
    resent = [time.monotonic()]

    def live() -> bool:
        if time.monotonic() - resent[0] > 2.0:
            resent[0] = time.monotonic()
            ddata()
        return _latest(platform, viewer, device.id, "spindle_speed") == 1500.0

    assert eventually(live, "live value")
    assert _latest(platform, viewer, device.id, "temp") == -7
    device_type = platform.types[(tenant_id, device.type_name)].device_type
    assert device_type.point("spindle_speed").unit == "rpm"  # type: ignore[union-attr]
    node = eventually(lambda: _find(platform, tenant_id, f"{edge.group}.edge1"), "node device")
    assert _latest(platform, viewer, node.id, "uptime") == 5
    assert devices.get_device(platform, viewer, device.id)["labels"]["sparkplug_state"] == "online"

    # A command through DCMD reaches the edge with the birth's metric name and type.
    host.send_command(viewer, device.id, "spindle_speed", 1200)
    topic, command = edge.commands.get(timeout=10)
    assert topic.endswith("/DCMD/edge1/cnc1")
    assert (command.metrics[0].name, command.metrics[0].value) == ("Spindle/Speed", 1200.0)

    # A lost message (sequence gap) makes the host ask the node for a rebirth.
    edge.send("DDATA", (Metric(alias=10, value=1.0),), device="cnc1", seq=(edge.seq + 3) % 256)
    topic, command = edge.commands.get(timeout=10)
    assert topic.endswith("/NCMD/edge1")
    assert (command.metrics[0].name, command.metrics[0].value) == ("Node Control/Rebirth", True)

    # DDEATH takes the device offline; the node stays online.
    edge.send("DDEATH", (), device="cnc1", seq=(edge.seq + 3) % 256)
    assert eventually(
        lambda: devices.get_device(platform, viewer, device.id)["labels"]["sparkplug_state"] == "offline",
        "device offline",
    )
    assert host.state_of(device.id) == "offline" and host.state_of(node.id) == "online"


def test_state_topic_is_retained_online_then_offline(platform: Platform, broker_url: str) -> None:
    tenant = tenants.create_tenant(platform, f"spb-{secrets.token_hex(3)}")
    host_id = f"h{secrets.token_hex(4)}"
    host = SparkplugHost(platform, tenant["id"], host_id, broker_url, f"g{secrets.token_hex(4)}")
    host.start()
    assert _retained(f"spBv1.0/STATE/{host_id}")["online"] is True
    host.stop()
    state = _retained(f"spBv1.0/STATE/{host_id}")
    assert state["online"] is False and isinstance(state["timestamp"], int)


def _retained(topic: str) -> dict[str, Any]:
    got: queue.Queue[bytes] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, m: got.put(m.payload)
    client.connect("127.0.0.1", 1883)
    client.subscribe(topic, qos=1)
    client.loop_start()
    try:
        return dict(json.loads(got.get(timeout=10)))
    finally:
        client.disconnect()
        client.loop_stop()


def _find(platform: Platform, tenant_id: str, name: str) -> Any:
    try:
        return devices.resolve(platform, tenant_id, name)
    except Exception:
        return None


def test_json_subscription_feeds_mapped_points(platform: Platform, broker_url: str) -> None:
    tenant = tenants.create_tenant(platform, f"json-{secrets.token_hex(3)}")
    prefix = f"t{secrets.token_hex(4)}"
    subscription = MqttSubscription(
        broker_url=broker_url,
        topic=f"{prefix}/+/data",
        tenant=tenant["name"],
        device="cnc-{1}",
        device_type="cnc_machine_tool",
        points={"rpm": "spindle_speed", "tool.no": "tool_number"},
        timestamp_field="ts",
    )
    subscriber = JsonSubscriber(platform, [subscription], f"json-{prefix}")
    subscriber.start()
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2)
    publisher.connect("127.0.0.1", 1883)
    publisher.loop_start()
    try:
        body = {"rpm": 8000.0, "tool": {"no": 12}, "ts": int(time.time() * 1000)}
        publisher.publish(f"{prefix}/7/data", b"garbage", qos=1).wait_for_publish(5)
        publisher.publish(f"{prefix}/7/data", json.dumps(body).encode(), qos=1).wait_for_publish(5)
        principal = Principal.system(tenant["id"])
        device = eventually(lambda: _find(platform, tenant["id"], "cnc-7"), "device created")
        assert eventually(lambda: _latest(platform, principal, device.id, "tool_number") == 12, "value")
        assert _latest(platform, principal, device.id, "spindle_speed") == 8000.0
        assert subscriber.rejected == 1
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        subscriber.stop()
