"""Multivariate anomaly detection with a false-alarm budget: PCA's T² and Q, and river's online
Gaussian scorers, scored one row at a time as telemetry arrives.

Both detectors learn what healthy looks like from rows of healthy operation and calibrate on rows they
did not learn from (the last ``calibration`` share): a statistic judged on the rows that fitted it
looks better than it is, and the threshold would raise alarms in service that the budget did not allow.

PCA (Jackson's multivariate SPC): the rows are standardised, the leading components explaining
``variance`` of the spread kept. T² (Hotelling) measures how far a row is inside the model's plane,
in units of each component's spread; Q (the squared prediction error) how far it is off the plane,
which is where a new kind of fault shows first. The statistic is their sum, each divided by its mean
over the healthy rows, so neither dominates by its scale.

The budget is in false alarms per day. With the rows' sampling period that is a probability per row,
usually far below one in the number of calibration rows, where an empirical quantile says nothing. So
the tail of the calibration statistic above its 98th percentile is fitted with an exponential (the
peaks-over-threshold model of extreme values, shape zero), and the threshold is where the fitted
exceedance probability equals the allowed rate. Each alarm needs at least one exceedance, so the
alarm rate is at most the exceedance rate whatever ``persistence`` asks for on top (consecutive rows
over the threshold before raising, which rejects lone spikes).

Scores are the statistic divided by the threshold: 1 and above is anomalous, for every detector.
A model is a JSON document (``to_dict``/``from_dict``), nothing pickled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

DAY_S = 86_400.0
TAIL_QUANTILE = 0.98
MIN_ROWS = 50
MAX_ROWS = 5_000_000
MAX_INPUTS = 200


class DetectorError(ValueError):
    """Training rows a detector cannot learn from, or a model document it cannot read."""


@dataclass(frozen=True)
class Budget:
    false_alarms_per_day: float = 0.1
    persistence: int = 3
    """Consecutive anomalous rows before an alarm is raised."""

    def __post_init__(self) -> None:
        if not 0 < self.false_alarms_per_day <= 1000:
            raise DetectorError("false_alarms_per_day must be above 0 and at most 1000")
        if not 1 <= self.persistence <= 1000:
            raise DetectorError("persistence must be from 1 to 1000 rows")

    def to_dict(self) -> dict[str, Any]:
        return {"false_alarms_per_day": self.false_alarms_per_day, "persistence": self.persistence}

    def per_row(self, period_s: float) -> float:
        return min(0.5, self.false_alarms_per_day * period_s / DAY_S)


@dataclass(frozen=True)
class Tail:
    """The calibration statistic's upper tail: P(stat > x) = share · exp(-(x - start) / scale)."""

    start: float
    share: float
    scale: float

    def threshold(self, probability: float) -> float:
        if probability >= self.share:
            return self.start
        return self.start + self.scale * math.log(self.share / probability)

    def exceedance(self, value: float) -> float:
        if value <= self.start:
            return self.share
        return self.share * math.exp(-(value - self.start) / self.scale)


def fit_tail(statistic: np.ndarray) -> Tail:
    start = float(np.quantile(statistic, TAIL_QUANTILE))
    excess = statistic[statistic > start] - start
    share = max(len(excess), 1) / len(statistic)
    # The mean excess is the exponential's maximum-likelihood scale; a floor keeps a flat tail
    # (quantised sensors) from making the threshold the start itself.
    scale = max(float(excess.mean()) if len(excess) else 0.0, 1e-6 * max(abs(start), 1.0))
    return Tail(start, share, scale)


def sampling_period(ts_us: np.ndarray) -> float:
    """Median seconds between rows (1 s when the rows carry no usable times)."""
    if len(ts_us) < 2:
        return 1.0
    steps = np.diff(np.asarray(ts_us, dtype=np.int64))
    steps = steps[steps > 0]
    return float(np.median(steps)) / 1e6 if len(steps) else 1.0


def _checked(rows: np.ndarray, inputs: Sequence[str]) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != len(inputs):
        raise DetectorError(f"rows must be a matrix with one column per input ({len(inputs)})")
    if not 1 <= len(inputs) <= MAX_INPUTS:
        raise DetectorError(f"a detector takes 1 to {MAX_INPUTS} inputs")
    if not MIN_ROWS <= len(rows) <= MAX_ROWS:
        raise DetectorError(
            f"a detector learns from {MIN_ROWS} to {MAX_ROWS:,} healthy rows, not {len(rows):,}"
        )
    if not np.isfinite(rows).all():
        raise DetectorError("healthy rows must hold finite numbers only")
    return rows


