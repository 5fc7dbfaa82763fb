"""MQTT telemetry end to end (publish -> PUBACK after the points are durable -> queryable) from thousands
of connected devices, against Mosquitto taking the same messages from the same generator in the same run.

indunet runs as ``indunet serve`` in its own process (its own GIL; its peak RSS is read from /proc);
the load generator (``_mqtt_load``, pre-encoded packets on uvloop) holds one connection per device,
each authenticated with its own access token, and publishes ThingsBoard telemetry (3 points/message)
at QoS 1. Phases, each against a fresh server process:

1. embedded (SQLite): throughput with every device keeping one message in flight; then latency at a
   fixed offered rate (open loop, messages on the clock whatever the server does): p99 publish->PUBACK.
   Every PUBACK means committed; the stored point count is checked against the PUBACKs.
2. overload: the tenant's quota set to a tenth of the offered rate: every message must be answered,
   refusals with 0x97 quota exceeded, and the server's peak memory stays bounded.
3. NATS JetStream mode (``bus_url``), deployed as server mode is: ``indunet serve --role transport``
   (PUBACK once JetStream holds the message) and ``indunet serve --role writer`` in a second process;
   throughput until every acknowledged point is queryable (committed by the writer).

Peer: Mosquitto on 127.0.0.1:1883 taking the same messages from the same generator (QoS 1, PUBACK on
receipt, one plain subscriber receiving them), so ratios say what authentication, validation and
durability cost over a pure relay.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mqtt5
import uvloop

from _common import free_port, record, serve, stop, write_results
from _mqtt_load import Load
from indunet.bus.nats import JetStreamBus
from indunet.core.config import Settings
from indunet.platform import devices, tenants
from indunet.platform.runtime import open_platform
from indunet.security import Principal

NAME = "mqtt_ingest"
NATS_URL = "nats://127.0.0.1:4222"
RATE = 10_000
"""The offered rate of the latency and overload phases (messages/s), the issue's target."""
START_MS = 1_764_000_000_000


def _payload(device: int, base_ms: int) -> Callable[[int], bytes]:
    # Each message of a device has its own timestamp: a repeated one would overwrite, not add, points.
    def make(seq: int) -> bytes:
        return b'{"ts":%d,"values":{"spindle_speed":%d.5,"feed_override":100,"tool_number":%d}}' % (
            base_ms + seq * 10,
            1000 + seq % 500,
            device % 40,
        )

    return make


def _make_devices(data_dir: Path, count: int) -> list[str]:
    platform = open_platform(Settings(data_dir=data_dir))
    try:
        tenant = tenants.create_tenant(platform, "bench")
        system = Principal.system(tenant["id"])
        return [
            str(devices.create_device(platform, system, f"m-{i:05d}", "cnc_machine_tool")["token"])
            for i in range(count)
        ]
    finally:
        platform.close()


def _stored_points(data_dir: Path) -> int:
    platform = open_platform(Settings(data_dir=data_dir))
    try:
        return platform.timeseries.count()
    finally:
        platform.close()


def _peak_rss_mb(process: subprocess.Popen[bytes]) -> float:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class _Server:
    """``indunet serve`` with the MQTT endpoint on a free port, stopped (SIGINT) on exit."""

    def __init__(self, data_dir: Path, *args: str, **env: str) -> None:
        self.args = args
        self.mqtt_port = free_port()
        self.env = {
            **os.environ,
            "INDUNET_LANGUAGE": "en",
            "INDUNET_DATA_DIR": str(data_dir),
            "INDUNET_MQTT_PORT": str(self.mqtt_port),
            "INDUNET_MQTT_DEVICE_RATE": "1000",
            "INDUNET_MQTT_DEVICE_BURST": "1000",
            "INDUNET_MQTT_TENANT_RATE": "1e9",
            "INDUNET_MQTT_TENANT_BURST": "1e9",
            **env,
        }

    def __enter__(self) -> _Server:
        self.process = serve(self.env, free_port(), *self.args)
        return self

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def __exit__(self, *exc: object) -> None:
        assert self.process.poll() is None, "indunet serve died under load"
        stop(self.process, signal.SIGINT)


