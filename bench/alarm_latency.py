"""Alarm latency: from a threshold-crossing sample to the alarm row, in process and over MQTT.

An embedded platform (SQLite) with the rule engine running and one threshold rule (spindle_load above
90, hysteresis 5). Each round sends one crossing sample and times it until the alarm exists; the next
sample clears the alarm, and the round ends once that is written too.

1. In process: ``telemetry.ingest`` (as the HTTP and MQTT endpoints call it), then the alarms table is
   polled until the alarm is there. Peer: the same ingest with no rules, timed until the sample reads
   back from the time-series store, the floor of "stored and visible" in the same run.
2. MQTT end to end: a device (a blocking MQTT 5 client on the codec, with its own access token)
   publishes ``{"spindle_load": 99}`` at QoS 1 to indunet's MQTT endpoint (``MqttThread`` in this
   process, on a free port). The clock starts before the PUBLISH is written and stops when the rule
   engine has committed the alarm row: the engine's notifier is handed each raised alarm right after
   the transaction that inserted it, and records the time there. Peer: Mosquitto at 127.0.0.1:1883
   relaying the same message in the same run, QoS 1 publish to its delivery to a subscriber.

Target: p99 under 200 ms.
"""

from __future__ import annotations

import queue
import secrets
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import mqtt5

from _common import free_port, percentile, record, write_results
from indunet.core.config import Settings
from indunet.platform import alarms, devices, rules, telemetry, tenants
from indunet.platform.notify import Notifier
from indunet.platform.rules import Notify
from indunet.platform.runtime import Platform, open_platform
from indunet.security import Principal
from indunet.transport.mqtt import MqttThread

NAME = "alarm_latency"
MOSQUITTO_PORT = 1883
HIGH = b'{"spindle_load":99}'
LOW = b'{"spindle_load":10}'
TARGET = "< 200 ms p99"


def _platform(data_dir: Path) -> Platform:
    # The device sends hundreds of messages a second; its quota (100/s by default) is not under test.
    settings = Settings(data_dir=data_dir, mqtt_device_rate=10_000, mqtt_device_burst=10_000)
    return open_platform(settings)


def _open_alarm(platform: Platform, principal: Principal) -> bool:
    items, _ = alarms.list_alarms(platform, principal, alarms.AlarmQuery(limit=1, status="active"))
    return bool(items)


class _Watch(Notifier):
    """The engine's notifier: notes when each alarm was raised or cleared (its row committed)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: queue.Queue[tuple[str, float]] = queue.Queue()

    def send(self, notify: Notify, payload: dict[str, Any]) -> None:
        self.events.put((str(payload["event"]), time.perf_counter()))
        super().send(notify, payload)

    def next(self, expected: str) -> float:
        try:
            event, at = self.events.get(timeout=30)
        except queue.Empty:
            raise RuntimeError(f"no alarm {expected} within 30 s") from None
        if event != expected:
            raise RuntimeError(f"expected the alarm to be {expected}, it was {event}")
        return at


class _Client:
    """A blocking MQTT 5 client on the codec: one socket, whole packets in and out."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.send(mqtt5.ConnectPacket(f"bench-{secrets.token_hex(4)}", username=token, clean_start=True))
        ack = self.receive()
        if not isinstance(ack, mqtt5.ConnAckPacket) or ack.reason_code != mqtt5.ConnAckReasonCode.SUCCESS:
            raise RuntimeError(f"MQTT connection on port {port} refused: {ack}")

    def send(self, packet: mqtt5.Packet) -> None:
        self.sock.sendall(packet.write())

    def publish(self, topic: str, payload: bytes, packet_id: int) -> None:
        self.send(mqtt5.PublishPacket(topic, payload, qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=packet_id))

    def receive(self) -> mqtt5.Packet:
        while True:
            if self.buffer:
                try:
                    packet, used = mqtt5.read(memoryview(self.buffer))
                except IndexError:  # not a whole packet yet
                    pass
                else:
                    self.buffer = self.buffer[used:]
                    return packet
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError("the MQTT server closed the connection")
            self.buffer += data

    def expect_puback(self) -> None:
        ack = self.receive()
        if not isinstance(ack, mqtt5.PubAckPacket) or ack.reason_code != mqtt5.PubAckReasonCode.SUCCESS:
            raise RuntimeError(f"publish refused: {ack}")

    def close(self) -> None:
        self.sock.close()


def _over_mqtt(platform: Platform, token: str, watch: _Watch, rounds: int) -> list[float]:
    mqtt = MqttThread(platform, host="127.0.0.1", port=free_port()).start()
    device = _Client(mqtt.port, token)
    try:
        latencies: list[float] = []
        for n in range(rounds):
            start = time.perf_counter()
            device.publish("v1/devices/me/telemetry", HIGH, 2 * n % 65_534 + 1)
            device.expect_puback()  # sent once the sample is committed; the engine runs meanwhile
            latencies.append((watch.next("raised") - start) * 1000)
            device.publish("v1/devices/me/telemetry", LOW, 2 * n % 65_534 + 2)
            device.expect_puback()
            watch.next("cleared")
        return latencies
    finally:
        device.close()
        mqtt.stop()


