"""A point's rate of change by least squares over the last minute, whether that rate stands out from the
point's noise, and the time until the point reaches a limit at that rate.

A straight line fitted to the last ``WINDOW_S`` seconds of samples is kept by running sums, so each
sample costs constant time (ten thousand points a second), at irregular intervals too. The fit also
gives the scatter of the samples about the line, hence the standard error of the slope: a rate counts
only when it is ``SIGNIFICANCE`` standard errors away from zero, so a noisy pressure transmitter's
wobble is not a trend, while a leak filling the air over a minute is one within seconds of starting.
(Exponential smoothing of the slope, tried first, let sensor noise through as rates of the size the
risk features look for.)
"""

from __future__ import annotations

import math
from collections import deque

WINDOW_S = 60.0
MIN_SAMPLES = 10
MAX_SAMPLES = 600
MAX_GAP_S = 300.0
"""After a gap this long the old samples say nothing about now: start again."""
SIGNIFICANCE = 4.0
REBASE_S = 3600.0
"""Times in the sums are seconds since an origin moved forward this often, to keep them precise."""


class Trend:
    __slots__ = (
        "_fitted",
        "_n",
        "_origin",
        "_st",
        "_stt",
        "_stv",
        "_sv",
        "_svv",
        "_window",
        "count",
        "ts_us",
        "value",
    )

    def __init__(self) -> None:
        self.value = 0.0
        self.ts_us = 0
        self.count = 0
        self._window: deque[tuple[float, float]] = deque()
        self._origin = 0
        self._n = 0
        self._st = self._sv = self._stt = self._stv = self._svv = 0.0
        self._fitted: tuple[int, tuple[float, float, float] | None] = (-1, None)

    def update(self, ts_us: int, value: float) -> None:
        if self.count and ts_us <= self.ts_us:
            return  # a late or repeated sample cannot move the clock back
        if not math.isfinite(value):
            return
        if not self.count or (ts_us - self.ts_us) / 1e6 > MAX_GAP_S:
            self._window.clear()
            self._origin = ts_us
            self._reset_sums()
        elif (ts_us - self._origin) / 1e6 > REBASE_S:
            self._rebase(ts_us)
        t = (ts_us - self._origin) / 1e6
        self._add(t, value)
        self._window.append((t, value))
        while self._window and (t - self._window[0][0] > WINDOW_S or len(self._window) > MAX_SAMPLES):
            self._remove(*self._window.popleft())
        self.value = value
        self.ts_us = ts_us
        self.count += 1

    # -- the fit -------------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._n >= MIN_SAMPLES

    def _fit(self) -> tuple[float, float, float] | None:
        """(slope per second, standard error of the slope, fitted value now), or None before enough
        samples; computed once per sample."""
        if self._fitted[0] == self.count:
            return self._fitted[1]
        fit = self._compute()
        self._fitted = (self.count, fit)
        return fit

    def _compute(self) -> tuple[float, float, float] | None:
        n = self._n
        if n < MIN_SAMPLES:
            return None
        sxx = self._stt - self._st * self._st / n
        if sxx <= 0:
            return None
        sxy = self._stv - self._st * self._sv / n
        syy = self._svv - self._sv * self._sv / n
        slope = sxy / sxx
        residual = max(0.0, syy - slope * sxy) / (n - 2)
        t_now = (self.ts_us - self._origin) / 1e6
        fitted = self._sv / n + slope * (t_now - self._st / n)
        return slope, math.sqrt(residual / sxx), fitted

    @property
    def slope(self) -> float:
        """The rate per second when it stands out from the noise, else 0."""
        fit = self._fit()
        if fit is None:
            return 0.0
        slope, error, _ = fit
        return slope if abs(slope) > SIGNIFICANCE * error else 0.0

    def rate_per_min(self) -> float:
        return self.slope * 60.0

    def seconds_to(self, limit: float, rising: bool = True) -> float | None:
        """Seconds until the fitted line reaches ``limit``; None when the point is not significantly
        heading there (or there are too few samples yet)."""
        fit = self._fit()
        if fit is None:
            return None
        slope, error, fitted = fit
        if abs(slope) <= SIGNIFICANCE * error:
            return None
        gap = limit - fitted if rising else fitted - limit
        speed = slope if rising else -slope
        if gap <= 0:
            return 0.0
        if speed <= 0:
            return None
        return gap / speed

    # -- running sums --------------------------------------------------------------------------------
    def _reset_sums(self) -> None:
        self._n = 0
        self._st = self._sv = self._stt = self._stv = self._svv = 0.0

    def _add(self, t: float, v: float) -> None:
        self._n += 1
        self._st += t
        self._sv += v
        self._stt += t * t
        self._stv += t * v
        self._svv += v * v

    def _remove(self, t: float, v: float) -> None:
        self._n -= 1
        self._st -= t
        self._sv -= v
        self._stt -= t * t
        self._stv -= t * v
        self._svv -= v * v

    def _rebase(self, ts_us: int) -> None:
        shift = (ts_us - self._origin) / 1e6
        self._origin = ts_us
        kept = [(t - shift, v) for t, v in self._window]
        self._window = deque(kept)
        self._reset_sums()
        for t, v in kept:
            self._add(t, v)
