"""The embedded time-series store: one SQLite file in WAL mode, apart from the metadata database.

Schema::

    ts_point(series_id INTEGER, ts INTEGER, num REAL, text TEXT,
             PRIMARY KEY (series_id, ts), CHECK exactly one of num/text) WITHOUT ROWID, STRICT

WITHOUT ROWID stores the rows in the primary-key b-tree itself, so the points of one series lie
together in ts order: a range query is one contiguous walk and there is no second index to keep up on
ingest. STRICT makes SQLite reject values of the wrong type instead of storing them as they come.
Writes use ``INSERT OR REPLACE``, so a point sent twice keeps its last value.

One writer connection, serialised by a lock, does all writes (SQLite admits one writer at a time
anyway); reads take a connection from a small pool, so they run concurrently with each other and,
thanks to WAL, with the writer.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import orjson

from indunet.core.errors import InvalidInput, StorageError
from indunet.store.timeseries.base import (
    DAY_US,
    Point,
    Row,
    TimeseriesStore,
    Value,
    bucket_dicts,
    check_aggregate,
    check_limit,
    check_range,
    check_series_ids,
    days_touched,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ts_point (
    series_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    num REAL,
    text TEXT,
    PRIMARY KEY (series_id, ts),
    CONSTRAINT ts_point_one_value CHECK ((num IS NULL) <> (text IS NULL))
) WITHOUT ROWID, STRICT
"""
# Keys of bus messages already stored (see TimeseriesStore.write_once).
_APPLIED_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS ts_applied (msg_id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)"
    " WITHOUT ROWID, STRICT",
    "CREATE INDEX IF NOT EXISTS ts_applied_at ON ts_applied (applied_at)",
)
_CLAIM = "INSERT OR IGNORE INTO ts_applied (msg_id, applied_at) VALUES (?, ?)"
# All rows in one statement from one JSON array: executemany releases and retakes the GIL around every
# row's sqlite3_step, and beside a busy event-loop thread each retake waits; one step waits once.
_INSERT_JSON = (
    "INSERT OR REPLACE INTO ts_point (series_id, ts, num, text)"
    " SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?)"
)
_RAW = "SELECT ts, num, text FROM ts_point WHERE series_id = ? AND ts >= ? AND ts < ? ORDER BY ts {} LIMIT ?"
_RAW_ASC, _RAW_DESC = _RAW.format("ASC"), _RAW.format("DESC")
_LATEST = "SELECT ts, num, text FROM ts_point WHERE series_id = ? ORDER BY ts DESC LIMIT 1"
# first/last come from two primary-key lookups per bucket at the bucket's min and max ts: SQLite has no
# first()/last() aggregate, and its "bare column" trick works with only one min() or max() per query.
_AGGREGATE = """
WITH b AS (
    SELECT ts / :iv * :iv AS bucket, min(num) AS mn, max(num) AS mx, avg(num) AS av, count(*) AS cnt,
           min(ts) AS t0, max(ts) AS t1
    FROM ts_point WHERE series_id = :sid AND ts >= :start AND ts < :end
    GROUP BY bucket
)
SELECT b.bucket, b.mn, b.mx, b.av, b.cnt, f.num, f.text, l.num, l.text
FROM b
JOIN ts_point f ON f.series_id = :sid AND f.ts = b.t0
JOIN ts_point l ON l.series_id = :sid AND l.ts = b.t1
ORDER BY b.bucket
"""

Synchronous = Literal["NORMAL", "FULL"]


