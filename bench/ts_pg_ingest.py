"""PostgreSQL ingest: indunet ``write()`` against a bare binary COPY of the same batches.

The peer table has the same columns, CHECK and index as ``ts_point`` but is a plain table; indunet
writes into the day-partitioned one and creates its partitions on demand. One transaction per batch
on both sides. Each side runs three times, alternating, each time on a new table after a
CHECKPOINT, so that neither pays for the other's dirty pages; the best run counts. Without the
CHECKPOINT the numbers swing by ±40% with whoever happens to hit the checkpointer.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from _common import ingest_batches, record, scratch_database, write_results
from indunet.store.timeseries import Row, open_timeseries

NAME = "ts_pg_ingest"
BATCH = 5_000
TARGET_POINTS_PER_S = 150_000

_PEER_TABLE = (
    "CREATE TABLE peer_point (series_id bigint NOT NULL, ts bigint NOT NULL, num double precision, text text,"
    " CONSTRAINT peer_point_one_value CHECK ((num IS NULL) <> (text IS NULL)))",
    "CREATE INDEX peer_point_series_ts ON peer_point (series_id, ts) INCLUDE (num, text)",
)


def _indunet(url: str, batches: list[list[Row]]) -> float:
    with open_timeseries(url, schema="bench") as store:
        store.ensure_schema()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
        started = time.perf_counter()
        for batch in batches:
            store.write(batch)
        elapsed = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA bench CASCADE")
    return elapsed


def peer(url: str, batches: list[list[Row]]) -> float:
    """Seconds for a bare binary COPY of ``batches`` into a fresh plain table (http_ingest uses it too)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in _PEER_TABLE:
            conn.execute(statement)
        conn.execute("CHECKPOINT")
        started = time.perf_counter()
        for batch in batches:
            with (
                conn.transaction(),
                conn.cursor() as cursor,
                cursor.copy("COPY peer_point (series_id, ts, num, text) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.set_types(["int8", "int8", "float8", "text"])
                for row in batch:
                    copy.write_row(row)
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE peer_point")
    return elapsed


def run(quick: bool = False) -> list[dict[str, Any]]:
    points = 200_000 if quick else 1_000_000
    batches = ingest_batches(points, BATCH)
    ours, theirs = [], []
    with scratch_database("indunet_bench_ingest") as url:
        for _ in range(3):
            theirs.append(peer(url, batches))
            ours.append(_indunet(url, batches))
    records = [
        record(
            "postgres ingest write()",
            points / min(ours),
            "points/s",
            "psycopg binary COPY",
            points / min(theirs),
            f"≥60% of COPY and ≥{TARGET_POINTS_PER_S:,} points/s",
        )
    ]
    write_results(NAME, records)
    return records


if __name__ == "__main__":
    for item in run():
        print(item)
