"""Helpers shared by the benchmarks: result records and files, PostgreSQL databases, sample rows.

A record compares indunet with a peer doing the same work directly on the driver, measured in the
same run on the same machine: ``ratio`` is ``value / peer_value`` (for throughput, higher is better;
for latency, lower is).
"""

from __future__ import annotations

import json
import os
import platform
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from indunet.store.timeseries import Row

PG_SERVER = os.environ.get("INDUNET_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
RESULTS_DIR = Path(__file__).parent / "results"
SECOND_US = 1_000_000
HOUR_US = 3600 * SECOND_US


CACHE = Path.home() / ".cache" / "indunet-bench"
"""Large data sets built once and kept between runs (10 million identifiers, ledger entries)."""


def cached_file(name: str, build: Callable[[Path], None]) -> Path:
    """``CACHE/name``, built by ``build(path)`` unless a complete earlier build is there (a build cut
    short is thrown away and started again)."""
    path = CACHE / name
    done = path.with_suffix(".done")
    if done.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    for stale in CACHE.glob(path.name + "*"):
        stale.unlink()
    build(path)
    done.touch()
    return path


def machine() -> str:
    """The machine a figure was measured on: CPUs and model, memory, kernel, Python."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} × {cpu}{memory}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def record(name: str, value: float, unit: str, peer: str, peer_value: float, target: str) -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "peer": peer,
        "peer_value": round(peer_value, 3),
        "ratio": round(value / peer_value, 3) if peer_value else None,
        "target": target,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }


def write_results(name: str, records: list[dict[str, Any]]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n")
    return path


def admin_connection() -> psycopg.Connection[Any]:
    return psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True)


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A new database for one run, dropped afterwards; yields its URL."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with admin_connection() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield f"{PG_SERVER}/{name}"
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def persistent_database(name: str) -> str:
    """The URL of database ``name``, created if missing and kept between runs."""
    with admin_connection() as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{PG_SERVER}/{name}"


def ingest_batches(n_points: int, batch_size: int, n_series: int = 1000, seed: int = 1) -> list[list[Row]]:
    """Time-major rows as a plant sends them: every series once per second, numeric values."""
    rng = random.Random(seed)
    start = 1_764_000_000 * SECOND_US
    rows: list[Row] = [
        (i % n_series, start + (i // n_series) * SECOND_US, rng.uniform(0.0, 100.0), None)
        for i in range(n_points)
    ]
    return [rows[i : i + batch_size] for i in range(0, n_points, batch_size)]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(env: dict[str, str], port: int, *extra: str) -> subprocess.Popen[bytes]:
    """``indunet serve`` in its own process (its own GIL, its own memory figure), once it answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "indunet.cli", "serve", "--port", str(port), "--log-level", "warning", *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("indunet serve did not start")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 60) -> None:
    """Ask a server process to end (``sig``), and kill it if it has not within ``timeout`` seconds."""
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
