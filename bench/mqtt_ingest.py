"""MQTT telemetry end to end (publish -> PUBACK after commit -> queryable) against Mosquitto's raw
delivery of the same messages to one plain subscriber, in the same run.

indunet side: the device MQTT endpoint in this process (embedded SQLite), N devices each connected
with its own token, publishing ThingsBoard telemetry at QoS 1 with a window of unacknowledged messages;
the clock stops when every PUBACK is in (each one sent only after the points were committed) and the
stored point count is checked. Peer side: the same payloads at QoS 1 through Mosquitto on
127.0.0.1:1883 to one subscriber, the clock stopping when the subscriber has received them all. The peer
stores nothing and checks nothing, so the ratio is what durability and validation cost over pure relay.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import mqtt5

from _common import record, write_results
from indunet.core.config import Settings
from indunet.platform import devices, telemetry, tenants
from indunet.platform.runtime import open_platform
from indunet.security import Principal
from indunet.transport.mqtt import MqttThread

NAME = "mqtt_ingest"
WINDOW = 50


async def _read(reader: asyncio.StreamReader, buffer: bytearray) -> mqtt5.Packet:
    while True:
        if buffer:
            try:
                packet, used = mqtt5.read(memoryview(bytes(buffer)))
            except IndexError:
                pass
            else:
                del buffer[:used]
                return packet
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("closed")
        buffer += data


async def _publisher(port: int, username: str | None, topic: str, payloads: list[bytes]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    buffer = bytearray()
    writer.write(
        mqtt5.ConnectPacket(f"b-{secrets.token_hex(4)}", username=username, clean_start=True).write()
    )
    ack = await _read(reader, buffer)
    assert isinstance(ack, mqtt5.ConnAckPacket) and ack.reason_code == 0, ack
    window = min(WINDOW, ack.receive_max)
    sent = acked = 0
    while acked < len(payloads):
        while sent < len(payloads) and sent - acked < window:
            packet_id = sent % 65535 + 1
            writer.write(
                mqtt5.PublishPacket(
                    topic, payloads[sent], qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=packet_id
                ).write()
            )
            sent += 1
        await writer.drain()
        reply = await _read(reader, buffer)
        if isinstance(reply, mqtt5.PubAckPacket):
            assert reply.reason_code == 0, reply
            acked += 1
    writer.write(mqtt5.DisconnectPacket().write())
    writer.close()


async def _publish_all(port: int, jobs: list[tuple[str | None, str, list[bytes]]]) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(_publisher(port, user, topic, payloads) for user, topic, payloads in jobs))
    return time.perf_counter() - start


async def _mosquitto(jobs: list[tuple[str | None, str, list[bytes]]], total: int) -> float:
    prefix = f"indunet-bench/{secrets.token_hex(4)}"
    reader, writer = await asyncio.open_connection("127.0.0.1", 1883)
    buffer = bytearray()
    writer.write(mqtt5.ConnectPacket(f"s-{secrets.token_hex(4)}", clean_start=True).write())
    await _read(reader, buffer)
    writer.write(
        mqtt5.SubscribePacket(1, [mqtt5.TopicFilter(f"{prefix}/#", max_qos=mqtt5.QoS.AT_MOST_ONCE)]).write()
    )
    await _read(reader, buffer)

    got = 0
    last = start = time.perf_counter()

    async def receive() -> None:
        nonlocal got, last
        while got < total:
            try:
                packet = await asyncio.wait_for(_read(reader, buffer), _PEER_IDLE_S)
            except TimeoutError:
                # Mosquitto drops what overflows a subscriber's queue (max_queued_messages); count
                # what it delivered rather than wait for messages that will never come.
                return
            if isinstance(packet, mqtt5.PublishPacket):
                got += 1
                last = time.perf_counter()
                if packet.packet_id is not None:
                    writer.write(mqtt5.PubAckPacket(packet.packet_id).write())

    peer_jobs = [(None, f"{prefix}/{index}", payloads) for index, (_, _, payloads) in enumerate(jobs)]
    await asyncio.gather(receive(), *(_publisher(1883, u, t, p) for u, t, p in peer_jobs))
    writer.close()
    return (last - start) / max(got, 1) * total


_PEER_IDLE_S = 5.0


def run(quick: bool = False) -> list[dict[str, Any]]:
    device_count, per_device = (20, 50) if quick else (200, 250)
    total = device_count * per_device
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            mqtt_device_rate=1e9,
            mqtt_device_burst=1e9,
            mqtt_tenant_rate=1e9,
            mqtt_tenant_burst=1e9,
        )
        platform = open_platform(settings)
        tenant = tenants.create_tenant(platform, "bench")
        system = Principal.system(tenant["id"])
        made = [
            devices.create_device(platform, system, f"m-{i:04d}", "cnc_machine_tool")
            for i in range(device_count)
        ]
        base_ms = int(time.time() * 1000) - total
        jobs: list[tuple[str | None, str, list[bytes]]] = [
            (
                device["token"],
                "v1/devices/me/telemetry",
                [
                    json.dumps(
                        {
                            "ts": base_ms + n,
                            "values": {"spindle_speed": 1000.0 + n, "feed_override": 100.0, "tool_number": 3},
                        }
                    ).encode()
                    for n in range(per_device)
                ],
            )
            for device in made
        ]
        server = MqttThread(platform, "127.0.0.1", 0).start()
        try:
            ours = asyncio.run(_publish_all(server.port, jobs))
        finally:
            server.stop()
        query = telemetry.SeriesQuery(points=("spindle_speed",), start_us=0, limit=per_device + 1)
        stored = telemetry.raw(platform, system, made[-1]["id"], query)["series"]["spindle_speed"]
        assert len(stored) == per_device, f"{len(stored)} of {per_device} messages queryable"
        platform.close()
    peer = asyncio.run(_mosquitto(jobs, total))
    records = [
        record(
            f"MQTT QoS 1 telemetry, {device_count} devices, 3 points/message (embedded SQLite)",
            total / ours,
            "messages/s",
            "Mosquitto relay (QoS 1 in, QoS 0 out) to one subscriber",
            total / peer,
            ">= 10,000 messages/s from 5,000 devices",
        )
    ]
    write_results(NAME, records)
    return records


if __name__ == "__main__":
    for item in run(quick=True):
        print(item)
