"""SIGKILL writer processes under load: every acknowledged point is stored, none twice.

Real processes (``indunet serve --role writer``) consume from a stream of this run's own; the test
process acts as the transport, counting the points JetStream acknowledged, while it kills writers with
SIGKILL (no chance to finish or acknowledge their batch) and starts new ones.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from tests.bus.conftest import bus_of, eventually
from tests.helpers import make_settings

from indunet.core.config import Settings
from indunet.platform import devices, telemetry, tenants
from indunet.platform.runtime import Platform
from indunet.security import Principal

pytestmark = pytest.mark.postgres

BATCHES = 300
RECORDS_PER_BATCH = 25
POINTS = ("spindle_speed", "spindle_override", "feed_override")
DEVICES = 4
KILLS = 5
START_MS = 1_764_000_000_000


@pytest.fixture
def settings(pg_url: str, nats_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        "postgresql",
        tmp_path,
        pg_url,
        bus_url=nats_url,
        bus_prefix=f"k{os.urandom(4).hex()}",
        bus_ack_wait_s=2.0,
        jwt_secret="k" * 40,
    )


def _start_writer(settings: Settings, cwd: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "INDUNET_DATABASE_URL": settings.database_url,
        "INDUNET_DATABASE_SCHEMA": settings.database_schema,
        "INDUNET_DATA_DIR": str(settings.data_dir),
        "INDUNET_JWT_SECRET": settings.jwt_secret,
        "INDUNET_BUS_URL": settings.bus_url,
        "INDUNET_BUS_PREFIX": settings.bus_prefix,
        "INDUNET_BUS_ACK_WAIT_S": str(settings.bus_ack_wait_s),
    }
    env.pop("INDUNET_CONFIG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "indunet.cli", "serve", "--role", "writer"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    # The writer prints its "running" line once its consumer is subscribed.
    assert b"writer" in process.stdout.readline()
    return process


def _rows_and_distinct(settings: Settings) -> tuple[int, int]:
    with psycopg.connect(settings.database_url) as conn:
        query = sql.SQL("SELECT count(*), count(DISTINCT (series_id, ts)) FROM {}.ts_point").format(
            sql.Identifier(settings.database_schema)
        )
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_sigkilled_writers_lose_no_acknowledged_point(
    settings: Settings, transport: Platform, tmp_path: Path
) -> None:
    tenant = tenants.create_tenant(transport, f"kill-{os.urandom(3).hex()}")
    principal = Principal.system(tenant["id"])
    names = [
        devices.create_device(transport, principal, f"m{i}", "cnc_machine_tool")["name"]
        for i in range(DEVICES)
    ]

    writers = [_start_writer(settings, tmp_path), _start_writer(settings, tmp_path)]
    acknowledged = 0
    batches_done = 0
    progress = threading.Lock()
    failure: list[BaseException] = []

    def publish() -> None:
        nonlocal acknowledged, batches_done
        try:
            for b in range(BATCHES):
                records = [
                    {
                        "device": names[r % DEVICES],
                        "ts": START_MS + (b * RECORDS_PER_BATCH + r) * 1000,
                        "values": {p: 60.0 + (b + r) % 50 for p in POINTS},
                    }
                    for r in range(RECORDS_PER_BATCH)
                ]
                result = telemetry.ingest(transport, principal, records)
                assert result.rejected == []
                with progress:
                    acknowledged += result.accepted
                    batches_done += 1
        except BaseException as exc:  # reported by the main thread
            failure.append(exc)

    publisher = threading.Thread(target=publish)
    publisher.start()
    try:
        bus = bus_of(transport).bus
        for _ in range(KILLS):
            # Kill while writers hold messages they have not acknowledged (maybe stored, maybe not).
            eventually(
                lambda: bus.call(bus.writer_state())[0] > 0 or not publisher.is_alive(),
                "the writers take messages",
            )
            for victim in writers:
                victim.send_signal(signal.SIGKILL)
            for victim in writers:
                victim.wait()
            writers = [_start_writer(settings, tmp_path), _start_writer(settings, tmp_path)]
        publisher.join()
        assert not failure, failure
        assert batches_done == BATCHES
        assert acknowledged == BATCHES * RECORDS_PER_BATCH * len(POINTS)

        eventually(lambda: bus.call(bus.backlog()) == 0, "writers acknowledge every message", 120)
        rows, distinct = _rows_and_distinct(settings)
        assert rows == acknowledged
        assert distinct == rows
        # The killed writers' messages did come again (and were stored once, as counted above).
        assert bus.call(bus.writer_state())[1] > 0
    finally:
        for writer in writers:
            writer.send_signal(signal.SIGKILL)
            writer.wait()
