"""SQLite ingest: indunet ``write()`` against a bare ``executemany`` INSERT of the same batches.

Both write into an identical table (STRICT, WITHOUT ROWID, same primary key and CHECK) in a file
with the same pragmas (WAL, synchronous=NORMAL), one transaction per batch. Each side runs twice,
alternating, on fresh files; the better run counts, which filters out disk and page-cache noise.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ingest_batches, record, write_results
from indunet.store.timeseries import Row, open_timeseries
from indunet.store.timeseries.sqlite import _SCHEMA

NAME = "ts_sqlite_ingest"
BATCH = 5_000


def _indunet(path: Path, batches: list[list[Row]]) -> float:
    with open_timeseries(path) as store:
        store.ensure_schema()
        started = time.perf_counter()
        for batch in batches:
            store.write(batch)
        return time.perf_counter() - started


def peer(path: Path, batches: list[list[Row]]) -> float:
    """Seconds for a bare executemany of ``batches`` into a fresh file (http_ingest uses it too)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(_SCHEMA)
        started = time.perf_counter()
        for batch in batches:
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO ts_point VALUES (?, ?, ?, ?)", batch)
            conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()


def run(quick: bool = False) -> list[dict[str, Any]]:
    points = 200_000 if quick else 1_000_000
    batches = ingest_batches(points, BATCH)
    ours, theirs = [], []
    with tempfile.TemporaryDirectory(prefix="indunet-bench-") as tmp:
        for round_ in range(2):
            theirs.append(peer(Path(tmp) / f"peer{round_}.db", batches))
            ours.append(_indunet(Path(tmp) / f"indunet{round_}.db", batches))
    records = [
        record(
            "sqlite ingest write()",
            points / min(ours),
            "points/s",
            "sqlite3 executemany INSERT",
            points / min(theirs),
            "≥60% of executemany",
        )
    ]
    write_results(NAME, records)
    return records


if __name__ == "__main__":
    for item in run():
        print(item)
