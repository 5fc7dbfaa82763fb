"""Index series as files: CSV (UTF-8, a header row) or Parquet, one row per group and period."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

COLUMNS = ("group", "period", "value", "index", "change", "change_yoy")


def to_csv(rows: Sequence[dict[str, Any]], measure: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["measure", *COLUMNS])
    for row in rows:
        writer.writerow([measure, *("" if row[c] is None else row[c] for c in COLUMNS)])
    return out.getvalue().encode("utf-8")


def to_parquet(rows: Sequence[dict[str, Any]], measure: str) -> bytes:
    table = pa.table(
        {
            "measure": pa.array([measure] * len(rows), pa.string()),
            "group": pa.array([r["group"] for r in rows], pa.string()),
            "period": pa.array([r["period"] for r in rows], pa.string()),
            **{c: pa.array([r[c] for r in rows], pa.float64()) for c in COLUMNS[2:]},
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()
