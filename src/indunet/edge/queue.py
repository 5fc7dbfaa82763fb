"""Store-and-forward: every sample the gateway read is committed to a local SQLite file before it is sent.

Theory of operation. Samples are appended in one transaction per flush (the gateway flushes every
few tens of milliseconds, so one fsync covers every device's readings of that moment). The file runs
in WAL mode with ``synchronous=FULL``: a committed flush survives a crash of the process and a power
loss. The uplink reads the oldest samples first, sends them, and deletes them only once the platform
acknowledged them, so a sample is either on the platform or still here (it arrives twice after a
crash between the platform's acknowledgement and the delete: delivery is at least once).

The file is bounded: when a flush takes it past ``max_bytes`` the oldest samples are dropped, and
every dropped sample is counted in the file itself, so the count survives restarts and is reported
in the gateway's health telemetry. Samples the platform refused for good (not a transient error) are
moved to a dead-letter table, also bounded, so an operator can see what was refused and why.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

ROW_OVERHEAD = 48
"""Bytes a row costs beyond its JSON (rowid, device, timestamp, page slack): a fair share of the file."""

DEAD_LETTER_MAX_ROWS = 100_000
AUDIT_MAX_ROWS = 100_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sample (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms INTEGER NOT NULL,
    device TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    outcome TEXT NOT NULL
);
INSERT OR IGNORE INTO counter VALUES ('bytes', 0), ('dropped', 0), ('rejected', 0), ('enqueued', 0);
"""


@dataclass(frozen=True, slots=True)
class Sample:
    device: str
    ts_ms: int
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Queued:
    id: int
    device: str
    ts_ms: int
    body: str
    """The values as JSON text, sent as they are."""


@dataclass(frozen=True, slots=True)
class QueueStats:
    depth: int
    bytes: int
    dropped: int
    rejected: int
    enqueued: int
    oldest_ts_ms: int | None


class SampleQueue:
    """Thread-safe; every method is a short transaction (call from a worker thread in async code)."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(self, samples: Sequence[Sample]) -> int:
        """Commit ``samples`` (durable on return); the number of old samples dropped to stay bounded."""
        if not samples:
            return 0
        rows = [(s.device, s.ts_ms, orjson.dumps(s.values).decode()) for s in samples]
        size = sum(len(body) + len(device) + ROW_OVERHEAD for device, _, body in rows)
        with self._lock, self._transaction():
            self._db.executemany("INSERT INTO sample (device, ts_ms, body) VALUES (?, ?, ?)", rows)
            self._add("bytes", size)
            self._add("enqueued", len(rows))
            return self._enforce_bound()

    def peek(self, limit: int, after_id: int = 0) -> list[Queued]:
        """The oldest ``limit`` samples with ids above ``after_id``, oldest first."""
        with self._lock:
            cursor = self._db.execute(
                "SELECT id, device, ts_ms, body FROM sample WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            )
            return [Queued(*row) for row in cursor]

    def ack(self, ids: Iterable[int]) -> None:
        """The platform has these samples: forget them."""
        self._remove(list(ids), None)

    def reject(self, ids: Iterable[int], reason: str) -> None:
        """The platform refused these samples for good: keep them aside, counted, out of the way."""
        self._remove(list(ids), reason[:500])

    def stats(self) -> QueueStats:
        with self._lock:
            counters = dict(self._db.execute("SELECT name, value FROM counter").fetchall())
            depth, oldest = self._db.execute("SELECT count(*), min(ts_ms) FROM sample").fetchone()
        return QueueStats(
            depth=depth,
            bytes=counters["bytes"],
            dropped=counters["dropped"],
            rejected=counters["rejected"],
            enqueued=counters["enqueued"],
            oldest_ts_ms=oldest,
        )

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._db.execute(
                "SELECT device, ts_ms, body, reason FROM dead_letter ORDER BY id DESC LIMIT ?", (limit,)
            )
            return [
                {"device": d, "ts_ms": ts, "values": json.loads(body), "reason": reason}
                for d, ts, body, reason in cursor
            ]

    def audit(self, ts_ms: int, device: str, action: str, detail: Any, outcome: str) -> None:
        """Record a command or write from the platform and what came of it (kept across restarts)."""
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT INTO audit (ts_ms, device, action, detail, outcome) VALUES (?, ?, ?, ?, ?)",
                (ts_ms, device, action, json.dumps(detail, default=str)[:4000], outcome[:500]),
            )
            self._db.execute(
                "DELETE FROM audit WHERE id <= (SELECT max(id) FROM audit) - ?", (AUDIT_MAX_ROWS,)
            )

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._db.execute(
                "SELECT ts_ms, device, action, detail, outcome FROM audit ORDER BY id DESC LIMIT ?", (limit,)
            )
            return [
                {"ts_ms": ts, "device": d, "action": a, "detail": json.loads(detail), "outcome": o}
                for ts, d, a, detail, o in cursor
            ]

    def _remove(self, ids: list[int], reason: str | None) -> None:
        if not ids:
            return
        with self._lock, self._transaction():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT device, ts_ms, body FROM sample WHERE id IN ({marks})",  # noqa: S608 - only ?s
                    chunk,
                ).fetchall()
                self._db.execute(f"DELETE FROM sample WHERE id IN ({marks})", chunk)  # noqa: S608
                self._add("bytes", -sum(len(body) + len(d) + ROW_OVERHEAD for d, _, body in rows))
                if reason is not None:
                    self._db.executemany(
                        "INSERT INTO dead_letter (device, ts_ms, body, reason) VALUES (?, ?, ?, ?)",
                        [(d, ts, body, reason) for d, ts, body in rows],
                    )
                    self._add("rejected", len(rows))
            if reason is not None:
                self._db.execute(
                    "DELETE FROM dead_letter WHERE id <= (SELECT max(id) FROM dead_letter) - ?",
                    (DEAD_LETTER_MAX_ROWS,),
                )

    def _enforce_bound(self) -> int:
        dropped = 0
        while self._counter("bytes") > self.max_bytes:
            rows = self._db.execute("SELECT id, device, body FROM sample ORDER BY id LIMIT 1000").fetchall()
            if not rows:
                break
            excess = self._counter("bytes") - self.max_bytes
            cut: list[int] = []
            freed = 0
            for row_id, device, body in rows:
                cut.append(row_id)
                freed += len(body) + len(device) + ROW_OVERHEAD
                if freed >= excess:
                    break
            self._db.execute("DELETE FROM sample WHERE id <= ?", (cut[-1],))
            self._add("bytes", -freed)
            dropped += len(cut)
        if dropped:
            self._add("dropped", dropped)
        return dropped

    def _counter(self, name: str) -> int:
        value: int = self._db.execute("SELECT value FROM counter WHERE name = ?", (name,)).fetchone()[0]
        return value

    def _add(self, name: str, delta: int) -> None:
        self._db.execute("UPDATE counter SET value = value + ? WHERE name = ?", (delta, name))

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