def _mosquitto(rounds: int) -> list[float]:
    topic = f"indunet-bench/{secrets.token_hex(4)}/telemetry"
    subscriber = _Client(MOSQUITTO_PORT)
    publisher = _Client(MOSQUITTO_PORT)
    try:
        subscriber.send(mqtt5.SubscribePacket(1, [mqtt5.TopicFilter(topic, max_qos=mqtt5.QoS.AT_LEAST_ONCE)]))
        if not isinstance(subscriber.receive(), mqtt5.SubAckPacket):
            raise RuntimeError("Mosquitto did not acknowledge the subscription")
        latencies: list[float] = []
        for n in range(rounds):
            start = time.perf_counter()
            publisher.publish(topic, HIGH, n % 65_535 + 1)
            delivered = subscriber.receive()
            latencies.append((time.perf_counter() - start) * 1000)
            if not isinstance(delivered, mqtt5.PublishPacket) or delivered.payload != HIGH:
                raise RuntimeError(f"Mosquitto delivered {delivered}")
            assert delivered.packet_id is not None
            subscriber.send(mqtt5.PubAckPacket(delivered.packet_id))
            publisher.expect_puback()
        return latencies
    finally:
        subscriber.close()
        publisher.close()


def run(quick: bool) -> list[dict[str, object]]:
    rounds = 50 if quick else 500
    with tempfile.TemporaryDirectory() as tmp:
        platform = _platform(Path(tmp))
        tenant = tenants.create_tenant(platform, "bench")
        admin = Principal.system(tenant["id"], label="system:bench")
        device = devices.create_device(platform, admin, "cnc-01", "cnc_machine_tool")
        writer = Principal.system(tenant["id"], label="system:bench-writer")

        # Floor: ingest with no rules, until the sample reads back from the store.
        floor: list[float] = []
        ref = devices.resolve(platform, tenant["id"], device["id"])
        for i in range(rounds):
            start = time.perf_counter()
            telemetry.ingest(
                platform, writer, [{"device": device["id"], "values": {"spindle_load": 10 + i % 50}}]
            )
            sid = platform.series_ids[(ref.id, "spindle_load")]
            while not platform.timeseries.raw(sid, 0, 2**62, limit=1, descending=True):
                time.sleep(0.0005)
            floor.append((time.perf_counter() - start) * 1000)

        watch = _Watch()
        engine = rules.RuleEngine(platform, notifier=watch, tick_s=1.0)
        engine.start()
        try:
            rules.create_rule(
                platform,
                admin,
                rules.parse_spec(
                    {
                        "name": "overload",
                        "type": "cnc_machine_tool",
                        "condition": {
                            "kind": "threshold",
                            "point": "spindle_load",
                            "high": 90,
                            "hysteresis": 5,
                        },
                    }
                ),
            )
            latencies: list[float] = []
            for _ in range(rounds):
                start = time.perf_counter()
                telemetry.ingest(platform, writer, [{"device": device["id"], "values": {"spindle_load": 99}}])
                while not _open_alarm(platform, admin):
                    time.sleep(0.0005)
                latencies.append((time.perf_counter() - start) * 1000)
                telemetry.ingest(platform, writer, [{"device": device["id"], "values": {"spindle_load": 10}}])
                engine.wait_idle()
            while not watch.events.empty():  # the in-process rounds' events, already timed above
                watch.events.get()
            over_mqtt = _over_mqtt(platform, str(device["token"]), watch, rounds)
            _, raised = alarms.list_alarms(platform, admin, alarms.AlarmQuery(limit=1))
            if raised != 2 * rounds:
                raise RuntimeError(f"{raised} alarms raised in {2 * rounds} rounds")
        finally:
            engine.stop()
            platform.close()
    mosquitto = _mosquitto(rounds)
    records = [
        record(
            "alarm visible after triggering ingest, p99",
            percentile(latencies, 0.99),
            "ms",
            "same ingest, no rules, sample readable",
            percentile(floor, 0.99),
            TARGET,
        ),
        record(
            "alarm visible after triggering ingest, p50",
            percentile(latencies, 0.5),
            "ms",
            "same ingest, no rules, sample readable",
            percentile(floor, 0.5),
            TARGET,
        ),
        record(
            "alarm row committed after a device's MQTT QoS 1 publish of the crossing sample, p99 (embedded SQLite)",
            percentile(over_mqtt, 0.99),
            "ms",
            "Mosquitto 2: the same message, QoS 1 publish -> delivery to a subscriber",
            percentile(mosquitto, 0.99),
            TARGET,
        ),
    ]
    write_results(NAME, records)
    return records
