"""End to end: JSON devices on Mosquitto -> gateway -> the platform's MQTT gateway API, through outages.

The field side is the real Mosquitto on 127.0.0.1:1883 with paho publishing as the devices; the
uplink goes through a proxy the test cuts, so the outage is a real one for the gateway.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from tests.edge.conftest import Uplink, stored, until
from tests.edge.proxy import Proxy
from tests.helpers import server_missing

from indunet.edge import config as gateway_config
from indunet.edge.gateway import Gateway
from indunet.platform import device_api, devices
from indunet.platform.runtime import Platform
from indunet.security import Principal

BROKER = ("127.0.0.1", 1883)


@pytest.fixture(scope="module")
def broker() -> tuple[str, int]:
    try:
        socket.create_connection(BROKER, timeout=2).close()
    except OSError as exc:
        server_missing("Mosquitto", f"{BROKER[0]}:{BROKER[1]}", exc)
    return BROKER


def _config(
    tmp_path: Path, uplink: Uplink, mqtt_port: int, topic: str, **uplink_extra: Any
) -> dict[str, Any]:
    return {
        "name": uplink.gateway,
        "uplink": {"mqtt": f"mqtt://127.0.0.1:{mqtt_port}", "token": uplink.token, **uplink_extra},
        "queue": {"path": str(tmp_path / "queue.db")},
        "health_interval_s": 1,
        "devices": [
            {
                "name": "flow-7",
                "type": "flow_pressure_instrument",
                "driver": "mqtt",
                "connection": {"host": BROKER[0], "port": BROKER[1], "topic": topic, "ts_path": "ts"},
                "points": [
                    {"point": "volume_flow", "path": "q"},
                    {"point": "pressure", "path": "p.kpa", "scale": 0.01},
                    {"point": "device_health", "path": "health", "type": "int"},
                ],
            }
        ],
    }


class Field:
    """The JSON device: paho publishing to Mosquitto."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.connect(*BROKER)
        self.client.loop_start()

    def send(self, ts_ms: int, flow: float) -> None:
        body = {"ts": ts_ms, "q": flow, "p": {"kpa": 250.0}, "health": 0}
        self.client.publish(self.topic, json.dumps(body), qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_json_samples_reach_the_platform_scaled_with_their_own_timestamps_and_survive_an_outage(
    broker: tuple[str, int], platform: Platform, uplink: Uplink, tmp_path: Path
) -> None:
    topic = f"indunet-test/{secrets.token_hex(4)}/flow-7"
    field = Field(topic)
    start = int(time.time() * 1000) - 60_000

    async def scenario() -> None:
        proxy = await Proxy(uplink.mqtt_port).start()
        config = gateway_config.parse(_config(tmp_path, uplink, proxy.port, topic))
        gateway = Gateway(config)
        stop = asyncio.Event()
        running = asyncio.create_task(gateway.run(stop))
        try:
            await until(
                lambda: (
                    gateway.uplink.mode == "mqtt" and gateway.workers["flow-7"].health.state == "connected"
                ),
                20,
                "connections",
            )
            for i in range(20):
                await asyncio.to_thread(field.send, start + i, float(i))
            await until(
                lambda: (
                    len(stored(platform, uplink.tenant_id, "flow-7", "volume_flow", start, start + 99)) == 20
                ),
                20,
                "20 samples",
            )
            proxy.cut()
            await until(lambda: gateway.uplink.mode == "down", 20, "the uplink to notice the outage")
            for i in range(20, 50):
                await asyncio.to_thread(field.send, start + i, float(i))
            await until(lambda: gateway.queue.stats().depth >= 30, 20, "30 samples queued")
            assert len(stored(platform, uplink.tenant_id, "flow-7", "volume_flow", start, start + 99)) == 20
            proxy.restore()
            await until(
                lambda: (
                    len(stored(platform, uplink.tenant_id, "flow-7", "volume_flow", start, start + 99)) == 50
                ),
                60,
                "the backlog",
            )
            await until(
                lambda: bool(
                    stored(platform, uplink.tenant_id, "gw-1", "queue_depth", start, int(time.time() * 1000))
                ),
                20,
                "the gateway's own health telemetry",
            )
        finally:
            stop.set()
            await running
            await proxy.close()

    try:
        asyncio.run(scenario())
    finally:
        field.close()
    flow = stored(platform, uplink.tenant_id, "flow-7", "volume_flow", start, start + 99)
    assert flow == [(start + i, float(i)) for i in range(50)]  # every sample, in order, at its own time
    pressure = stored(platform, uplink.tenant_id, "flow-7", "pressure", start, start + 99)
    assert {value for _, value in pressure} == {2.5}  # 250 kPa scaled to bar
    ref = devices.resolve(platform, uplink.tenant_id, "flow-7")
    attributes = device_api.get_attributes(
        platform, Principal.system(uplink.tenant_id), ref.id, None, None, ("client",)
    )["client"]
    assert attributes["gateway_state"] == "connected" and attributes["gateway_driver"] == "mqtt"
    depths = [
        depth
        for _, depth in stored(
            platform, uplink.tenant_id, "gw-1", "queue_depth", start, int(time.time() * 1000)
        )
    ]
    assert all(isinstance(depth, int) and depth >= 0 for depth in depths)
