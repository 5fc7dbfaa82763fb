"""Identifier resolution over UDP, TCP and HTTP with millions of identifiers stored.

indunet: ``indunet idr serve --workers 2`` (one process per core, sharing the ports by SO_REUSEPORT)
over a SQLite store holding ``count`` identifiers of two values each (10 million in a full run).
Load: the native generator ``bench/native/idr_load.c`` (built here with gcc), which asks for
identifiers chosen uniformly at random among all of them (nearly every question misses the node's
answer cache and reads the store), and a hot set of 10,000 identifiers (answered from the cache).

Peers, in the same run:
- UDP and TCP: the same generator against its own C UDP echo answering with datagrams of the node's
  answer size: this machine's limit for request-answer traffic of that shape.
- HTTP: uvicorn serving a constant JSON answer of the REST API's size from a bare ASGI app: what the
  HTTP stack itself allows with no work per request.

The generator and the servers share the machine's two cores, as they would not in production.
The store is built once (raw inserts into indunet's tables: registration speed is ``idr_register``)
and kept between runs under ``~/.cache/indunet-bench``. Memory (the node processes' own resident
memory after the runs, RssAnon: not the store's pages they read through a memory map, which are the
page cache's, shared and reclaimable) and disk per million identifiers are reported.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from _common import cached_file, free_port, record, write_results
from indunet.idr.bootstrap import ensure_prefix
from indunet.idr.model import HandleValue
from indunet.idr.store import open_store
from indunet.idr.wire import Message, ResolutionRequest, encode, encode_values

NAME = "idr_resolve"
PREFIX = "88.100.1"
HOT = 10_000
WORKERS = 2
WINDOW = 32
NATIVE = Path(__file__).resolve().parent / "native" / "idr_load.c"

HTTP_PEER = """
import sys, uvicorn
body = b"x" * int(sys.argv[2])
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def _store(count: int) -> Path:
    """A store of ``count`` identifiers ``88.100.1/p00000000``..., built once and kept."""

    def build(path: Path) -> None:
        store = open_store(path)
        ensure_prefix(store, PREFIX, b"bench")
        store.close()
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        now = "2026-12-07 00:00:00.000000"
        batch = 100_000
        for first in range(0, count, batch):
            ids = range(first, min(count, first + batch))
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO idr_handle (handle, prefix, created, updated, all_public, template, record)"
                " VALUES (?, ?, ?, ?, 1, NULL, ?)",
                [(f"{PREFIX}/p{i:08d}", PREFIX, now, now, encode_values(_values(i))) for i in ids],
            )
            conn.execute("COMMIT")
        conn.execute("INSERT OR REPLACE INTO idr_prefix_count (prefix, n) VALUES (?, ?)", (PREFIX, count))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()

    return cached_file(f"idr-v2-{count}.db", build)  # v2: one row per record


def _values(i: int) -> list[HandleValue]:
    """Two public values, as ``idr register`` would store them (timestamp fixed)."""
    return [
        HandleValue(1, "URL", f"https://plant.example/p/{i:08d}".encode(), ttl=86400, timestamp=1796601600),
        HandleValue(2, "model", b"CP-200", ttl=86400, timestamp=1796601600),
    ]


def _warm(store: Path) -> None:
    """Read the store once so every run finds it in the page cache, as a node in service would
    (otherwise the first run pays for the disk, whichever it is)."""
    for part in store.parent.glob(store.name + "*"):
        with part.open("rb") as handle:
            while handle.read(1 << 24):
                pass


def _build(tmp: Path) -> Path:
    binary = tmp / "idr_load"
    subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-o", str(binary), str(NATIVE)], check=True)
    return binary


