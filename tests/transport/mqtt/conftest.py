"""An MQTT endpoint on a free port for each test module, and a raw MQTT 5 client connected to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.transport.mqtt.raw_client import RawClient

from indunet.platform.runtime import Platform
from indunet.transport.mqtt import MqttThread


@pytest.fixture(scope="module")
def mqtt(platform: Platform) -> Iterator[MqttThread]:
    thread = MqttThread(platform, "127.0.0.1", 0).start()
    yield thread
    thread.stop()


@pytest.fixture
def raw(mqtt: MqttThread) -> Iterator[RawClient]:
    client = RawClient(mqtt.port)
    yield client
    client.close()