class SqliteTimeseries(TimeseriesStore):
    """Points in one SQLite file.

    ``synchronous="NORMAL"`` (the default) makes a committed write survive a crash of the process but
    possibly not a power loss or OS crash, which may roll back the last commits; ``"FULL"`` syncs each
    commit to disk, at a cost of roughly one fsync per ``write`` call.
    """

    def __init__(self, path: str | Path, *, synchronous: Synchronous = "NORMAL", busy_timeout_ms: int = 5000):
        if synchronous not in ("NORMAL", "FULL"):
            raise InvalidInput("synchronous must be NORMAL or FULL")
        self._path = Path(path)
        self._pragmas = (
            "PRAGMA journal_mode=WAL",
            f"PRAGMA synchronous={synchronous}",
            f"PRAGMA busy_timeout={int(busy_timeout_ms)}",
        )
        self._lock = threading.Lock()  # guards _idle and _closed
        self._write_lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        with _translate():
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = self._connect()

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions, write() issues BEGIN/COMMIT itself.
        # check_same_thread=False: connections move between threads, but a lock or the pool ensures
        # only one thread uses a connection at a time.
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            for pragma in self._pragmas:
                conn.execute(pragma)
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise StorageError("the time-series store is closed")
            conn = self._idle.pop() if self._idle else None
        with _translate():
            if conn is None:
                conn = self._connect()
            try:
                yield conn
            finally:
                with self._lock:
                    if self._closed:
                        conn.close()
                    else:
                        self._idle.append(conn)

    def ensure_schema(self) -> None:
        with self._write_lock, _translate():
            self._check_open()
            self._writer.execute(_SCHEMA)
            for statement in _APPLIED_SCHEMA:
                self._writer.execute(statement)

    def write(self, rows: Sequence[Row]) -> int:
        if not rows:
            return 0
        days_touched(rows)
        with self._write_lock, _translate(bad_rows=True):
            self._check_open()
            conn = self._writer
            # IMMEDIATE takes the write lock now rather than at the first insert, so a concurrent
            # writer in another process waits (busy_timeout) instead of failing mid-transaction.
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(_INSERT_JSON, (_json_rows(rows),))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return len(rows)

    def write_once(self, batches: Sequence[tuple[str, Sequence[Row]]], applied_us: int) -> list[str]:
        for _key, rows in batches:
            days_touched(rows)
        stored: list[str] = []
        with self._write_lock, _translate(bad_rows=True):
            self._check_open()
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                for key, rows in batches:
                    if conn.execute(_CLAIM, (key, applied_us)).rowcount == 1:
                        conn.execute(_INSERT_JSON, (_json_rows(rows),))
                        stored.append(key)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return stored

    def forget_applied_before(self, cutoff_us: int) -> int:
        return self._modify("DELETE FROM ts_applied WHERE applied_at < ?", [(cutoff_us,)])

    def raw(
        self, series_id: int, start_us: int, end_us: int, limit: int = 10_000, descending: bool = False
    ) -> list[Point]:
        check_range(start_us, end_us)
        check_limit(limit)
        with self._reader() as conn:
            rows: list[Point] = conn.execute(
                _RAW_DESC if descending else _RAW_ASC, (series_id, start_us, end_us, limit)
            ).fetchall()
        return rows

    def aggregate(
        self, series_id: int, start_us: int, end_us: int, interval_us: int, funcs: Sequence[str]
    ) -> list[dict[str, Value]]:
        wanted = check_aggregate(start_us, end_us, interval_us, funcs)
        params = {"sid": series_id, "start": start_us, "end": end_us, "iv": interval_us}
        with self._reader() as conn:
            rows = conn.execute(_AGGREGATE, params).fetchall()
        return bucket_dicts(rows, wanted)

    def latest(self, series_ids: Sequence[int]) -> dict[int, Point]:
        check_series_ids(series_ids)
        result: dict[int, Point] = {}
        with self._reader() as conn:
            # One primary-key probe per series; in-process, that is a few microseconds each.
            for series_id in series_ids:
                row = conn.execute(_LATEST, (series_id,)).fetchone()
                if row is not None:
                    result[series_id] = row
        return result

    def delete_before(self, series_ids: Sequence[int], cutoff_us: int) -> int:
        check_series_ids(series_ids)
        sql = "DELETE FROM ts_point WHERE series_id = ? AND ts < ?"
        return self._modify(sql, [(series_id, cutoff_us) for series_id in series_ids])

    def drop_partitions_before(self, cutoff_us: int) -> int:
        # No partitions here: delete the rows PostgreSQL would drop with its day partitions, so that
        # retention behaves the same on both backends. The table has no ts index (it would slow every
        # insert), so this is a full scan; it runs rarely, from a maintenance job.
        self._modify("DELETE FROM ts_point WHERE ts < ?", [(cutoff_us // DAY_US * DAY_US,)])
        return 0

    def _modify(self, sql: str, params: list[tuple[int, ...]]) -> int:
        with self._write_lock, _translate():
            self._check_open()
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = conn.executemany(sql, params)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return cursor.rowcount

    def count(self, series_id: int | None = None) -> int:
        with self._reader() as conn:
            if series_id is None:
                row = conn.execute("SELECT count(*) FROM ts_point").fetchone()
            else:
                row = conn.execute(
                    "SELECT count(*) FROM ts_point WHERE series_id = ?", (series_id,)
                ).fetchone()
        return int(row[0])

    def _scan(self, series_id: int, start_us: int, end_us: int) -> Iterator[list[Point]]:
        with self._reader() as conn:
            # SQLite steps the statement lazily, so fetchmany streams without materialising the range.
            cursor = conn.execute(
                "SELECT ts, num, text FROM ts_point WHERE series_id = ? AND ts >= ? AND ts < ? ORDER BY ts",
                (series_id, start_us, end_us),
            )
            while chunk := cursor.fetchmany(self.scan_chunk_rows):
                yield chunk

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            idle, self._idle = self._idle, []
        with self._write_lock:
            self._writer.close()
        for conn in idle:
            conn.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the time-series store is closed")


@contextmanager
def _translate(*, bad_rows: bool = False) -> Iterator[None]:
    """sqlite3 errors to indunet's: constraint and binding failures while writing are the caller's."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise InvalidInput(f"point rejected by the time-series schema: {exc}") from exc
    except (sqlite3.ProgrammingError, sqlite3.InterfaceError, OverflowError) as exc:
        if not bad_rows:
            raise StorageError(f"time-series database failed: {exc}") from exc
        raise InvalidInput(f"rows must be (series_id, ts_us, num, text): {exc}") from exc
    except (sqlite3.Error, OSError) as exc:
        raise StorageError(f"time-series database failed: {exc}") from exc


def _json_rows(rows: Sequence[Row]) -> bytes:
    try:
        return orjson.dumps(rows)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise InvalidInput(f"rows are not storable: {exc}") from exc
