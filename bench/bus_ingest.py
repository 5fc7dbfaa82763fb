"""Telemetry ingest in NATS JetStream mode against raw JetStream publishing of the same payloads.

indunet side: ``telemetry.ingest`` from 4 threads, as the HTTP thread pool calls it: each batch of
records is checked against the device model, mapped to series ids, encoded and published, and the call
returns after JetStream's acknowledgement (file-backed stream). A second figure adds the writer: the
time until one in-process writer has committed every point to PostgreSQL and acknowledged it. Peer
side: the same encoded messages published straight to a stream of the same configuration, with the
same client and concurrency, so the ratio says what validation and the platform cost over the bus.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import record, scratch_database, write_results
from indunet.bus import encode
from indunet.bus.nats import JetStreamBus
from indunet.core.config import Settings
from indunet.platform import devices, telemetry, tenants
from indunet.platform.ingest_service import BusWorkers, JetStreamSink, close_sink, sink_for
from indunet.platform.runtime import Platform, open_platform
from indunet.security import Principal

NAME = "bus_ingest"
NATS_URL = "nats://127.0.0.1:4222"
DEVICES = 20
RECORDS_PER_BATCH = 100
POINTS = ("spindle_speed", "spindle_override", "feed_override")
THREADS = 4
START_MS = 1_764_000_000_000


def _open(pg: str, data_dir: Path) -> Platform:
    settings = Settings(
        data_dir=data_dir,
        database_url=pg,
        jwt_secret="b" * 40,
        bus_url=NATS_URL,
        bus_prefix=f"bench{secrets.token_hex(3)}",
    )
    return open_platform(settings)


def _batches(names: list[str], n_batches: int) -> list[list[dict[str, Any]]]:
    return [
        [
            {
                "device": names[r % DEVICES],
                "ts": START_MS + (b * RECORDS_PER_BATCH + r) * 100,
                "values": {p: 60.0 + (b + r) % 50 for p in POINTS},
            }
            for r in range(RECORDS_PER_BATCH)
        ]
        for b in range(n_batches)
    ]


def run(quick: bool) -> list[dict[str, Any]]:
    n_batches = 60 if quick else 1000
    points = n_batches * RECORDS_PER_BATCH * len(POINTS)
    with scratch_database("indunet_bench_bus") as pg, tempfile.TemporaryDirectory() as tmp:
        platform = _open(pg, Path(tmp))
        sink = sink_for(platform)
        assert isinstance(sink, JetStreamSink)
        peer = JetStreamBus(NATS_URL, f"benchpeer{secrets.token_hex(3)}")
        peer.start()
        try:
            tenant = tenants.create_tenant(platform, f"bench-{secrets.token_hex(3)}")
            principal = Principal.system(tenant["id"])
            names = [
                devices.create_device(platform, principal, f"m{i}", "cnc_machine_tool")["name"]
                for i in range(DEVICES)
            ]
            batches = _batches(names, n_batches)
            telemetry.ingest(platform, principal, batches[0])  # warm the caches and the series ids

            started = time.perf_counter()
            with ThreadPoolExecutor(THREADS) as pool:
                accepted = sum(
                    r.accepted for r in pool.map(lambda b: telemetry.ingest(platform, principal, b), batches)
                )
            acked_s = time.perf_counter() - started
            assert accepted == points

            workers = BusWorkers(platform, writer=True, rules=False)
            workers.start()
            bus = sink.bus
            while bus.call(bus.backlog()) > 0:
                time.sleep(0.01)
            committed_s = time.perf_counter() - started
            workers.stop()

            # The peer publishes exactly what indunet published, already encoded.
            payloads = [encode(telemetry.prepare(platform, principal, b)[1]) for b in batches]
            subject = peer.names.telemetry(tenant["id"])
            started = time.perf_counter()
            with ThreadPoolExecutor(THREADS) as pool:
                list(
                    pool.map(
                        lambda p: peer.call(peer.publish([(subject, secrets.token_hex(8), p)])), payloads
                    )
                )
            raw_s = time.perf_counter() - started
        finally:
            peer.delete_stream()
            peer.close()
            sink.bus.delete_stream()
            close_sink(platform)
            platform.close()
    raw_rate = points / raw_s
    records = [
        record(
            "acknowledged ingest, NATS mode",
            points / acked_s,
            "points/s",
            "raw JetStream publish",
            raw_rate,
            "≥ 30,000 points/s",
        ),
        record(
            "ingest until committed by one writer",
            points / committed_s,
            "points/s",
            "raw JetStream publish",
            raw_rate,
            "≥ 30,000 points/s",
        ),
    ]
    write_results(NAME, records)
    return records


if __name__ == "__main__":
    for item in run(quick=True):
        print(item)
