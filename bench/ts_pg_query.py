"""PostgreSQL query latency: ``raw(series, one hour)`` with 10 million points stored.

Data: 1,000 series × 10,000 points at 1 s spacing (``quick``: 100 series × 10,000 points), starting at
22:00 UTC so the range crosses a day partition boundary, loaded time-major as a plant would send it.
It lives in the database ``indunet_bench`` (one schema per size) and is reused by later runs. After
loading, VACUUM ANALYZE does what autovacuum does on a production server (this one runs without it).

Each sample is one random series and a random one-hour window (3,600 points). indunet's ``raw`` and
the same SQL run directly on a psycopg connection (prepared, binary results, like ``raw``) alternate, so both see
the same cache state.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import psycopg

from _common import HOUR_US, SECOND_US, percentile, persistent_database, record, write_results
from indunet.store.timeseries import open_timeseries

NAME = "ts_pg_query"
DATABASE = "indunet_bench"
POINTS_PER_SERIES = 10_000
START_US = 1_764_021_600 * SECOND_US  # 2025-11-24T22:00:00Z
SAMPLES = 5_000
WARMUP = 200
COPY_ROWS_PER_TRANSACTION = 1_000_000


def _load(url: str, schema: str, n_series: int) -> None:
    """Fill ``schema`` unless an earlier run did; marks completion in ``bench_loaded``."""
    with psycopg.connect(url, autocommit=True) as conn:
        done = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'bench_loaded'",
            (schema,),
        ).fetchone()
        if done:
            return
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    last_us = START_US + (POINTS_PER_SERIES - 1) * SECOND_US
    with open_timeseries(url, schema=schema) as store:
        store.ensure_schema()
        # indunet creates the day partitions for the first and last second; raw COPY loads the rest.
        store.write([(s, ts, 0.0, None) for ts in (START_US, last_us) for s in range(n_series)])
    copy_sql = f'COPY "{schema}".ts_point (series_id, ts, num, text) FROM STDIN (FORMAT BINARY)'
    with psycopg.connect(url, autocommit=True) as conn:
        for chunk in _time_major_rows(n_series, first_step=1, end_step=POINTS_PER_SERIES - 1):
            with conn.transaction(), conn.cursor() as cursor, cursor.copy(copy_sql) as copy:
                copy.set_types(["int8", "int8", "float8", "text"])
                for row in chunk:
                    copy.write_row(row)
        conn.execute(f'VACUUM ANALYZE "{schema}".ts_point')
        conn.execute(f'CREATE TABLE "{schema}".bench_loaded ()')


def _time_major_rows(
    n_series: int, first_step: int, end_step: int
) -> Iterator[Iterator[tuple[int, int, float, None]]]:
    """Chunks of about COPY_ROWS_PER_TRANSACTION rows: every series once per second, in time order."""
    rng = random.Random(7)
    steps_per_chunk = max(1, COPY_ROWS_PER_TRANSACTION // n_series)
    for chunk_start in range(first_step, end_step, steps_per_chunk):
        steps = range(chunk_start, min(chunk_start + steps_per_chunk, end_step))
        yield (
            (series, START_US + step * SECOND_US, rng.uniform(0.0, 100.0), None)
            for step in steps
            for series in range(n_series)
        )


def run(quick: bool = False) -> list[dict[str, Any]]:
    n_series = 100 if quick else 1_000
    schema = f"bench_{n_series * POINTS_PER_SERIES // 1_000_000}m"
    url = persistent_database(DATABASE)
    _load(url, schema, n_series)
    rng = random.Random(11)
    span_us = (POINTS_PER_SERIES - 1) * SECOND_US - HOUR_US
    sql = (
        f'SELECT ts, num, text FROM "{schema}".ts_point'
        " WHERE series_id = %s AND ts >= %s AND ts < %s ORDER BY ts LIMIT %s"
    )
    ours: list[float] = []
    theirs: list[float] = []
    with open_timeseries(url, schema=schema) as store, psycopg.connect(url, autocommit=True) as peer:
        for i in range(WARMUP + SAMPLES):
            series = rng.randrange(n_series)
            start = START_US + rng.randrange(span_us // SECOND_US) * SECOND_US
            t0 = time.perf_counter()
            points = store.raw(series, start, start + HOUR_US, limit=10_000)
            t1 = time.perf_counter()
            rows = (
                peer.cursor(binary=True)
                .execute(sql, (series, start, start + HOUR_US, 10_000), prepare=True)
                .fetchall()
            )
            t2 = time.perf_counter()
            assert len(points) == len(rows) == 3_600
            if i >= WARMUP:
                ours.append((t1 - t0) * 1000)
                theirs.append((t2 - t1) * 1000)
    label = f"{n_series * POINTS_PER_SERIES:,} points stored"
    records = [
        record(
            f"postgres raw() one hour p95, {label}",
            percentile(ours, 0.95),
            "ms",
            "same SQL via psycopg",
            percentile(theirs, 0.95),
            "p95 < 5 ms",
        ),
        record(
            f"postgres raw() one hour p50, {label}",
            percentile(ours, 0.50),
            "ms",
            "same SQL via psycopg",
            percentile(theirs, 0.50),
            "none (context for p95)",
        ),
    ]
    write_results(NAME, records)
    return records


if __name__ == "__main__":
    import sys

    for item in run(quick="--quick" in sys.argv):
        print(item)
