"""A platform with its MQTT endpoint and HTTP API on free ports, and a gateway device to uplink as."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from tests.helpers import served

from indunet.platform import devices, tenants
from indunet.platform.runtime import Platform
from indunet.security import Principal
from indunet.transport.mqtt import MqttThread
from indunet.web.app import create_app


@dataclass
class Uplink:
    tenant_id: str
    gateway: str
    token: str
    mqtt_port: int
    http_url: str

    def principal(self) -> Principal:
        return Principal.system(self.tenant_id)


@pytest.fixture(scope="module")
def mqtt(platform: Platform) -> Iterator[MqttThread]:
    thread = MqttThread(platform, "127.0.0.1", 0).start()
    yield thread
    thread.stop()


@pytest.fixture(scope="module")
def http_url(platform: Platform) -> Iterator[str]:
    with served(create_app(platform)) as url:
        yield url


@pytest.fixture
def uplink(platform: Platform, mqtt: MqttThread, http_url: str) -> Uplink:
    """A fresh tenant with a gateway device of type ``edge_gateway``."""
    tenant = tenants.create_tenant(platform, f"edge-{secrets.token_hex(3)}")
    system = Principal.system(tenant["id"])
    token = devices.create_device(platform, system, "gw-1", "edge_gateway")["token"]
    return Uplink(tenant["id"], "gw-1", token, mqtt.port, http_url)


def stored(
    platform: Platform, tenant_id: str, device: str, point: str, start_ms: int, end_ms: int
) -> list[tuple[int, Any]]:
    """(timestamp in ms, value) of every sample of ``point`` the platform holds in [start, end]."""
    from indunet.core.errors import NotFound
    from indunet.core.timeutil import parse_timestamp
    from indunet.platform import telemetry

    try:
        ref = devices.resolve(platform, tenant_id, device)
    except NotFound:
        return []
    query = telemetry.SeriesQuery(
        points=(point,), start_us=start_ms * 1000, end_us=end_ms * 1000 + 1, limit=100_000
    )
    series = telemetry.raw(platform, Principal.system(tenant_id), ref.id, query)["series"].get(point, [])
    return [(parse_timestamp(ts) // 1000, value) for ts, value in series]


async def until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Wait (in a running loop) until ``check()`` holds; ``check`` runs in a worker thread."""
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        await asyncio.sleep(0.2)
