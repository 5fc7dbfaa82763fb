"""Encode streamed points as CSV or Parquet bytes, one chunk at a time, so memory stays bounded."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from indunet.core.timeutil import to_rfc3339
from indunet.store.timeseries.base import Point

# Rows per Parquet row group: readers skip whole groups by their statistics, and the writer holds one
# group in memory, so this bounds memory while keeping groups large enough to compress well.
ROW_GROUP_ROWS = 100_000

PARQUET_SCHEMA = pa.schema(
    [
        ("label", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("num", pa.float64()),
        ("text", pa.string()),
    ]
)


def to_csv(chunks: Iterator[tuple[str, list[Point]]]) -> Iterator[bytes]:
    """``series,ts,value`` lines; numbers keep Python's shortest round-trip form."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("series", "ts", "value"))
    for label, points in chunks:
        writer.writerows(
            (label, to_rfc3339(ts), text if num is None else repr(num)) for ts, num, text in points
        )
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def to_parquet(chunks: Iterator[tuple[str, list[Point]]]) -> Iterator[bytes]:
    """A Parquet file in row groups of ROW_GROUP_ROWS, yielded as the writer produces its bytes."""
    sink = _DrainableSink()
    with pq.ParquetWriter(sink, PARQUET_SCHEMA) as writer:
        labels: list[str] = []
        points: list[Point] = []
        for label, chunk in chunks:
            labels.extend([label] * len(chunk))
            points.extend(chunk)
            while len(points) >= ROW_GROUP_ROWS:
                writer.write_table(_table(labels[:ROW_GROUP_ROWS], points[:ROW_GROUP_ROWS]))
                del labels[:ROW_GROUP_ROWS], points[:ROW_GROUP_ROWS]
                yield sink.drain()
        if points:
            writer.write_table(_table(labels, points))
    yield sink.drain()


def _table(labels: list[str], points: list[Point]) -> pa.Table:
    ts, num, text = zip(*points, strict=True)
    return pa.Table.from_arrays(
        [
            pa.array(labels, pa.string()),
            pa.array(ts, pa.int64()).cast(PARQUET_SCHEMA.field("ts").type),
            pa.array(num, pa.float64()),
            pa.array(text, pa.string()),
        ],
        schema=PARQUET_SCHEMA,
    )


class _DrainableSink(io.RawIOBase):
    """A write-only file that hands over what was written since the last ``drain``."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data
