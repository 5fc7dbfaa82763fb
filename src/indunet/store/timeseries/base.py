"""The time-series store contract, shared by the SQLite and PostgreSQL implementations.

A point is a row ``(series_id, ts_us, num, text)``: exactly one of ``num`` (numbers and booleans) and
``text`` (strings) is set. Series ids are allocated by the caller (the platform maps tenant, device and
point to a series id in its metadata database); the store only keeps rows. Timestamps are int
microseconds since the epoch, UTC (``indunet.core.timeutil``). Ranges are half-open: ``start_us`` is
included, ``end_us`` is not.

Implementations translate their driver's exceptions once, at this boundary: database failures raise
``StorageError``, bad arguments ``InvalidInput``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Literal, Self

from indunet.core.errors import InvalidInput
from indunet.core.timeutil import MAX_TS_US, MIN_TS_US

Row = tuple[int, int, float | None, str | None]
"""One point as written: (series_id, ts_us, num, text)."""

Point = tuple[int, float | None, str | None]
"""One point as read back for a known series: (ts_us, num, text)."""

ExportFormat = Literal["csv", "parquet"]
Value = int | float | str | None

AggregateRow = tuple[
    int, float | None, float | None, float | None, int, float | None, str | None, float | None, str | None
]
"""What a backend's aggregate query returns per bucket: (bucket_start, min, max, avg, count,
first num, first text, last num, last text)."""

DAY_US = 86_400_000_000
AGGREGATES = ("min", "max", "avg", "count", "first", "last")
MAX_BUCKETS = 10_000
MAX_RAW_LIMIT = 1_000_000
MAX_SERIES_PER_CALL = 10_000


class TimeseriesStore(abc.ABC):
    """Stores and queries points. Safe to share between threads; use one instance per process."""

    # Rows fetched per round trip when streaming exports: big enough to amortise the round trip,
    # small enough that an export of years of data stays at a few MB of memory.
    scan_chunk_rows: int = 50_000

    @abc.abstractmethod
    def ensure_schema(self) -> None:
        """Create tables and indexes if missing. Idempotent; call once at start-up."""

    @abc.abstractmethod
    def write(self, rows: Sequence[Row]) -> int:
        """Store ``rows`` in one transaction and return how many were written.

        The rows are committed when this returns (durable in the sense of the backend's settings), or
        none of them are. A row with both or neither of num/text set, a timestamp outside
        ``timeutil.MIN_TS_US..MAX_TS_US`` or a value of the wrong type raises ``InvalidInput`` and
        writes nothing. What happens to a second row with the same (series_id, ts_us) is backend
        specific: SQLite replaces the first, PostgreSQL keeps both (see the module docs there).
        """

    @abc.abstractmethod
    def write_once(self, batches: Sequence[tuple[str, Sequence[Row]]], applied_us: int) -> list[str]:
        """Store each batch whose key was never stored before, all in one transaction; return those keys.

        A batch is (key, rows), the key a bus message id. The key is recorded in the ``ts_applied``
        table in the same transaction as its rows, so a message delivered twice (the bus delivers at
        least once; a writer may die between commit and acknowledgement) is stored once, whichever
        process wrote it first. Keys repeated within the call count once. Row errors are as for
        ``write`` and store nothing.
        """

    @abc.abstractmethod
    def forget_applied_before(self, cutoff_us: int) -> int:
        """Delete the keys ``write_once`` recorded before ``cutoff_us``; return how many."""

    @abc.abstractmethod
    def raw(
        self, series_id: int, start_us: int, end_us: int, limit: int = 10_000, descending: bool = False
    ) -> list[Point]:
        """Points of one series with ``start_us <= ts < end_us``, ordered by ts, at most ``limit``.

        ``descending=True`` returns the newest first, so ``limit`` then keeps the newest points.
        """

    @abc.abstractmethod
    def aggregate(
        self, series_id: int, start_us: int, end_us: int, interval_us: int, funcs: Sequence[str]
    ) -> list[dict[str, Value]]:
        """Per-bucket aggregates of one series, computed in the database.

        Buckets start at epoch multiples of ``interval_us``; the first is the one holding ``start_us``,
        and only points in ``start_us <= ts < end_us`` count. Each result is a dict with ``"ts"`` (the
        bucket start) and one key per requested function, ordered by ts; buckets without points are
        left out. ``min``, ``max`` and ``avg`` consider numeric values only (None if the bucket holds
        only text); ``count`` counts all points; ``first`` and ``last`` are the value (num, else text) of
        the point with the lowest and highest ts. More than ``MAX_BUCKETS`` buckets raise InvalidInput.
        """

    @abc.abstractmethod
    def latest(self, series_ids: Sequence[int]) -> dict[int, Point]:
        """The point with the highest ts of each series; series without points are absent."""

    @abc.abstractmethod
    def delete_before(self, series_ids: Sequence[int], cutoff_us: int) -> int:
        """Delete the points of these series with ts < cutoff_us; return how many were deleted."""

    @abc.abstractmethod
    def drop_partitions_before(self, cutoff_us: int) -> int:
        """Remove all points (of every series) in UTC days that end at or before ``cutoff_us``.

        Returns the number of day partitions dropped; backends without partitions delete the same
        rows and return 0.
        """

    @abc.abstractmethod
    def count(self, series_id: int | None = None) -> int:
        """Exact number of points stored, of one series or of all."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections. Idempotent; any later call raises StorageError."""

    @abc.abstractmethod
    def _scan(self, series_id: int, start_us: int, end_us: int) -> Iterator[list[Point]]:
        """Points of one series in the range, ordered by ts, in chunks of at most scan_chunk_rows."""

    def export(
        self, series: Mapping[int, str], start_us: int, end_us: int, fmt: ExportFormat
    ) -> Iterator[bytes]:
        """Stream the points of ``series`` (series_id → label) in the range as CSV or Parquet bytes.

        CSV has the header ``series,ts,value`` with the label, an RFC 3339 time and the value;
        Parquet has the columns label (string), ts (timestamp[us, UTC]), num (float64) and text
        (string), written in row groups. Series come in the mapping's order, points by ts. Memory
        stays bounded by one chunk. The iterator holds a database connection until it is exhausted or
        closed, so consume it promptly (or close it).
        """
        # Imported here: exports are rare, and the module pulls in pyarrow, which costs ~100 ms.
        from indunet.store.timeseries import export

        check_range(start_us, end_us)
        check_series_ids(list(series))
        if fmt == "csv":
            return export.to_csv(self._labelled_chunks(series, start_us, end_us))
        if fmt == "parquet":
            return export.to_parquet(self._labelled_chunks(series, start_us, end_us))
        raise InvalidInput(f"unknown export format {fmt!r} (use csv or parquet)")

    def _labelled_chunks(
        self, series: Mapping[int, str], start_us: int, end_us: int
    ) -> Iterator[tuple[str, list[Point]]]:
        for series_id, label in series.items():
            for chunk in self._scan(series_id, start_us, end_us):
                yield label, chunk

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def days_touched(rows: Sequence[Row]) -> set[int]:
    """The UTC day numbers (ts // DAY_US) the rows fall on; InvalidInput if a ts is out of range.

    One set comprehension is the only per-row Python work on the ingest path besides the driver's
    own: value checks are left to the database (a CHECK constraint and typed columns), whose
    violations the backends translate to InvalidInput.
    """
    try:
        days = {row[1] // DAY_US for row in rows}
    except (TypeError, IndexError) as exc:
        raise InvalidInput(f"rows must be (series_id, ts_us, num, text) with int ts_us: {exc}") from exc
    for day in days:  # one per UTC day in the batch, so this loop is short
        if type(day) is not int:
            raise InvalidInput("ts_us must be an int (microseconds since the epoch)")
        if not MIN_TS_US // DAY_US <= day <= MAX_TS_US // DAY_US:
            raise InvalidInput("timestamp outside 1970..2200", key="error.bad_timestamp")
    return days


def check_range(start_us: int, end_us: int) -> None:
    if end_us <= start_us:
        raise InvalidInput("end must be after start")


def check_limit(limit: int) -> None:
    if not 0 < limit <= MAX_RAW_LIMIT:
        raise InvalidInput(f"limit must be 1..{MAX_RAW_LIMIT}")


def check_series_ids(series_ids: Sequence[int]) -> None:
    if len(series_ids) > MAX_SERIES_PER_CALL:
        raise InvalidInput(f"at most {MAX_SERIES_PER_CALL} series per call")


def check_aggregate(start_us: int, end_us: int, interval_us: int, funcs: Sequence[str]) -> list[str]:
    """Validate an aggregate request; return the functions without duplicates, in request order."""
    check_range(start_us, end_us)
    if interval_us <= 0:
        raise InvalidInput("interval must be positive")
    wanted = list(dict.fromkeys(funcs))
    unknown = [f for f in wanted if f not in AGGREGATES]
    if unknown or not wanted:
        raise InvalidInput(f"aggregate functions must be some of {', '.join(AGGREGATES)}")
    buckets = (end_us - 1) // interval_us - start_us // interval_us + 1
    if buckets > MAX_BUCKETS:
        raise InvalidInput(f"{buckets} buckets requested, at most {MAX_BUCKETS}: use a longer interval")
    return wanted


def bucket_dicts(rows: Iterable[AggregateRow], funcs: Sequence[str]) -> list[dict[str, Value]]:
    """Rows of a backend's aggregate query to the dicts ``aggregate`` returns."""
    result: list[dict[str, Value]] = []
    for bucket, mn, mx, avg, cnt, first_num, first_text, last_num, last_text in rows:
        values: dict[str, Value] = {
            "min": mn,
            "max": mx,
            "avg": avg,
            "count": cnt,
            "first": first_text if first_num is None else first_num,
            "last": last_text if last_num is None else last_num,
        }
        item: dict[str, Value] = {"ts": bucket}
        for func in funcs:
            item[func] = values[func]
        result.append(item)
    return result
