"""Run-to-failure histories in tables: CSV (optionally gzip-compressed, ``.gz``) with a header row, or
Parquet. One row per unit and cycle; the caller names the unit and cycle columns, and may choose the
settings and sensors (by default: no settings, every other numeric column a sensor).

Errors are cmapss.FormatError (the one error the CLI maps to exit 2), naming the file and, for CSV,
the line; for Parquet, the column and row.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indunet.apps.phm.cmapss import FormatError
from indunet.apps.phm.histories import Fleet, History

MAX_BYTES = 1024 * 1024 * 1024
"""Largest CSV read, uncompressed."""
MAX_ROWS = 10_000_000


def read_table(
    path: Path,
    unit: str = "unit",
    cycle: str = "cycle",
    settings: Sequence[str] = (),
    sensors: Sequence[str] | None = None,
) -> Fleet:
    """A fleet from a CSV or Parquet file (by its suffix: ``.parquet``/``.pq``, else CSV)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        header, columns = _parquet(path)
        lines = None
    else:
        header, columns, lines = _csv(path)
    names = _choose(path, header, unit, cycle, settings, sensors)
    return _fleet(path, columns, lines, unit, cycle, tuple(settings), names)


def _choose(
    path: Path,
    header: list[str],
    unit: str,
    cycle: str,
    settings: Sequence[str],
    sensors: Sequence[str] | None,
) -> tuple[str, ...]:
    wanted = [unit, cycle, *settings, *(sensors or ())]
    missing = [name for name in wanted if name not in header]
    if missing:
        raise FormatError(f"{path}: no column {', '.join(missing)} (columns: {', '.join(header)})")
    if sensors is not None:
        chosen = tuple(sensors)
    else:
        chosen = tuple(name for name in header if name not in (unit, cycle, *settings))
    if not chosen:
        raise FormatError(f"{path}: no sensor columns")
    return chosen


def _csv(path: Path) -> tuple[list[str], dict[str, np.ndarray], np.ndarray]:
    """Header, every column as float (non-numeric cells raise, naming line and column), and the line
    of each row in the file."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            text = handle.read(MAX_BYTES + 1)
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise FormatError(f"{path}: {exc}") from None
    if len(text) > MAX_BYTES:
        raise FormatError(f"{path}: larger than {MAX_BYTES} bytes")
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader, [])]
    if not header or not any(header):
        raise FormatError(f"{path}:1: no header row")
    if len(set(header)) != len(header):
        raise FormatError(f"{path}:1: a column name appears twice")
    values: list[list[float]] = []
    numbers: list[int] = []
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise FormatError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
        if len(values) >= MAX_ROWS:
            raise FormatError(f"{path}: more than {MAX_ROWS} rows")
        try:
            values.append([float(cell) for cell in row])
            numbers.append(line)
        except ValueError:
            bad = next(i for i, cell in enumerate(row) if not _is_number(cell))
            raise FormatError(f"{path}:{line}: column {header[bad]}: {row[bad]!r} is not a number") from None
    if not values:
        raise FormatError(f"{path}: no rows")
    table = np.asarray(values, dtype=np.float64)
    return header, {name: table[:, i] for i, name in enumerate(header)}, np.asarray(numbers)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _parquet(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
        if meta.num_rows > MAX_ROWS:
            raise FormatError(f"{path}: more than {MAX_ROWS} rows")
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise FormatError(f"{path}: {exc}") from None
    if table.num_rows == 0:
        raise FormatError(f"{path}: no rows")
    columns: dict[str, np.ndarray] = {}
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            data = column.to_numpy(zero_copy_only=False).astype(np.float64)
            if column.null_count:
                row = int(np.flatnonzero(np.isnan(data))[0])
                raise FormatError(f"{path}: row {row + 1}: column {name}: missing value")
            columns[name] = data
        else:
            columns[name] = np.asarray(column.to_pylist(), dtype=object)
    return list(table.column_names), columns


def _where(path: Path, lines: np.ndarray | None, row: int) -> str:
    """A data row as the user finds it: the line of a CSV file, the row (from 1) of a Parquet table."""
    return f"{path}:{lines[row]}" if lines is not None else f"{path}: row {row + 1}"


def _numeric(path: Path, columns: dict[str, np.ndarray], lines: np.ndarray | None, name: str) -> np.ndarray:
    """A column as finite floats; a Parquet column of another type, or NaN and infinity anywhere, are
    refused naming the first bad row."""
    data = columns[name]
    if data.dtype == object:
        raise FormatError(f"{_where(path, lines, 0)}: column {name}: {data[0]!r} is not a number")
    bad = np.flatnonzero(~np.isfinite(data))
    if len(bad):
        row = int(bad[0])
        raise FormatError(f"{_where(path, lines, row)}: column {name}: {data[row]} is not a finite number")
    return np.asarray(data, dtype=np.float64)


def _label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _fleet(
    path: Path,
    columns: dict[str, np.ndarray],
    lines: np.ndarray | None,
    unit: str,
    cycle: str,
    settings: tuple[str, ...],
    sensors: tuple[str, ...],
) -> Fleet:
    units = _numeric(path, columns, lines, unit)
    cycles = _numeric(path, columns, lines, cycle)
    setting_data = (
        np.stack([_numeric(path, columns, lines, n) for n in settings], axis=1) if settings else None
    )
    sensor_data = np.stack([_numeric(path, columns, lines, n) for n in sensors], axis=1)
    histories = []
    # Units in order of first appearance; rows of a unit need not be adjacent, but keep file order.
    labels, first = np.unique(units, return_index=True)
    for label in labels[np.argsort(first)]:
        rows = np.flatnonzero(units == label)
        time = cycles[rows]
        falls = np.flatnonzero(np.diff(time) <= 0)
        if len(falls):
            where = _where(path, lines, int(rows[falls[0] + 1]))
            raise FormatError(f"{where}: unit {_label(label)}: cycle {time[falls[0] + 1]:g} does not grow")
        unit_settings = setting_data[rows] if setting_data is not None else np.zeros((len(rows), 0))
        histories.append(History(_label(label), time, unit_settings, sensor_data[rows]))
    return Fleet(histories, settings, sensors)