@contextmanager
def _writer(env: dict[str, str]) -> Iterator[None]:
    """``indunet serve --role writer`` beside the transport process, stopped (SIGTERM) on exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "indunet.cli", "serve", "--role", "writer"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        stop(process)


async def _drive(
    port: int, users: list[str | None], topics: list[str], base_ms: int, phases: list[Any]
) -> Load:
    """Connect one client per device, then run ``phases`` (``Load`` methods with their arguments)."""
    load = Load(port)
    load.connect_s = await load.connect(
        [
            (user, topic, _payload(i, base_ms))
            for i, (user, topic) in enumerate(zip(users, topics, strict=True))
        ]
    )
    try:
        load.results = [await method(load, *args) for method, *args in phases]
    finally:
        load.close()
    return load


async def _mosquitto(count: int, phases: list[Any]) -> Load:
    """The same generator and phases through Mosquitto, with one plain QoS 0 subscriber taking it all."""
    prefix = f"indunet-bench/{secrets.token_hex(4)}"
    reader, writer = await asyncio.open_connection("127.0.0.1", 1883)
    writer.write(mqtt5.ConnectPacket(f"s-{secrets.token_hex(4)}", clean_start=True).write())
    writer.write(
        mqtt5.SubscribePacket(1, [mqtt5.TopicFilter(f"{prefix}/#", max_qos=mqtt5.QoS.AT_MOST_ONCE)]).write()
    )

    async def subscriber() -> None:
        while await reader.read(1 << 20):
            pass

    consumer = asyncio.create_task(subscriber())
    try:
        return await _drive(1883, [None] * count, [f"{prefix}/{i}" for i in range(count)], START_MS, phases)
    finally:
        consumer.cancel()
        writer.close()


def run(quick: bool = False) -> list[dict[str, Any]]:
    count, seconds = (500, 5.0) if quick else (5000, 15.0)
    rate = RATE / 5 if quick else RATE
    telemetry = "v1/devices/me/telemetry"
    day_ms = 86_400_000
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        tokens: list[str | None] = list(_make_devices(data_dir, count))
        topics = [telemetry] * count

        with _Server(data_dir) as server:
            embedded = uvloop.run(
                _drive(
                    server.mqtt_port,
                    tokens,
                    topics,
                    START_MS,
                    [(Load.closed_loop, seconds), (Load.open_loop, rate, seconds)],
                )
            )
        closed, opened = embedded.results
        assert set(embedded.total_acked) == {0}, f"refusals without overload: {embedded.total_acked}"
        stored = _stored_points(data_dir)
        assert stored == 3 * embedded.total_acked[0], (
            f"{stored} points stored, {embedded.total_acked[0]} PUBACKs"
        )

        quota = rate / 10
        env = {"INDUNET_MQTT_TENANT_RATE": str(quota), "INDUNET_MQTT_TENANT_BURST": str(quota)}
        with _Server(data_dir, **env) as server:
            over_load = uvloop.run(
                _drive(server.mqtt_port, tokens, topics, START_MS + day_ms, [(Load.open_loop, rate, seconds)])
            )
            overload_rss = server.peak_rss_mb()
        (overload,) = over_load.results
        assert overload.answered == overload.sent, (
            f"{overload.sent - overload.answered} messages unanswered "
            f"(disconnects by reason: {dict(overload.disconnects)}, devices still connected: {over_load.alive_at_close})"
        )
        assert set(overload.acked) <= {0, 0x97}, overload.acked
        refused = overload.acked[0x97] / max(overload.answered, 1)

        prefix = f"bench{secrets.token_hex(3)}"
        try:
            bus_env = {"INDUNET_BUS_URL": NATS_URL, "INDUNET_BUS_PREFIX": prefix}
            with _Server(data_dir, "--role", "transport", **bus_env) as server, _writer(server.env):
                before = _stored_points(data_dir)
                start = time.perf_counter()
                nats = uvloop.run(
                    _drive(
                        server.mqtt_port, tokens, topics, START_MS + 2 * day_ms, [(Load.closed_loop, seconds)]
                    )
                )
                expected = before + 3 * nats.total_acked[0]
                while (
                    now_stored := _stored_points(data_dir)
                ) < expected and time.perf_counter() - start < 300:
                    time.sleep(0.2)
                # From the first publish (every device connected by then) to the last point committed.
                nats_s = time.perf_counter() - nats.started
                assert now_stored == expected, (
                    f"NATS mode: {now_stored - before} of {expected - before} points stored"
                )
        finally:
            bus = JetStreamBus(NATS_URL, prefix)
            bus.start()
            bus.delete_stream()
            bus.close()

    peer = uvloop.run(_mosquitto(count, [(Load.closed_loop, seconds), (Load.open_loop, rate, seconds)]))
    peer_closed, peer_open = peer.results
    records = [
        record(
            f"MQTT QoS 1 telemetry, {count:,} devices with 1 message in flight each, 3 points/message, "
            "PUBACK after commit (embedded SQLite)",
            closed.answered / seconds,
            "messages/s",
            "Mosquitto relay (PUBACK on receipt), same generator",
            peer_closed.answered / seconds,
            ">= 10,000 messages/s from 5,000 devices",
        ),
        record(
            f"MQTT p99 publish -> PUBACK at {rate:,.0f} messages/s offered by {count:,} devices "
            f"(embedded SQLite; p50 {opened.p(0.5) * 1000:.1f} ms)",
            opened.p(0.99) * 1000,
            "ms",
            "Mosquitto at the same offered rate",
            peer_open.p(0.99) * 1000,
            "< 50 ms",
        ),
        record(
            f"MQTT end to end in NATS JetStream mode (publish -> queryable), {count:,} devices, "
            "transport and writer processes, until every acknowledged point is committed",
            nats.total_acked[0] / nats_s,
            "messages/s",
            "Mosquitto relay (PUBACK on receipt), same generator",
            peer_closed.answered / seconds,
            ">= 10,000 messages/s",
        ),
        record(
            f"MQTT server peak memory at 10x the tenant quota ({rate:,.0f} messages/s offered, "
            f"{overload.sent:,} messages, all answered, {refused:.0%} with 0x97 quota exceeded)",
            overload_rss,
            "MB",
            "limit",
            1024,
            "< 1 GB",
        ),
    ]
    write_results(NAME, records)
    return records


if __name__ == "__main__":
    for item in run(quick="--quick" in sys.argv):
        print(item)
