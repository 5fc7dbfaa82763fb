"""Run-to-failure histories: per unit, its time axis (cycles or seconds), its operating settings and
its measurements, as arrays. A fleet is the units of one kind with the names of their columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class ModelError(ValueError):
    """A model file that cannot be used, or data the model was not made for."""


@dataclass(frozen=True)
class History:
    unit: str
    time: np.ndarray
    """Cycles (or seconds), strictly growing: shape (n,)."""
    settings: np.ndarray
    """Operating settings per cycle: shape (n, settings)."""
    sensors: np.ndarray
    """Measurements per cycle: shape (n, sensors)."""

    def __len__(self) -> int:
        return len(self.time)

    def rul(self) -> np.ndarray:
        """The remaining useful life at each cycle of a run to failure (0 at the last)."""
        return np.asarray(self.time[-1] - self.time, dtype=np.float64)

    def until(self, cycles: int) -> History:
        """The history cut after its first ``cycles`` cycles (what was known at that time)."""
        return History(self.unit, self.time[:cycles], self.settings[:cycles], self.sensors[:cycles])


@dataclass(frozen=True)
class Fleet:
    histories: list[History]
    settings: tuple[str, ...]
    sensors: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.histories)
