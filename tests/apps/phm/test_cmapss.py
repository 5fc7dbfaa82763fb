"""Reading C-MAPSS files: the histories come out per unit in order, and anything that is not C-MAPSS
data is refused naming the file and line."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest
from tests.apps.phm.synthetic import make_fleet, write_cmapss

from indunet.apps.phm.cmapss import FormatError, read_runs, read_truth

ROW = "1 1 -0.0007 -0.0004 100.0 " + " ".join(["518.67"] * 21)


def test_reads_units_in_order_from_plain_and_gzip_files(tmp_path: Path) -> None:
    fleet = make_fleet(3, seed=4)
    plain = tmp_path / "train_FD009.txt"
    write_cmapss(plain, fleet)
    packed = tmp_path / "train_FD009.txt.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        read = read_runs(path)
        assert [h.unit for h in read.histories] == ["1", "2", "3"]
        assert [len(h) for h in read.histories] == [len(h) for h in fleet.histories]
        np.testing.assert_allclose(read.histories[1].sensors, fleet.histories[1].sensors, atol=1e-4)
        assert read.histories[0].rul()[-1] == 0


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("1 2 0.0 0.0 100.0 518.67", "6 columns"),
        (ROW.replace("518.67", "n/a", 1), "not a number"),
        (ROW.replace("1 1", "1.5 2", 1), "not a positive integer"),
    ],
)
def test_a_bad_row_is_refused_with_file_and_line(tmp_path: Path, bad: str, says: str) -> None:
    path = tmp_path / "train.txt"
    path.write_text(f"{ROW}\n\n{bad}\n", encoding="ascii")  # the bad row is on line 3
    with pytest.raises(FormatError, match=rf"^{re.escape(str(path))}:3: .*{says}"):
        read_runs(path)


def test_cycles_that_do_not_grow_name_the_unit(tmp_path: Path) -> None:
    path = tmp_path / "train.txt"
    path.write_text(f"{ROW}\n{ROW}\n", encoding="ascii")
    with pytest.raises(FormatError, match="unit 1 do not grow"):
        read_runs(path)


@pytest.mark.parametrize("content", [b"", b"\x1f\x8b not gzip at all", "1 1 é".encode()])
def test_empty_damaged_or_binary_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / ("train.txt.gz" if content.startswith(b"\x1f") else "train.txt")
    path.write_bytes(content)
    with pytest.raises(FormatError, match=re.escape(str(path))):
        read_runs(path)


def test_truth_must_have_one_number_per_test_unit(tmp_path: Path) -> None:
    path = tmp_path / "RUL.txt"
    path.write_text("112\n98\n", encoding="ascii")
    np.testing.assert_array_equal(read_truth(path, 2), [112.0, 98.0])
    with pytest.raises(FormatError, match="2 truths for 3 test units"):
        read_truth(path, 3)
    path.write_text("112\n98 7\n", encoding="ascii")
    with pytest.raises(FormatError, match=rf"{re.escape(str(path))}:2: one number per line"):
        read_truth(path, 2)
