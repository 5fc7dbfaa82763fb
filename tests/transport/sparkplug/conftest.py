"""The external broker (Mosquitto at 127.0.0.1:1883): skip without it, fail in CI."""

from __future__ import annotations

import os
import socket

import pytest

BROKER = ("127.0.0.1", 1883)


@pytest.fixture(scope="session")
def broker_url() -> str:
    try:
        socket.create_connection(BROKER, timeout=3).close()
    except OSError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Mosquitto is required in CI but unreachable at {BROKER}: {exc}")
        pytest.skip(f"no MQTT broker at {BROKER}: {exc}")
    return f"mqtt://{BROKER[0]}:{BROKER[1]}"