def _load(binary: Path, *args: object) -> dict[str, Any]:
    out = subprocess.run(
        [str(binary), *map(str, args)], check=True, capture_output=True, text=True, timeout=120
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _template() -> tuple[str, int]:
    raw = encode(Message(ResolutionRequest(f"{PREFIX}/p00000000"), request_id=1))
    return raw.hex(), raw.index(b"00000000", 44)


def _rss_mb(pid: int) -> float:
    """Private resident memory (RssAnon) of a process and its children (the node's workers), in MiB."""
    pids = [pid] + [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    total_kb = 0
    for each in pids:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def _wait_http(url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def run(quick: bool = False) -> list[dict[str, Any]]:
    count = 200_000 if quick else 10_000_000
    seconds = 3 if quick else 10
    store = _store(count)
    _warm(store)
    disk_mb = sum(p.stat().st_size for p in store.parent.glob(store.name + "*")) / 2**20
    template, digits = _template()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        binary = _build(tmp)
        port, http_port = free_port(), free_port()
        node = subprocess.Popen(
            [sys.executable, "-m", "indunet", "idr", "serve", "--prefix", PREFIX, "--port", str(port),
             "--http-port", str(http_port), "--store", str(store), "--admin-secret", "bench",
             "--workers", str(WORKERS)],
            stdout=subprocess.PIPE, env={**os.environ, "INDUNET_DATA_DIR": tmp_name},
        )  # fmt: skip
        try:
            assert node.stdout is not None
            node.stdout.readline()
            _wait_http(f"http://127.0.0.1:{http_port}/api/handles/{PREFIX}/p00000001")
            idle_rss = _rss_mb(node.pid)
            udp = ("udp", "127.0.0.1", port, seconds, WINDOW, 16, template, digits)
            tcp = ("tcp", "127.0.0.1", port, seconds, WINDOW, 16, template, digits)
            results["udp"] = _load(binary, *udp, count)
            results["udp_hot"] = _load(binary, *udp, HOT)
            results["tcp"] = _load(binary, *tcp, count)
            path = f"/api/handles/{PREFIX}/p00000000"
            results["http"] = _load(
                binary, "http", "127.0.0.1", http_port, seconds, 32, path, path.index("00000000"), count
            )
            rss = _rss_mb(node.pid)
        finally:
            node.terminate()
            node.wait(30)
        echo_port = free_port()
        echo = subprocess.Popen(
            [str(binary), "echo", str(echo_port), str(results["udp"]["response_bytes"])],
            stdout=subprocess.PIPE,
        )
        try:
            assert echo.stdout is not None
            echo.stdout.readline()
            results["echo"] = _load(
                binary, "udp", "127.0.0.1", echo_port, seconds, WINDOW, 16, template, digits, count
            )
        finally:
            echo.kill()
            echo.wait(10)
        peer_port = free_port()
        body_size = max(1, results["http"]["response_bytes"] - 120)
        peer = subprocess.Popen([sys.executable, "-c", HTTP_PEER, str(peer_port), str(body_size)])
        try:
            _wait_http(f"http://127.0.0.1:{peer_port}/")
            results["http_peer"] = _load(
                binary, "http", "127.0.0.1", peer_port, seconds, 32, path, path.index("00000000"), count
            )
        finally:
            peer.terminate()
            peer.wait(10)
    shutil.rmtree(tmp, ignore_errors=True)
    echo_rate = results["echo"]["rate"]

    def line(key: str, what: str, peer: str, peer_rate: float, target: str) -> dict[str, Any]:
        r = results[key]
        p99 = r["p99_us"] / 1000 if r["p99_us"] is not None else float("nan")
        return record(
            f"{what}: {count:,} identifiers, {WORKERS} workers; p99 {p99:.2f} ms, lost {r['lost']}, errors {r['errors']}",
            r["rate"],
            "resolutions/s",
            peer,
            peer_rate,
            target,
        )

    echo_name = (
        f"C UDP echo of {results['udp']['response_bytes']}-octet answers, same generator (machine limit)"
    )
    out = [
        line("udp", "UDP, random identifiers (store reads)", echo_name, echo_rate, ">= 60,000/s, p99 < 2 ms"),
        line(
            "udp_hot",
            f"UDP, {HOT:,} hot identifiers (answer cache)",
            echo_name,
            echo_rate,
            ">= 60,000/s, p99 < 2 ms",
        ),
        line("tcp", "TCP, random identifiers, 16 connections pipelined", echo_name, echo_rate, "reported"),
        line(
            "http",
            "HTTP REST GET, random identifiers, 32 keep-alive connections",
            "uvicorn answering the same size from a bare ASGI app",
            results["http_peer"]["rate"],
            ">= 30,000/s",
        ),
        record(
            f"Private memory of the node ({WORKERS} workers, answer caches of 100,000 identifiers each full) with "
            f"{count:,} identifiers stored; the store on disk: {disk_mb * 1_000_000 / count:.0f} MiB per million",
            rss,
            "MiB",
            "the same processes before the load (caches empty)",
            idle_rss,
            "reported (memory does not grow with the store: the cache is bounded)",
        ),
    ]
    write_results(NAME, out)
    return out


if __name__ == "__main__":
    for item in run(quick="--quick" in sys.argv):
        print(item)
