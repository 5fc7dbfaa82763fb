"""export as CSV and Parquet, read back with csv and pyarrow."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from indunet.core.errors import InvalidInput
from indunet.store.timeseries import TimeseriesStore, export

T0 = 1_764_000_000_000_000  # 2025-11-24T16:00:00Z


@pytest.fixture
def filled(store: TimeseriesStore) -> TimeseriesStore:
    store.write([(1, T0 + i * 1_000_000, i + 0.5, None) for i in range(5)])
    store.write([(2, T0 + 1, None, 'a,b "c"'), (2, T0 + 2, 7.0, None), (3, T0, 1.0, None)])
    return store


def test_csv_has_labels_rfc3339_times_and_values(filled: TimeseriesStore) -> None:
    data = b"".join(filled.export({2: "pump/state", 1: "pump/temp"}, T0, T0 + 3_000_000, "csv"))

    assert list(csv.reader(io.StringIO(data.decode()))) == [
        ["series", "ts", "value"],
        ["pump/state", "2025-11-24T16:00:00.000001Z", 'a,b "c"'],
        ["pump/state", "2025-11-24T16:00:00.000002Z", "7.0"],
        ["pump/temp", "2025-11-24T16:00:00.000000Z", "0.5"],
        ["pump/temp", "2025-11-24T16:00:01.000000Z", "1.5"],
        ["pump/temp", "2025-11-24T16:00:02.000000Z", "2.5"],
    ]


def test_parquet_has_typed_columns(filled: TimeseriesStore) -> None:
    data = b"".join(filled.export({1: "temp", 2: "state"}, T0, T0 + 2_000_000, "parquet"))

    table = pq.read_table(io.BytesIO(data))

    assert [str(t) for t in table.schema.types] == ["string", "timestamp[us, tz=UTC]", "double", "string"]
    assert table.column_names == ["label", "ts", "num", "text"]
    assert table.to_pylist() == [
        {"label": "temp", "ts": datetime(2025, 11, 24, 16, 0, 0, tzinfo=UTC), "num": 0.5, "text": None},
        {"label": "temp", "ts": datetime(2025, 11, 24, 16, 0, 1, tzinfo=UTC), "num": 1.5, "text": None},
        {
            "label": "state",
            "ts": datetime(2025, 11, 24, 16, 0, 0, 1, tzinfo=UTC),
            "num": None,
            "text": 'a,b "c"',
        },
        {"label": "state", "ts": datetime(2025, 11, 24, 16, 0, 0, 2, tzinfo=UTC), "num": 7.0, "text": None},
    ]


def test_large_exports_stream_in_chunks_and_row_groups(
    store: TimeseriesStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "scan_chunk_rows", 7)
    monkeypatch.setattr(export, "ROW_GROUP_ROWS", 10)
    store.write([(s, T0 + i, float(i), None) for s in (1, 2) for i in range(25)])

    csv_parts = list(store.export({1: "a", 2: "b"}, T0, T0 + 100, "csv"))
    parquet = pq.ParquetFile(io.BytesIO(b"".join(store.export({1: "a", 2: "b"}, T0, T0 + 100, "parquet"))))

    assert len(csv_parts) >= 8  # ceil(25 / 7) chunks per series
    assert b"".join(csv_parts).count(b"\n") == 51
    assert parquet.metadata.num_row_groups == 5
    assert parquet.read().column("num").to_pylist() == [float(i) for i in range(25)] * 2


def test_empty_export_is_a_valid_file(store: TimeseriesStore) -> None:
    assert b"".join(store.export({1: "a"}, T0, T0 + 1, "csv")) == b"series,ts,value\n"
    assert pq.read_table(io.BytesIO(b"".join(store.export({1: "a"}, T0, T0 + 1, "parquet")))).num_rows == 0


def test_unknown_format_is_rejected(store: TimeseriesStore) -> None:
    with pytest.raises(InvalidInput):
        store.export({1: "a"}, T0, T0 + 1, "xlsx")  # type: ignore[arg-type]
