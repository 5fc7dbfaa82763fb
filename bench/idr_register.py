"""Identifier registration into the embedded store (SQLite), one by one and in batches.

indunet: ``records.create_handle`` as an authenticated prefix administrator (permission check on the
prefix record, value validation, quota and search-index upkeep, one transaction each) and
``records.register_many`` with 10,000 identifiers per call (one transaction per batch). Peer, in the
same run: Python's ``sqlite3`` inserting the same rows (one per identifier, its two values in wire
form, made before the clock starts) into a table of the same shape with the same durability settings
(WAL, synchronous=NORMAL): one transaction per identifier, then one per batch of 10,000. That is
what this engine does with no work of ours.

Handle.Net's own storage (the reference implementation's BDB-JE) is documented at about 1,500
creations per second; it is not run here (Java, not installable from this project's registries).
Also reported: store size per million identifiers.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import record, write_results
from indunet.idr import records
from indunet.idr.bootstrap import ensure_prefix
from indunet.idr.model import HandleValue
from indunet.idr.store import open_store
from indunet.idr.wire import encode_values

NAME = "idr_register"
PREFIX = "88.100.1"
BATCH = 10_000


def _values(i: int) -> list[HandleValue]:
    return [
        HandleValue(1, "URL", f"https://plant.example/p/{i:08d}".encode()),
        HandleValue(2, "model", b"CP-200"),
    ]


def _indunet_single(path: Path, count: int) -> float:
    store = open_store(path)
    ensure_prefix(store, PREFIX, b"bench")
    admin = records.administrator(f"0.NA/{PREFIX}", 300)
    asked = [(f"{PREFIX}/s{i:08d}", _values(i)) for i in range(count)]  # the caller's part: not timed
    start = time.perf_counter()
    for handle, values in asked:
        records.create_handle(store, handle, values, admin)
    elapsed = time.perf_counter() - start
    store.close()
    return count / elapsed


def _indunet_batched(path: Path, count: int) -> float:
    store = open_store(path)
    ensure_prefix(store, PREFIX, b"bench")
    admin = records.administrator(f"0.NA/{PREFIX}", 300)
    asked = [(f"{PREFIX}/b{i:08d}", _values(i)) for i in range(count)]
    start = time.perf_counter()
    for first in range(0, count, BATCH):
        records.register_many(store, asked[first : first + BATCH], admin)
    elapsed = time.perf_counter() - start
    store.close()
    return count / elapsed


def _sqlite(path: Path, count: int, batch: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE h (handle TEXT PRIMARY KEY, prefix TEXT NOT NULL, created TEXT, updated TEXT,"
        " all_public INTEGER, template TEXT, record BLOB) WITHOUT ROWID"
    )
    conn.execute("CREATE INDEX h_prefix ON h (prefix)")
    now = "2026-12-07 00:00:00"
    rows = [
        (f"{PREFIX}/q{i:08d}", PREFIX, now, now, 1, None, encode_values(_values(i))) for i in range(count)
    ]
    start = time.perf_counter()
    for first in range(0, count, batch):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO h VALUES (?, ?, ?, ?, ?, ?, ?)", rows[first : first + batch])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def run(quick: bool = False) -> list[dict[str, Any]]:
    single = 5_000 if quick else 20_000
    batched = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        single_rate = _indunet_single(base / "single.db", single)
        peer_single = _sqlite(base / "peer-single.db", single, 1)
        batched_rate = _indunet_batched(base / "batched.db", batched)
        peer_batched = _sqlite(base / "peer-batched.db", batched, BATCH)
        per_million = _size(base / "batched.db") * 1_000_000 / batched / 2**20
        peer_per_million = _size(base / "peer-batched.db") * 1_000_000 / batched / 2**20
    results = [
        record(
            f"Registrations one by one as a prefix administrator ({single:,}, one transaction each, SQLite)",
            single_rate,
            "identifiers/s",
            "sqlite3: the same rows, one transaction per identifier",
            peer_single,
            ">= 20,000/s (Handle.Net storage: about 1,500/s)",
        ),
        record(
            f"Registrations in batches of {BATCH:,} ({batched:,} identifiers, SQLite)",
            batched_rate,
            "identifiers/s",
            f"sqlite3: the same rows, one transaction per {BATCH:,}",
            peer_batched,
            ">= 200,000/s",
        ),
        record(
            "Store size per million identifiers (two values each, with indexes)",
            per_million,
            "MiB",
            "sqlite3: the same rows without indunet's indexes and counters",
            peer_per_million,
            "reported",
        ),
    ]
    write_results(NAME, results)
    return results


if __name__ == "__main__":
    for item in run(quick="--quick" in sys.argv):
        print(item)
