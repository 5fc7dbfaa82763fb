"""NASA C-MAPSS turbofan run-to-failure data in its own text format.

Saxena, Goebel, Simon and Eklund, "Damage Propagation Modeling for Aircraft Engine Run-to-Failure
Simulation", PHM08 (2008). Each row is one engine cycle: unit number, cycle, three operational
settings, 21 sensor measurements, separated by whitespace (``train_FD00x.txt`` runs every unit to
failure; ``test_FD00x.txt`` stops each unit some time before it; ``RUL_FD00x.txt`` holds, one line per
test unit, the cycles it still had). Files may be gzip-compressed (``.gz``).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from indunet.apps.phm.histories import Fleet, History

SETTINGS = ("setting_1", "setting_2", "setting_3")
SENSORS = tuple(f"s{n}" for n in range(1, 22))
COLUMNS = 26
MAX_BYTES = 256 * 1024 * 1024
"""Largest file read (the biggest official file is about 9 MB uncompressed)."""


class FormatError(ValueError):
    """Text that is not C-MAPSS data, with the file and line that says so."""


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    read = 0
    with opener(path, "rt", encoding="ascii", errors="strict") as handle:
        for number, line in enumerate(handle, start=1):
            read += len(line)
            if read > MAX_BYTES:
                raise FormatError(f"{path}: larger than {MAX_BYTES} bytes")
            if line.strip():
                yield number, line


def read_runs(path: Path) -> Fleet:
    """A training or test file: one history per unit, cycles in order."""
    rows: dict[int, list[list[float]]] = {}
    try:
        for number, line in _lines(path):
            fields = line.split()
            if len(fields) != COLUMNS:
                raise FormatError(f"{path}:{number}: {len(fields)} columns, C-MAPSS rows have {COLUMNS}")
            try:
                values = [float(f) for f in fields]
            except ValueError:
                raise FormatError(f"{path}:{number}: not a number") from None
            unit = int(values[0])
            if unit != values[0] or unit < 1:
                raise FormatError(f"{path}:{number}: unit {fields[0]} is not a positive integer")
            rows.setdefault(unit, []).append(values[1:])
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise FormatError(f"{path}: {exc}") from None
    if not rows:
        raise FormatError(f"{path}: no rows")
    histories = []
    for unit, table in sorted(rows.items()):
        data = np.asarray(table, dtype=np.float64)
        cycles = data[:, 0]
        if np.any(np.diff(cycles) <= 0):
            raise FormatError(f"{path}: the cycles of unit {unit} do not grow")
        histories.append(History(str(unit), cycles, data[:, 1:4], data[:, 4:]))
    return Fleet(histories, SETTINGS, SENSORS)


def read_truth(path: Path, units: int) -> np.ndarray:
    """The remaining useful life of each test unit at its last cycle, in unit order."""
    found: list[float] = []
    try:
        for number, line in _lines(path):
            fields = line.split()
            if len(fields) != 1:
                raise FormatError(f"{path}:{number}: one number per line")
            try:
                found.append(float(fields[0]))
            except ValueError:
                raise FormatError(f"{path}:{number}: not a number") from None
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise FormatError(f"{path}: {exc}") from None
    if len(found) != units:
        raise FormatError(f"{path}: {len(found)} truths for {units} test units")
    return np.asarray(found)
