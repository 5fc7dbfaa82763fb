"""Synthetic run-to-failure fleets in the shape of C-MAPSS: small, fast and with a known truth.

Each unit has its own manufacturing offset, flies in one condition or in several (settings clustered
around fixed points, every condition shifting every sensor), and wears from an onset cycle on, faster
and faster until it fails; a few sensors show the wear, a few are constant, the rest are noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indunet.apps.phm.cmapss import SENSORS, SETTINGS
from indunet.apps.phm.histories import Fleet, History

CONDITIONS = np.array([[0.0, 0.0, 100.0], [20.0, 0.7, 100.0], [42.0, 0.84, 60.0]])
CONSTANT = (0, 4, 9)
"""Sensors that never change (as s1, s5 and s10 in FD001)."""
WEARING = (1, 2, 3, 6, 10, 13)
"""Sensors that show the wear."""


def make_fleet(units: int, seed: int = 0, conditions: int = 1, life: tuple[int, int] = (150, 260)) -> Fleet:
    rng = np.random.default_rng(seed)
    gains = rng.uniform(2.0, 4.0, len(SENSORS)) * rng.choice([-1.0, 1.0], len(SENSORS))
    levels = rng.uniform(10.0, 500.0, (len(CONDITIONS), len(SENSORS)))
    histories = []
    for unit in range(1, units + 1):
        length = int(rng.integers(*life))
        onset = length - int(rng.integers(70, 130))
        cycles = np.arange(1, length + 1, dtype=np.float64)
        wear = np.clip((cycles - onset) / (length - onset), 0.0, None) ** 2
        flown = rng.integers(0, conditions, length)
        settings = CONDITIONS[flown] + rng.normal(0.0, 0.002, (length, 3)) * [1.0, 0.1, 0.0]
        offset = rng.normal(0.0, 0.3, len(SENSORS))
        sensors = levels[flown] + offset + rng.normal(0.0, 1.0, (length, len(SENSORS)))
        for j in WEARING:
            sensors[:, j] += gains[j] * 3.0 * wear
        for j in CONSTANT:
            sensors[:, j] = levels[0, j]
        histories.append(History(str(unit), cycles, settings, sensors))
    return Fleet(histories, SETTINGS, SENSORS)


def write_cmapss(path: Path, fleet: Fleet) -> None:
    lines = []
    for history in fleet.histories:
        for t, s, x in zip(history.time, history.settings, history.sensors, strict=True):
            values = [history.unit, f"{t:g}", *(f"{v:.4f}" for v in s), *(f"{v:.4f}" for v in x)]
            lines.append(" ".join(values))
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
