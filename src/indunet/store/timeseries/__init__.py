"""The time-series store: points (series_id, ts_us, num | text) in SQLite or PostgreSQL.

``open_timeseries`` picks the backend by URL; both implement ``TimeseriesStore`` (see ``base``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from indunet.core.errors import InvalidInput
from indunet.store.timeseries.base import (
    AGGREGATES,
    MAX_BUCKETS,
    MAX_SERIES_PER_CALL,
    ExportFormat,
    Point,
    Row,
    TimeseriesStore,
    Value,
)

__all__ = [
    "AGGREGATES",
    "MAX_BUCKETS",
    "MAX_SERIES_PER_CALL",
    "ExportFormat",
    "Point",
    "Row",
    "TimeseriesStore",
    "Value",
    "open_timeseries",
]


def open_timeseries(url_or_path: str | Path, **options: Any) -> TimeseriesStore:
    """A store for ``postgresql://...`` (PostgreSQL), ``sqlite:///path`` or a plain file path (SQLite).

    ``options`` go to the backend: for PostgreSQL ``schema``, ``min_size``, ``max_size``, ``timeout``;
    for SQLite ``synchronous`` and ``busy_timeout_ms``. The schema is not created: call
    ``ensure_schema()``.
    """
    # Imported on demand so that an embedded deployment never loads psycopg, nor a server one sqlite3.
    target = str(url_or_path)
    if target.startswith(("postgresql://", "postgres://")):
        from indunet.store.timeseries.postgres import PostgresTimeseries

        return PostgresTimeseries(target, **options)
    if target.startswith("sqlite:///"):
        target = target.removeprefix("sqlite:///")
    elif "://" in target:
        raise InvalidInput(f"unsupported time-series URL {target!r}: use postgresql://, sqlite:/// or a path")
    if not target:
        raise InvalidInput("empty time-series path")
    from indunet.store.timeseries.sqlite import SqliteTimeseries

    return SqliteTimeseries(target, **options)
