"""The external broker (Mosquitto at 127.0.0.1:1883): skip without it, fail in CI."""

from __future__ import annotations

import socket

import pytest
from tests.helpers import server_missing

BROKER = ("127.0.0.1", 1883)


@pytest.fixture(scope="session")
def broker_url() -> str:
    try:
        socket.create_connection(BROKER, timeout=3).close()
    except OSError as exc:
        server_missing("Mosquitto", f"{BROKER[0]}:{BROKER[1]}", exc)
    return f"mqtt://{BROKER[0]}:{BROKER[1]}"
