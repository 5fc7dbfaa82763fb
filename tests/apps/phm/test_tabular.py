"""Run-to-failure tables in CSV (plain and gzip) and Parquet: what is written is what is read, and a
table that is not one is refused naming the file and the row."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from indunet.apps.phm import tabular
from indunet.apps.phm.cmapss import FormatError

HEADER = ["unit", "cycle", "load", "temp", "vib"]


def _rows() -> list[list[float]]:
    rng = np.random.default_rng(0)
    rows = []
    for unit, life in ((1, 5), (2, 3), (3, 4)):
        for cycle in range(1, life + 1):
            rows.append([unit, cycle, float(rng.uniform(0, 1)), float(rng.normal(50, 1)), float(cycle * 0.1)])
    return rows


def _write_csv(path: Path, rows: list[list[float]], header: list[str] = HEADER) -> Path:
    text = ",".join(header) + "\n" + "".join(",".join(str(v) for v in row) + "\n" for row in rows)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _write_parquet(path: Path, rows: list[list[float]]) -> Path:
    columns = list(zip(*rows, strict=True))
    table = pa.table({name: list(values) for name, values in zip(HEADER, columns, strict=True)})
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize("name", ["runs.csv", "runs.csv.gz", "runs.parquet"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    rows = _rows()
    path = tmp_path / name
    if name.endswith(".parquet"):
        _write_parquet(path, rows)
    else:
        _write_csv(path, rows)
    fleet = tabular.read_table(path, settings=["load"])
    assert fleet.settings == ("load",) and fleet.sensors == ("temp", "vib")
    assert [h.unit for h in fleet.histories] == ["1", "2", "3"]
    assert [len(h) for h in fleet.histories] == [5, 3, 4]
    table = np.asarray(rows)
    np.testing.assert_allclose(fleet.histories[1].sensors, table[table[:, 0] == 2][:, 3:])
    np.testing.assert_allclose(fleet.histories[2].settings[:, 0], table[table[:, 0] == 3][:, 2])
    np.testing.assert_allclose(fleet.histories[0].rul(), [4, 3, 2, 1, 0])


def test_columns_named_by_the_caller(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "runs.csv", _rows(), ["asset", "hour", "load", "temp", "vib"])
    fleet = tabular.read_table(path, unit="asset", cycle="hour", sensors=["vib"])
    assert fleet.settings == () and fleet.sensors == ("vib",)
    assert fleet.histories[0].settings.shape == (5, 0)


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "runs.csv", _rows())
    with pytest.raises(FormatError, match=rf"{path}: no column pressure"):
        tabular.read_table(path, sensors=["pressure"])


def test_non_numeric_cell_names_line_and_column(tmp_path: Path) -> None:
    rows: list[list[object]] = [list(r) for r in _rows()]
    rows[3][3] = "hot"
    path = tmp_path / "runs.csv"
    path.write_text(",".join(HEADER) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    with pytest.raises(FormatError, match=rf"{path}:5: column temp: 'hot'"):
        tabular.read_table(path)


def test_ragged_row_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text("unit,cycle,temp\n1,1,5\n1,2\n")
    with pytest.raises(FormatError, match=rf"{path}:3: 2 fields"):
        tabular.read_table(path)
    path.write_text("unit,cycle,temp\n1,1,5\n1,2,nan\n")
    with pytest.raises(FormatError, match=rf"{path}:3: column temp: nan is not a finite number"):
        tabular.read_table(path)
    path.write_text("unit,cycle,temp\n1000000,1,5\n1000000,2,6\n")
    assert tabular.read_table(path).histories[0].unit == "1000000"


def test_cycles_that_do_not_grow_name_the_row(tmp_path: Path) -> None:
    rows = _rows()
    rows[2][1] = 1.0  # unit 1: cycles 1, 2, 1, ...
    path = _write_csv(tmp_path / "runs.csv", rows)
    with pytest.raises(FormatError, match=rf"{path}:4: unit 1: cycle 1 does not grow"):
        tabular.read_table(path)
    parquet = _write_parquet(tmp_path / "runs.parquet", rows)
    with pytest.raises(FormatError, match=rf"{parquet}: row 3: unit 1"):
        tabular.read_table(parquet)


def test_parquet_text_column_names_column_and_row(tmp_path: Path) -> None:
    path = tmp_path / "runs.parquet"
    pq.write_table(pa.table({"unit": [1, 1], "cycle": [1, 2], "temp": ["a", "b"]}), path)
    with pytest.raises(FormatError, match=rf"{path}: row 1: column temp: 'a'"):
        tabular.read_table(path)
    nulls = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"unit": [1, 1], "cycle": [1, 2], "temp": [1.0, None]}), nulls)
    with pytest.raises(FormatError, match=rf"{nulls}: row 2: column temp: missing"):
        tabular.read_table(nulls)


def test_too_many_rows_and_not_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write_csv(tmp_path / "runs.csv", _rows())
    parquet = _write_parquet(tmp_path / "runs.parquet", _rows())
    monkeypatch.setattr(tabular, "MAX_ROWS", 5)
    for big in (path, parquet):
        with pytest.raises(FormatError, match="more than 5 rows"):
            tabular.read_table(big)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(FormatError, match=str(broken)):
        tabular.read_table(broken)
    with pytest.raises(FormatError, match="no rows"):
        tabular.read_table(_write_csv(tmp_path / "empty.csv", []))