def _split(rows: np.ndarray, calibration: float) -> tuple[np.ndarray, np.ndarray]:
    cut = round(len(rows) * (1 - calibration))
    cut = min(max(cut, MIN_ROWS // 2), len(rows) - MIN_ROWS // 2)
    return rows[:cut], rows[cut:]


class Detector(Protocol):
    kind: str
    inputs: tuple[str, ...]
    budget: Budget
    threshold: float

    def score_row(self, row: np.ndarray) -> float:
        """Statistic / threshold of one row (1 and above: anomalous); online detectors learn from
        rows they find normal."""
        ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass
class PcaDetector:
    inputs: tuple[str, ...]
    budget: Budget
    mean: np.ndarray
    std: np.ndarray
    loadings: np.ndarray
    """Inputs × kept components."""
    eigenvalues: np.ndarray
    t2_mean: float
    q_mean: float
    threshold: float
    tail: Tail
    period_s: float
    kind: str = "pca"

    @classmethod
    def fit(
        cls,
        rows: np.ndarray,
        inputs: Sequence[str],
        budget: Budget | None = None,
        period_s: float = 1.0,
        variance: float = 0.9,
        calibration: float = 0.3,
    ) -> PcaDetector:
        rows = _checked(rows, inputs)
        if not 0 < variance < 1:
            raise DetectorError("variance must be between 0 and 1")
        budget = budget or Budget()
        learn, calibrate = _split(rows, calibration)
        mean = learn.mean(axis=0)
        std = learn.std(axis=0)
        # A constant input has no healthy spread: any change of it is scored on the spread of the
        # others' residuals rather than divided by zero.
        std = np.where(std > 1e-12, std, 1.0)
        z = (learn - mean) / std
        _, singular, vt = np.linalg.svd(z, full_matrices=False)
        eigen = singular**2 / max(len(z) - 1, 1)
        share = np.cumsum(eigen) / max(float(eigen.sum()), 1e-300)
        kept = int(np.searchsorted(share, variance) + 1)
        kept = min(kept, len(inputs) - 1) if len(inputs) > 1 else 1
        loadings = vt[:kept].T
        eigenvalues = np.maximum(eigen[:kept], 1e-12)
        t2, q = _statistics(z, loadings, eigenvalues)
        detector = cls(
            tuple(inputs),
            budget,
            mean,
            std,
            loadings,
            eigenvalues,
            float(max(t2.mean(), 1e-12)),
            float(max(q.mean(), 1e-12)),
            1.0,
            Tail(0.0, 1.0, 1.0),
            period_s,
        )
        tail = fit_tail(detector.statistic(calibrate))
        detector.tail = tail
        detector.threshold = tail.threshold(budget.per_row(period_s))
        return detector

    def statistic(self, rows: np.ndarray) -> np.ndarray:
        """T²/mean(T²) + Q/mean(Q) of each row (batch form)."""
        z = (np.asarray(rows, dtype=np.float64) - self.mean) / self.std
        t2, q = _statistics(z, self.loadings, self.eigenvalues)
        return np.asarray(t2 / self.t2_mean + q / self.q_mean)

    def score(self, rows: np.ndarray) -> np.ndarray:
        return self.statistic(rows) / self.threshold

    def score_row(self, row: np.ndarray) -> float:
        z = (row - self.mean) / self.std
        t = z @ self.loadings
        residual = z - self.loadings @ t
        t2 = float(t @ (t / self.eigenvalues))
        q = float(residual @ residual)
        return (t2 / self.t2_mean + q / self.q_mean) / self.threshold

    def contributions(self, row: np.ndarray) -> dict[str, float]:
        """Each input's share of the row's squared residual: which points moved off the healthy
        plane (the first thing an engineer asks of a Q alarm)."""
        z = (np.asarray(row, dtype=np.float64) - self.mean) / self.std
        residual = z - self.loadings @ (z @ self.loadings)
        squared = residual**2
        total = float(squared.sum()) or 1.0
        return {name: round(float(v) / total, 4) for name, v in zip(self.inputs, squared, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "inputs": list(self.inputs),
            "budget": self.budget.to_dict(),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "loadings": self.loadings.tolist(),
            "eigenvalues": self.eigenvalues.tolist(),
            "t2_mean": self.t2_mean,
            "q_mean": self.q_mean,
            "threshold": self.threshold,
            "tail": {"start": self.tail.start, "share": self.tail.share, "scale": self.tail.scale},
            "period_s": self.period_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PcaDetector:
        inputs = tuple(data["inputs"])
        n = len(inputs)
        detector = cls(
            inputs,
            Budget(**data["budget"]),
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["std"], dtype=np.float64),
            np.asarray(data["loadings"], dtype=np.float64),
            np.asarray(data["eigenvalues"], dtype=np.float64),
            float(data["t2_mean"]),
            float(data["q_mean"]),
            float(data["threshold"]),
            Tail(**data["tail"]),
            float(data["period_s"]),
        )
        if detector.mean.shape != (n,) or detector.std.shape != (n,) or detector.loadings.shape[0] != n:
            raise DetectorError("model arrays do not match its inputs")
        if detector.loadings.shape[1:] != detector.eigenvalues.shape:
            raise DetectorError("model loadings do not match its eigenvalues")
        return detector


def _statistics(
    z: np.ndarray, loadings: np.ndarray, eigenvalues: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    scores = z @ loadings
    residual = z - scores @ loadings.T
    return (scores**2 / eigenvalues).sum(axis=1), (residual**2).sum(axis=1)


class StreamDetector:
    """river's online Gaussian scorers, one per point, over a sliding window: each point's two-sided
    tail probability under its recent healthy distribution, and the row's statistic is the smallest
    of them as ``-ln p``. The scorers learn only from rows found normal, so slow healthy drift
    (seasons, a new batch of material) moves them and a fault does not teach them it is normal. Calibrated
    like PCA, on the last share of the warm-up. It sees a point leaving its own range; a broken
    relation between points whose values each stay ordinary is PCA's to see."""

    kind = "stream"

    def __init__(self, inputs: Sequence[str], budget: Budget, window: int = 2000) -> None:
        from river.anomaly import GaussianScorer

        self.inputs = tuple(inputs)
        self.budget = budget
        self.window = window
        self.scorers = [
            GaussianScorer(window_size=window, grace_period=0)  # type: ignore[no-untyped-call]
            for _ in self.inputs
        ]
        self.threshold = 1.0
        self.tail = Tail(0.0, 1.0, 1.0)
        self.period_s = 1.0

    @classmethod
    def fit(
        cls,
        rows: np.ndarray,
        inputs: Sequence[str],
        budget: Budget | None = None,
        period_s: float = 1.0,
        calibration: float = 0.3,
        window: int = 0,
    ) -> StreamDetector:
        """``window``: rows each scorer remembers; 0: a day of rows, so a daily cycle is healthy."""
        rows = _checked(rows, inputs)
        window = window or max(100, min(1_000_000, round(DAY_S / period_s)))
        if not 10 <= window <= 1_000_000:
            raise DetectorError("window must be from 10 to 1,000,000 rows")
        detector = cls(inputs, budget or Budget(), window)
        detector.period_s = period_s
        learn, calibrate = _split(rows, calibration)
        for row in learn:
            detector._learn(row)
        statistic = np.empty(len(calibrate))
        for i, row in enumerate(calibrate):
            statistic[i] = detector._statistic(row)
            detector._learn(row)
        detector.tail = fit_tail(statistic)
        detector.threshold = detector.tail.threshold(detector.budget.per_row(period_s))
        return detector

    def _learn(self, row: np.ndarray) -> None:
        for scorer, value in zip(self.scorers, row.tolist(), strict=True):
            scorer.learn_one(None, value)  # type: ignore[no-untyped-call]

    def _statistic(self, row: np.ndarray) -> float:
        worst = max(
            scorer.score_one(None, value)  # type: ignore[no-untyped-call]
            for scorer, value in zip(self.scorers, row.tolist(), strict=True)
        )
        return -math.log(max(1.0 - float(worst), 1e-300))

    def score_row(self, row: np.ndarray) -> float:
        score = self._statistic(row) / self.threshold
        if score < 1.0:
            self._learn(row)
        return score

    def to_dict(self) -> dict[str, Any]:
        # The scorers' windows are not in the document: a new process learns them again from the
        # training window the model's lineage names (``restore``), which gives the same scorers.
        return {
            "kind": self.kind,
            "inputs": list(self.inputs),
            "budget": self.budget.to_dict(),
            "window": self.window,
            "threshold": self.threshold,
            "period_s": self.period_s,
        }


def restore(data: dict[str, Any], rows: np.ndarray | None = None) -> Detector:
    """A detector from its document; a stream detector also needs its training rows again."""
    try:
        if data.get("kind") == "pca":
            return PcaDetector.from_dict(data)
        if data.get("kind") == "stream":
            if rows is None:
                raise DetectorError("a stream detector is restored from its training rows")
            budget = Budget(**data["budget"])
            return StreamDetector.fit(
                rows, data["inputs"], budget, float(data["period_s"]), window=int(data["window"])
            )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, DetectorError):
            raise
        raise DetectorError(f"unreadable detector document: {exc}") from None
    raise DetectorError(f"unknown detector kind {data.get('kind')!r}")


class Debouncer:
    """Raise after ``persistence`` consecutive anomalous rows; clear after as many normal ones."""

    __slots__ = ("_run", "active", "persistence")

    def __init__(self, persistence: int) -> None:
        self.persistence = persistence
        self._run = 0
        self.active = False

    def update(self, anomalous: bool) -> bool:
        if anomalous != self.active:
            self._run += 1
            if self._run >= self.persistence:
                self.active = anomalous
                self._run = 0
        else:
            self._run = 0
        return self.active


def alarms(scores: np.ndarray, persistence: int) -> int:
    """How many alarms a score series raises under the debounce (batch form, for evaluation)."""
    debouncer = Debouncer(persistence)
    raised = 0
    for score in scores:
        was = debouncer.active
        if debouncer.update(bool(score >= 1.0)) and not was:
            raised += 1
    return raised
