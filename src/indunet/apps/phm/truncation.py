"""Where to cut a run to failure so that it looks like a unit of an official test set.

The C-MAPSS test files stop each unit some time before its failure; the truth is the remaining life at
the last cycle given. Test units keep at least about 31 cycles, and their remaining lives spread over a
few to about 150 cycles. Cross-validation (and the calibration of prediction intervals) cuts held-out
runs the same way: per unit, ``draws`` remaining lives drawn uniformly from ``[low, min(high, life -
keep)]``.
"""

from __future__ import annotations

import numpy as np

from indunet.apps.phm.histories import History

LOW = 5
HIGH = 150
KEEP = 31


def cut_lengths(
    history: History, rng: np.random.Generator, draws: int, low: int = LOW, high: int = HIGH, keep: int = KEEP
) -> np.ndarray:
    """Numbers of cycles to keep (each at least 1): the unit's remaining life at the last kept cycle is
    then ``history.rul()[length - 1]``."""
    life = len(history)
    top = min(high, life - keep)
    bottom = min(low, life - 1)
    top = max(top, bottom)
    remaining = rng.integers(bottom, top + 1, size=draws)
    return np.asarray(life - remaining, dtype=np.int64)
