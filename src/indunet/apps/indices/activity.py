"""A machine's day from its samples: how long it was connected, how long it worked, what it made.

Theory of operation. A sample speaks for the time until the next one, but no longer than
``max_gap_s``: a machine that goes silent for longer was not connected for the rest. Each held
interval counts as *working* when the sample's value is above the profile's threshold. The totals of
every day are differences of one cumulative function F(t) (the covered time up to t), evaluated at
the day boundaries with a binary search: O(n + days log n) for n samples, with no loop in Python.

Counters (parts made, parts rejected) only grow, except when reset: a day's count is the sum of the
positive steps between consecutive samples inside it, a drop counting as a reset from zero.
"""

from __future__ import annotations

import numpy as np

US = 1_000_000


def _covered(starts: np.ndarray, lengths: np.ndarray, at: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Time covered by the intervals (sorted, disjoint) before each instant of ``at``; ``k`` is how
    many intervals start at or before each instant."""
    done = np.concatenate(([0], np.cumsum(lengths)))
    partial = np.zeros(len(at), dtype=np.int64)
    inside = k > 0
    last = k[inside] - 1
    partial[inside] = np.clip(at[inside] - starts[last], 0, lengths[last])
    covered: np.ndarray = done[np.maximum(k - 1, 0)] * inside + partial
    return covered


def held_intervals(ts_us: np.ndarray, until_us: int, max_gap_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(start, length) in microseconds of the time each sample speaks for."""
    ts = np.asarray(ts_us, dtype=np.int64)
    if len(ts) == 0:
        return ts, ts
    following = np.empty_like(ts)
    following[:-1] = ts[1:]
    following[-1] = max(int(ts[-1]), until_us)
    lengths = np.minimum(following - ts, int(max_gap_s * US))
    return ts, np.maximum(lengths, 0)


def daily_activity(
    ts_us: np.ndarray,
    values: np.ndarray,
    day_bounds_us: np.ndarray,
    above: float,
    max_gap_s: float,
    until_us: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Seconds connected and seconds working in each day ``[bounds[i], bounds[i+1])``.

    ``ts_us`` strictly increasing sample times, ``values`` the working signal at each (NaN: unknown,
    counted as connected but not working); ``until_us`` is now (the last sample speaks at most until
    then, and at most ``max_gap_s``)."""
    bounds = np.asarray(day_bounds_us, dtype=np.int64)
    starts, lengths = held_intervals(ts_us, until_us, max_gap_s)
    if len(starts) == 0:
        zeros = np.zeros(len(bounds) - 1)
        return zeros, zeros.copy()
    # Idle samples keep their place with no length: one search serves both sums.
    working_lengths = np.where(np.asarray(values, dtype=np.float64) > above, lengths, 0)
    k = np.searchsorted(starts, bounds, side="right")
    connected = np.diff(_covered(starts, lengths, bounds, k)) / US
    worked = np.diff(_covered(starts, working_lengths, bounds, k)) / US
    return connected, worked


def daily_increments(ts_us: np.ndarray, counter: np.ndarray, day_bounds_us: np.ndarray) -> np.ndarray:
    """What a growing counter (parts made) added in each day; a drop is a reset from zero."""
    ts = np.asarray(ts_us, dtype=np.int64)
    bounds = np.asarray(day_bounds_us, dtype=np.int64)
    if len(ts) < 2:
        return np.zeros(len(bounds) - 1)
    values = np.asarray(counter, dtype=np.float64)
    steps = np.diff(values)
    steps = np.where(steps < 0, values[1:], steps)  # reset: the counter started again from zero
    steps = np.where(np.isnan(steps), 0.0, steps)
    day = np.searchsorted(bounds, ts[1:], side="right") - 1  # a step counts on the day it is seen
    inside = (day >= 0) & (day < len(bounds) - 1)
    return np.bincount(day[inside], weights=steps[inside], minlength=len(bounds) - 1)[: len(bounds) - 1]
