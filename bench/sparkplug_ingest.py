"""Sparkplug B DDATA end to end (publish → committed, queryable) against Mosquitto's raw delivery.

One simulated edge node publishes DDATA (10 metrics by alias each, QoS 1) to the Mosquitto at
127.0.0.1:1883. indunet side: the Sparkplug host application decodes, checks sequence and aliases,
validates each metric against the derived device type and commits it to the embedded (SQLite)
time-series store; the clock stops when the last point is committed. Peer side: a plain paho
subscriber to the same topic in the same run, which only counts the messages Mosquitto delivers.
"""

from __future__ import annotations

import queue
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from _common import record, write_results
from indunet.core.config import Settings
from indunet.platform import tenants
from indunet.platform.runtime import Platform, StoredSample, open_platform
from indunet.transport.sparkplug import SparkplugHost
from indunet.transport.sparkplug.payload import DataType, Metric, Payload, encode_payload

NAME = "sparkplug_ingest"
METRICS = 10
BROKER = "mqtt://127.0.0.1:1883"


def _platform(data_dir: Path) -> Platform:
    settings = Settings(data_dir=data_dir)
    return open_platform(settings)


def _client() -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{secrets.token_hex(4)}")
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    return client


def _births(group: str) -> list[tuple[str, bytes]]:
    nbirth = Payload(seq=0, metrics=(Metric(name="bdSeq", datatype=DataType.INT64, value=0),))
    dbirth = Payload(
        seq=1,
        metrics=tuple(
            Metric(name=f"M{i}", alias=i, datatype=DataType.DOUBLE, value=0.0) for i in range(METRICS)
        ),
    )
    return [
        (f"spBv1.0/{group}/NBIRTH/edge", encode_payload(nbirth)),
        (f"spBv1.0/{group}/DBIRTH/edge/dev", encode_payload(dbirth)),
    ]


def run(quick: bool) -> list[dict[str, Any]]:
    # Mosquitto drops what overflows a subscriber's queue (max_queued_messages, 1000 by default), for
    # the host and the peer alike; a burst larger than that measures the broker's setting, not us.
    messages = 300 if quick else 1_000
    group = f"bench{secrets.token_hex(4)}"
    ddata_topic = f"spBv1.0/{group}/DDATA/edge/dev"
    start_ms = int(time.time() * 1000) - messages
    bodies = [
        encode_payload(
            Payload(
                timestamp=start_ms + n,
                seq=(n + 2) % 256,
                metrics=tuple(
                    Metric(alias=i, value=float(n + i), datatype=DataType.DOUBLE) for i in range(METRICS)
                ),
            )
        )
        for n in range(messages)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        platform = _platform(Path(tmp))
        tenant = tenants.create_tenant(platform, f"bench-{secrets.token_hex(3)}")
        host = SparkplugHost(platform, tenant["id"], f"bench-{secrets.token_hex(3)}", BROKER, group)
        expected = messages * METRICS
        stored = [0]
        done = threading.Event()

        def count(samples: list[StoredSample]) -> None:
            stored[0] += len(samples)
            if stored[0] >= expected + METRICS:  # + the DBIRTH's initial values
                done.set()

        received: queue.Queue[float] = queue.Queue()
        peer_count = [0]

        def peer_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
            peer_count[0] += 1
            if peer_count[0] == messages:
                received.put(time.perf_counter())

        peer = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"peer-{secrets.token_hex(4)}")
        peer.on_message = peer_message
        peer.connect("127.0.0.1", 1883)
        peer.subscribe(ddata_topic, qos=1)
        peer.loop_start()
        host.start()
        edge = _client()
        try:
            for topic, body in _births(group):
                edge.publish(topic, body, qos=1).wait_for_publish(10)
            platform.telemetry_listeners.append(count)
            begin = time.perf_counter()
            infos = [edge.publish(ddata_topic, body, qos=1) for body in bodies]
            for info in infos:
                info.wait_for_publish(60)
            peer_end = received.get(timeout=300)
            if not done.wait(600):
                raise RuntimeError(f"only {stored[0]} of {expected} points stored")
            end = time.perf_counter()
        finally:
            edge.disconnect()
            edge.loop_stop()
            peer.disconnect()
            peer.loop_stop()
            host.stop()
            platform.close()
    indunet_rate = expected / (end - begin)
    peer_rate = expected / (peer_end - begin)
    records = [
        record(
            "Sparkplug DDATA metrics end to end (SQLite)",
            indunet_rate,
            "metrics/s",
            "Mosquitto raw delivery to one paho subscriber",
            peer_rate,
            "≥ 30,000 metrics/s",
        )
    ]
    write_results(NAME, records)
    return records
