"""HTTP batch ingest end to end against the raw driver path of the same rows, in the same run.

indunet side: a real ``indunet serve`` process; clients POST pre-encoded JSON batches to
``/api/telemetry`` over loopback with an API key, and every point is checked against the device's
model, mapped to its series and committed before the response. Peer side: the same rows, already
as tuples, written straight through the driver (binary COPY into PostgreSQL, ``executemany`` into
SQLite) into a table of the same shape. The peer does none of the HTTP, JSON, authentication or
validation work, so the ratio says what the whole API path costs over the storage engine's floor.
"""

from __future__ import annotations

import os
import queue
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

import ts_pg_ingest
import ts_sqlite_ingest
from _common import free_port, record, scratch_database, serve, stop, write_results
from indunet.core.config import Settings
from indunet.platform import accounts, devices, tenants
from indunet.platform.models import builtin_types
from indunet.platform.runtime import open_platform
from indunet.security import Principal
from indunet.store.timeseries import Row

NAME = "http_ingest"
DEVICES = 50
RECORDS_PER_REQUEST = 500
CLIENTS = 3
START_MS = 1_764_000_000_000


def _numeric_points() -> list[tuple[str, float, float]]:
    cnc = next(t for t in builtin_types() if t.name == "cnc_machine_tool")
    return [
        (p.name, 0.0 if p.min is None else p.min, 1.0 if p.max is None else p.max)
        for p in cnc.points
        if p.data_type.value == "float"
    ]


def _workload(total_points: int) -> tuple[list[bytes], list[list[Row]]]:
    """Request bodies for indunet and the identical rows, batch for batch, for the peer."""
    rng = random.Random(7)
    points = _numeric_points()
    per_request = RECORDS_PER_REQUEST * len(points)
    bodies: list[bytes] = []
    batches: list[list[Row]] = []
    for request_no in range(max(1, total_points // per_request)):
        records = []
        rows: list[Row] = []
        for i in range(RECORDS_PER_REQUEST):
            device = (request_no * RECORDS_PER_REQUEST + i) % DEVICES
            ts_ms = START_MS + ((request_no * RECORDS_PER_REQUEST + i) // DEVICES) * 1000
            values = {name: round(rng.uniform(low, high), 3) for name, low, high in points}
            records.append({"device": f"m-{device:03d}", "ts": ts_ms, "values": values})
            rows.extend((device * 100 + k, ts_ms * 1000, v, None) for k, v in enumerate(values.values()))
        bodies.append(orjson.dumps({"records": records}))
        batches.append(rows)
    return bodies, batches


def _prepare(settings: Settings) -> str:
    """Schema, a tenant, its devices and an API key; returns the key."""
    platform = open_platform(settings)
    try:
        tenant = tenants.create_tenant(platform, "bench")
        system = Principal.system(tenant["id"])
        for i in range(DEVICES):
            devices.create_device(platform, system, f"m-{i:03d}", "cnc_machine_tool")
        return str(accounts.create_api_key(platform, system, "bench", "engineer")["key"])
    finally:
        platform.close()


def _post_all(base_url: str, key: str, bodies: list[bytes]) -> tuple[float, int]:
    work: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    for body in bodies:
        work.put(body)
    for _ in range(CLIENTS):
        work.put(None)
    accepted = [0] * CLIENTS
    errors: list[str] = []

    def client(index: int) -> None:
        headers = {"X-API-Key": key, "Content-Type": "application/json"}
        with httpx.Client(base_url=base_url, timeout=120) as http:
            while (body := work.get()) is not None:
                response = http.post("/api/telemetry", content=body, headers=headers)
                if response.status_code != 200 or response.json()["rejected_count"]:
                    errors.append(response.text[:300])
                accepted[index] += response.json().get("accepted", 0)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"ingest errors: {errors[:3]}")
    return elapsed, sum(accepted)


def _measure(settings: Settings, env: dict[str, str], bodies: list[bytes]) -> tuple[float, int]:
    key = _prepare(settings)
    port = free_port()
    process = serve(env, port)
    try:
        # One warm-up request fills the server's device, type and series caches, as in steady state.
        _post_all(f"http://127.0.0.1:{port}", key, bodies[:1])
        return _post_all(f"http://127.0.0.1:{port}", key, bodies[1:])
    finally:
        stop(process, timeout=30)


def run(quick: bool = False) -> list[dict[str, Any]]:
    total = 200_000 if quick else 1_000_000
    bodies, batches = _workload(total)
    points = sum(len(b) for b in batches[1:])
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, scratch_database("indunet_bench_http") as url:
        # The device MQTT endpoint stays closed: this bench is about HTTP (and 1883 is Mosquitto's here).
        base_env = {**os.environ, "INDUNET_LANGUAGE": "en", "INDUNET_MQTT_PORT": "0"}
        pg_settings = Settings(data_dir=Path(tmp) / "pg", database_url=url)
        pg_env = {**base_env, "INDUNET_DATA_DIR": str(pg_settings.data_dir), "INDUNET_DATABASE_URL": url}
        ours, accepted = _measure(pg_settings, pg_env, bodies)
        assert accepted == points, (accepted, points)
        theirs = min(ts_pg_ingest.peer(url, batches[1:]) for _ in range(2))
        results.append(
            record(
                "HTTP ingest into PostgreSQL",
                points / ours,
                "points/s",
                "psycopg binary COPY",
                points / theirs,
                "≥60% of COPY and ≥150,000 points/s",
            )
        )

        sqlite_settings = Settings(data_dir=Path(tmp) / "sqlite")
        sqlite_env = {**base_env, "INDUNET_DATA_DIR": str(sqlite_settings.data_dir)}
        ours, accepted = _measure(sqlite_settings, sqlite_env, bodies)
        assert accepted == points, (accepted, points)
        theirs = min(ts_sqlite_ingest.peer(Path(tmp) / f"peer{i}.db", batches[1:]) for i in range(2))
        results.append(
            record(
                "HTTP ingest into SQLite",
                points / ours,
                "points/s",
                "sqlite3 executemany INSERT",
                points / theirs,
                "≥60% of executemany",
            )
        )
    write_results(NAME, results)
    return results


if __name__ == "__main__":
    for item in run(quick="--quick" in sys.argv):
        print(item)
