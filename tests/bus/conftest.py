"""NATS fixtures: each run gets its own stream and subject prefix, deleted at the end.

Without a NATS server at 127.0.0.1:4222 the bus tests skip on a developer machine and fail with
``CI=true``.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from tests.helpers import make_settings, server_missing

from indunet.core.config import Settings
from indunet.platform.ingest_service import JetStreamSink, close_sink, sink_for
from indunet.platform.runtime import Platform, open_platform
from indunet.web.app import create_app

NATS_URL = os.environ.get("INDUNET_TEST_NATS", "nats://127.0.0.1:4222")


@pytest.fixture(scope="session")
def nats_url() -> str:
    host, port = NATS_URL.removeprefix("nats://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as exc:
        server_missing("NATS", NATS_URL, exc)
    return NATS_URL


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def bus_platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, nats_url: str
) -> Iterator[Platform]:
    """A platform in NATS mode with a stream of its own; no writer runs unless a test starts one."""
    pg = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    prefix = f"t{secrets.token_hex(4)}"
    settings = make_settings(
        request.param,
        tmp_path_factory.mktemp(f"bus-{request.param}"),
        pg,
        bus_url=nats_url,
        bus_prefix=prefix,
        bus_ack_wait_s=2.0,
    )
    platform = open_platform(settings)
    sink = sink_for(platform)
    assert isinstance(sink, JetStreamSink)
    try:
        yield platform
    finally:
        sink.bus.delete_stream()
        close_sink(platform)
        platform.close()


@pytest.fixture(scope="module")
def bus_client(bus_platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(bus_platform)) as client:
        yield client


def bus_of(platform: Platform) -> JetStreamSink:
    sink = sink_for(platform)
    assert isinstance(sink, JetStreamSink)
    return sink


def eventually(check: Callable[[], bool], what: str, limit_s: float = 60.0) -> None:
    """Wait for an asynchronous consequence (a writer's commit); a bound, not a timing assertion."""
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.05)


@pytest.fixture
def transport(settings: Settings) -> Iterator[Platform]:
    """A transport-role platform on the ``settings`` of the module (which sets ``bus_url``); its
    stream and leases are deleted afterwards."""
    platform = open_platform(settings)
    bus = bus_of(platform).bus
    try:
        yield platform
    finally:
        bus.delete_stream()
        close_sink(platform)
        platform.close()
