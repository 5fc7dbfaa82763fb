"""Health features of one unit at every cycle, from what was known at that cycle only.

Input: the unit's sensors already normalised (z-scored per regime, constant sensors left out), one row
per cycle. Per sensor and cycle ``t`` the features are the value at ``t``; trailing means and standard
deviations over the last ``w`` cycles; least-squares slopes over the last ``w`` cycles; exponentially
weighted means; and the drift from the unit's healthy baseline (the mean of its first cycles: a unit
starts with its own manufacturing offset, and wear shows as departure from it). Plus the unit's age.

Every feature at ``t`` is a function of rows ``0..t`` only (causal): a feature row of a run to failure is
exactly the feature row of that unit cut at ``t``, so training rows and the last row of a truncated test
unit are the same kind of thing. Windows shorter than ``w`` at the start use the rows there are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FeatureSpec:
    means: tuple[int, ...] = (5, 10, 20, 30)
    """Trailing-mean windows, in cycles."""
    slopes: tuple[int, ...] = (10, 20, 40)
    """Slope windows."""
    stds: tuple[int, ...] = (10,)
    """Standard-deviation windows."""
    ewma: tuple[float, ...] = (0.1,)
    """Smoothing factors of exponentially weighted means."""
    baseline: int = 20
    """Cycles that make up a unit's healthy baseline (fewer while the unit is younger)."""
    drift_window: int = 10
    """Trailing mean compared with the baseline."""
    whole_slope: bool = True
    """Slope over the whole history so far, too."""

    def names(self, sensors: tuple[str, ...]) -> list[str]:
        """Feature names in column order."""
        per_sensor = [
            "last",
            *(f"mean{w}" for w in self.means),
            *(f"slope{w}" for w in self.slopes),
            *(f"std{w}" for w in self.stds),
            *(f"ewma{a:g}" for a in self.ewma),
            "drift",
        ]
        if self.whole_slope:
            per_sensor.append("slope_all")
        return ["age", *(f"{s}_{p}" for p in per_sensor for s in sensors)]


def _window_sums(cumulative: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums over the trailing window at each row from a cumulative sum with a leading zero row, and the
    number of rows in each window."""
    n = len(cumulative) - 1
    end = np.arange(1, n + 1)
    start = np.maximum(end - window, 0)
    return cumulative[end] - cumulative[start], (end - start).astype(np.float64)


def _cumulative(values: np.ndarray) -> np.ndarray:
    zero = np.zeros((1, values.shape[1]))
    return np.concatenate([zero, np.cumsum(values, axis=0)])


def _slopes(n: int, c_y: np.ndarray, c_xy: np.ndarray, window: int) -> np.ndarray:
    """Least-squares slope of each sensor against the cycle index over the trailing window."""
    s_y, m = _window_sums(c_y, window)
    s_xy, _ = _window_sums(c_xy, window)
    end = np.arange(n, dtype=np.float64)  # last index in the window
    first = end - m + 1
    s_x = m * (first + end) / 2.0
    s_xx = (end * (end + 1) * (2 * end + 1) - (first - 1) * first * (2 * first - 1)) / 6.0
    denominator = m * s_xx - s_x**2
    safe = np.where(denominator > 0, denominator, 1.0)
    slope = (m[:, None] * s_xy - s_x[:, None] * s_y) / safe[:, None]
    return np.where((denominator > 0)[:, None], slope, 0.0)


def unit_features(z: np.ndarray, time: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Feature rows of one unit: ``z`` normalised sensors (n, sensors), ``time`` its cycles (n,)."""
    z = np.asarray(z, dtype=np.float64)
    n = len(z)
    index = np.arange(n, dtype=np.float64)[:, None]
    c_y = _cumulative(z)
    c_xy = _cumulative(z * index)
    c_yy = _cumulative(z * z)
    columns: list[np.ndarray] = [np.asarray(time, dtype=np.float64)[:, None], z]
    for w in spec.means:
        total, m = _window_sums(c_y, w)
        columns.append(total / m[:, None])
    for w in spec.slopes:
        columns.append(_slopes(n, c_y, c_xy, w))
    for w in spec.stds:
        total, m = _window_sums(c_y, w)
        squares, _ = _window_sums(c_yy, w)
        mean = total / m[:, None]
        columns.append(np.sqrt(np.maximum(squares / m[:, None] - mean**2, 0.0)))
    for alpha in spec.ewma:
        smoothed = np.empty_like(z)
        current = z[0].copy()
        for t in range(n):
            current = alpha * z[t] + (1.0 - alpha) * current
            smoothed[t] = current
        columns.append(smoothed)
    counted = np.minimum(np.arange(1, n + 1), spec.baseline)
    baseline = c_y[counted] / counted[:, None].astype(np.float64)
    recent, m = _window_sums(c_y, spec.drift_window)
    columns.append(recent / m[:, None] - baseline)
    if spec.whole_slope:
        columns.append(_slopes(n, c_y, c_xy, n))
    return np.concatenate(columns, axis=1)
