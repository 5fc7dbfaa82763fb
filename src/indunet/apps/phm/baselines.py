"""Naive remaining-useful-life baselines: what a model has to beat to be worth its complexity.

- MeanLife: units of this kind live so long on average and this one is so old (no sensors at all).
- LinearExtrapolation: the textbook trend method. The health indicator is the one sensor whose value
  tracks the remaining life best over the training runs (largest absolute correlation); its failure
  level is its mean value over the last cycles of the training runs. A unit's recent indicator values
  (the window that worked best on the training runs, cut as a test set cuts them) are fitted with a
  straight line, which is followed to the failure level. A trend that does not get there within the
  longest training life says nothing, and then the mean-life answer stands.

Both fit on a fleet of runs to failure and predict the remaining life at the last cycle of each history,
like RulModel.
"""

from __future__ import annotations

import numpy as np

from indunet.apps.phm.histories import Fleet, ModelError
from indunet.apps.phm.truncation import cut_lengths


class MeanLife:
    def __init__(self) -> None:
        self.life = 0.0

    def fit(self, fleet: Fleet) -> MeanLife:
        if len(fleet) < 1:
            raise ModelError("fitting needs at least one run to failure")
        self.life = float(np.mean([h.time[-1] for h in fleet.histories]))
        return self

    def predict(self, fleet: Fleet) -> np.ndarray:
        ages = np.asarray([h.time[-1] for h in fleet.histories], dtype=np.float64)
        return np.maximum(self.life - ages, 0.0)


WINDOWS = (10, 20, 40, 80, 160)


class LinearExtrapolation:
    def __init__(self, window: int = 0, end: int = 5, seed: int = 0) -> None:
        self.window = window
        """Recent cycles the line is fitted to; 0: the best of WINDOWS on the training runs."""
        self.choose = window <= 0
        self.seed = seed
        self.end = end
        """Last cycles of a training run whose mean is the failure level."""
        self.sensor = 0
        self.level = 0.0
        self.direction = 1.0
        """+1 when the indicator rises towards failure, -1 when it falls."""
        self.mean_life = MeanLife()
        self.longest = 0.0

    def fit(self, fleet: Fleet) -> LinearExtrapolation:
        self.mean_life.fit(fleet)
        self.longest = float(max(h.time[-1] for h in fleet.histories))
        sensors = np.concatenate([h.sensors for h in fleet.histories])
        rul = np.concatenate([h.rul() for h in fleet.histories])
        spread = sensors.std(axis=0)
        varies = spread > 0
        if not varies.any():
            raise ModelError("no sensor varies in the training runs")
        centred = (sensors[:, varies] - sensors[:, varies].mean(axis=0)) / spread[varies]
        target = (rul - rul.mean()) / (rul.std() or 1.0)
        correlation = np.abs(centred.T @ target) / len(target)
        self.sensor = int(np.flatnonzero(varies)[np.argmax(correlation)])
        self.level = float(np.mean([h.sensors[-self.end :, self.sensor].mean() for h in fleet.histories]))
        start = float(np.mean([h.sensors[: self.end, self.sensor].mean() for h in fleet.histories]))
        self.direction = 1.0 if self.level >= start else -1.0
        if self.choose:
            self.window = self._best_window(fleet)
        return self

    def _best_window(self, fleet: Fleet) -> int:
        rng = np.random.default_rng(self.seed)
        cut, true = [], []
        for history in fleet.histories:
            for length in cut_lengths(history, rng, 3):
                cut.append(history.until(int(length)))
                true.append(history.rul()[length - 1])
        runs = Fleet(cut, fleet.settings, fleet.sensors)
        errors = []
        for window in WINDOWS:
            self.window = window
            errors.append(float(np.mean((self.predict(runs) - np.asarray(true)) ** 2)))
        return WINDOWS[int(np.argmin(errors))]

    def predict(self, fleet: Fleet) -> np.ndarray:
        fallback = self.mean_life.predict(fleet)
        predicted = np.empty(len(fleet))
        for i, history in enumerate(fleet.histories):
            t = history.time[-self.window :]
            y = history.sensors[-self.window :, self.sensor]
            predicted[i] = fallback[i]
            if len(t) < 3:
                continue
            slope, now = np.polyfit(t - t[-1], y, 1)
            if (now - self.level) * self.direction >= 0:
                predicted[i] = 0.0  # the trend is at or past the failure level already
            elif slope * self.direction > 0 and (self.level - now) / slope <= self.longest:
                predicted[i] = (self.level - now) / slope
            # else: a backward trend, or one so slow it would outlive every training run, is noise,
            # and the mean-life answer stands
        return predicted
