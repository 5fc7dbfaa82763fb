"""How remaining-useful-life predictions are judged in the field.

RMSE, and the asymmetric score of the PHM08 challenge (Saxena et al. 2008): with ``d = predicted -
true``, an early prediction (``d < 0``) costs ``exp(-d/13) - 1`` and a late one ``exp(d/10) - 1``, summed
over the units: predicting failure too late is worse than too early. Both are taken at the last
cycle of each test unit, against the truth as given and against the truth capped (the piecewise-linear
target most published models train on, usually at 125 cycles).
"""

from __future__ import annotations

from typing import Any

import numpy as np

CAP = 125.0


def rmse(predicted: np.ndarray, true: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(predicted) - np.asarray(true)) ** 2)))


def nasa_score(predicted: np.ndarray, true: np.ndarray) -> float:
    d = np.asarray(predicted, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)))


def report(predicted: np.ndarray, true: np.ndarray, cap: float = CAP) -> dict[str, Any]:
    """RMSE and score against the truth uncapped and capped at ``cap``, and the units counted."""
    capped = np.minimum(true, cap)
    return {
        "units": len(true),
        "rmse": round(rmse(predicted, true), 3),
        "score": round(nasa_score(predicted, true), 1),
        "rmse_capped": round(rmse(predicted, capped), 3),
        "score_capped": round(nasa_score(predicted, capped), 1),
        "cap": cap,
    }
