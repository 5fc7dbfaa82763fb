"""Remaining-useful-life model: regimes, per-regime normalisation, a linear health index, causal
window features, gradient boosting on a capped target, and split-conformal prediction intervals.

Fitting runs in four steps:

1. Operating regimes are found in the training settings and every sensor is z-scored per regime with
   the statistics of the units' first cycles (regimes.py); constant sensors are dropped.
2. A health index: the least-squares combination of the normalised sensors that best tells the capped
   remaining life. Trees split one feature at a time and are poor at adding up many weak noisy
   signals; the index does that for them, and its windows (features.py) join the sensors' own.
3. Inner unit-grouped folds: a booster per fold, stopped early on the held-out units, then asked for
   the remaining life of the held-out units cut as a test set would cut them (truncation.py). The mean
   best number of rounds is kept, and so are the residuals (truth minus prediction, truth uncapped),
   which calibrate the intervals.
4. The final boosters (one per seed, averaged) on all the training rows.

The target is the remaining life capped at ``cap`` cycles: early in a run nothing in the sensors says
how far failure is, and a capped target stops the model from guessing. The cap (130), the training
rows kept (31 cycles of age on, at most 175 cycles before failure) and the rest of the defaults were
chosen by the cross-validation of evaluate.py on the four C-MAPSS training sets, against the uncapped
truth. An interval at level ``p`` is the
prediction plus the residual quantiles ``(1-p)/2`` and ``(1+p)/2`` among the calibration residuals whose
prediction fell in the same band (Mondrian split-conformal: close to failure the model is sharper).

A model is saved as one JSON document: the configuration, the regimes and scaler, LightGBM's own text
form of each booster and the calibration residuals. Nothing is pickled.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.model_selection import GroupKFold

from indunet.apps.phm.features import FeatureSpec, unit_features
from indunet.apps.phm.histories import Fleet, History, ModelError
from indunet.apps.phm.regimes import Normaliser
from indunet.apps.phm.truncation import cut_lengths

FORMAT = "indunet.phm.rul/1"


@dataclass(frozen=True)
class RulConfig:
    cap: float = 130.0
    """Target cap in cycles (piecewise-linear remaining life)."""
    features: FeatureSpec = field(default_factory=FeatureSpec)
    min_cycles: int = 31
    """Training rows start at this many cycles of a unit's life (test units have at least 31)."""
    max_rul: float = 175.0
    """Training rows are at most this many cycles before failure (0: all rows). Tested units are
    cut at most about 150 cycles before theirs; long-lived fleets (FD004) otherwise spend most of
    their rows on healthy engines."""
    healthy_cycles: int = 50
    """Sensor statistics per regime from each unit's first cycles only (0: from all rows): the
    spread of a healthy engine is then the unit of every sensor."""
    health: tuple[float, ...] = (0.0,)
    """Linear health indices added as signals: per entry, the least squares of the normalised sensors
    for the remaining life capped at that many cycles (0: at ``cap``)."""
    leaves: int = 15
    learning_rate: float = 0.03
    max_rounds: int = 2000
    rounds: int = 0
    """Boosting rounds of the final model; 0: chosen by early stopping in the inner folds."""
    min_child: int = 50
    feature_fraction: float = 0.5
    bagging_fraction: float = 0.8
    seeds: int = 1
    """Boosters averaged in the final model."""
    folds: int = 5
    """Inner folds for rounds and interval calibration; 0 or 1: none (then ``rounds`` must be set)."""
    draws: int = 5
    """Cuts per held-out unit in calibration."""
    bands: int = 3
    """Prediction bands of the Mondrian calibration."""
    seed: int = 0
    threads: int = 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RulConfig:
        values = dict(data)
        if "health" in values:
            values["health"] = tuple(values["health"])
        spec = dict(values.pop("features", {}))
        for key in ("means", "slopes", "stds", "ewma"):
            if key in spec:
                spec[key] = tuple(spec[key])
        return cls(features=FeatureSpec(**spec), **values)


@dataclass(frozen=True)
class Calibration:
    """Out-of-fold predictions at test-like cuts and the truth (uncapped) there."""

    predicted: np.ndarray
    true: np.ndarray
    edges: np.ndarray
    """Inner edges of the prediction bands."""

    def residuals(self, predicted: float, level: float) -> np.ndarray:
        """Truth minus prediction of the calibration points in the band of ``predicted``; all of them
        when the band holds too few to place the ``level`` quantiles."""
        band = int(np.searchsorted(self.edges, predicted))
        which = np.searchsorted(self.edges, self.predicted) == band
        if which.sum() + 1 < 2 / (1 - level):
            which[:] = True
        return np.asarray((self.true - self.predicted)[which], dtype=np.float64)

    def intervals(self, predicted: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``predicted`` and the bounds of intervals that hold the truth with probability ``level``."""
        if not 0 < level < 1:
            raise ModelError(f"an interval level is between 0 and 1, not {level}")
        lower, upper = np.empty_like(predicted), np.empty_like(predicted)
        for i, p in enumerate(predicted):
            lo, hi = residual_quantiles(self.residuals(float(p), level), level)
            lower[i], upper[i] = max(min(p + lo, p), 0.0), max(p + hi, p)
        return predicted, lower, upper

    def to_dict(self) -> dict[str, Any]:
        return {
            "predicted": self.predicted.tolist(),
            "true": self.true.tolist(),
            "edges": self.edges.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Calibration | None:
        if data is None:
            return None
        return cls(
            np.asarray(data["predicted"], dtype=np.float64),
            np.asarray(data["true"], dtype=np.float64),
            np.asarray(data["edges"], dtype=np.float64),
        )


def _params(config: RulConfig, seed: int) -> dict[str, Any]:
    return {
        "objective": "regression",
        "metric": "l2",
        "num_leaves": config.leaves,
        "learning_rate": config.learning_rate,
        "min_child_samples": config.min_child,
        "feature_fraction": config.feature_fraction,
        "bagging_fraction": config.bagging_fraction,
        "bagging_freq": 1 if config.bagging_fraction < 1 else 0,
        "lambda_l2": 1.0,
        "seed": seed,
        "num_threads": config.threads,
        "verbose": -1,
        "deterministic": True,
        "force_row_wise": True,
    }


class RulModel:
    """Fit on a fleet of runs to failure; predict the remaining life at the last cycle of each history."""

    def __init__(self, config: RulConfig | None = None) -> None:
        self.config = config or RulConfig()
        self.normaliser: Normaliser | None = None
        self.health = np.zeros((0, 0))
        """Weights of the health indices, shape (1 + kept sensors, indices): intercept first."""
        self.boosters: list[lgb.Booster] = []
        self.rounds = 0
        self.calibration: Calibration | None = None

    @property
    def sensors(self) -> tuple[str, ...]:
        return self.normaliser.sensors if self.normaliser else ()

    # -- features -------------------------------------------------------------------------------------

    def features(self, history: History) -> np.ndarray:
        """Feature rows of a history, one per cycle (each from that cycle and the ones before)."""
        if self.normaliser is None:
            raise ModelError("the model is not fitted")
        z = self.normaliser.transform(history)
        if self.health.size:
            z = np.concatenate([z, z @ self.health[1:] + self.health[0]], axis=1)
        return unit_features(z, history.time, self.config.features)

    def feature_names(self) -> list[str]:
        if self.normaliser is None:
            raise ModelError("the model is not fitted")
        names = tuple(self.sensors[i] for i in self.normaliser.scaler.kept)
        indices = tuple(f"health{c:g}" for c in self._health_caps())
        return self.config.features.names(names + indices)

    def _health_caps(self) -> list[float]:
        return [c if c > 0 else self.config.cap for c in self.config.health]

    def _training_rows(self, fleet: Fleet) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
        matrices, targets, groups = [], [], []
        per_unit = []
        for number, history in enumerate(fleet.histories):
            features = self.features(history)
            per_unit.append(features)
            rul = history.rul()
            rows = np.arange(len(history)) >= self.config.min_cycles - 1
            if self.config.max_rul > 0:
                rows &= rul <= self.config.max_rul
            matrices.append(features[rows])
            targets.append(np.minimum(rul[rows], self.config.cap))
            groups.append(np.full(len(targets[-1]), number))
        return np.concatenate(matrices), np.concatenate(targets), np.concatenate(groups), per_unit

    def _fit_health(self, fleet: Fleet) -> np.ndarray:
        """Least-squares weights (intercept first) of the normalised sensors for the capped remaining
        life: one linear health index that pools the sensors' evidence before the trees see it."""
        assert self.normaliser is not None
        rows, targets = [], []
        for history in fleet.histories:
            z = self.normaliser.transform(history)
            rul = history.rul()
            keep = rul <= self.config.max_rul if self.config.max_rul > 0 else np.ones(len(rul), dtype=bool)
            rows.append(z[keep])
            targets.append(rul[keep])
        x = np.concatenate(rows)
        y = np.concatenate(targets)
        design = np.concatenate([np.ones((len(x), 1)), x], axis=1)
        ridge = np.eye(design.shape[1]) * 1e-3 * len(x)
        ridge[0, 0] = 0.0
        caps = self._health_caps()
        if not caps:
            return np.zeros((design.shape[1], 0))
        goals = np.stack([np.minimum(y, c) for c in caps], axis=1)
        return np.asarray(np.linalg.solve(design.T @ design + ridge, design.T @ goals), dtype=np.float64)

    # -- fitting --------------------------------------------------------------------------------------

    def fit(self, fleet: Fleet) -> RulModel:
        if len(fleet) < 2:
            raise ModelError("fitting needs at least two runs to failure")
        config = self.config
        self.normaliser = Normaliser.fit(fleet, config.healthy_cycles, config.seed)
        self.health = self._fit_health(fleet)
        x, y, groups, per_unit = self._training_rows(fleet)
        self.rounds = config.rounds
        self.calibration = None
        if config.folds >= 2 and len(fleet) >= config.folds:
            self._inner_folds(fleet, x, y, groups, per_unit)
        if self.rounds <= 0:
            raise ModelError("no rounds: set rounds, or folds >= 2 to choose them")
        self.boosters = [
            lgb.train(_params(config, config.seed + k), lgb.Dataset(x, y), num_boost_round=self.rounds)
            for k in range(config.seeds)
        ]
        return self

    def _inner_folds(
        self, fleet: Fleet, x: np.ndarray, y: np.ndarray, groups: np.ndarray, per_unit: list[np.ndarray]
    ) -> None:
        config = self.config
        rng = np.random.default_rng(config.seed)
        best: list[int] = []
        predicted: list[float] = []
        true: list[float] = []
        units = np.arange(len(fleet))
        splitter = GroupKFold(n_splits=config.folds, shuffle=True, random_state=config.seed)
        for train_units, held_units in splitter.split(units, groups=units):
            train = np.isin(groups, train_units)
            held = ~train
            booster = lgb.train(
                _params(config, config.seed),
                lgb.Dataset(x[train], y[train]),
                num_boost_round=config.rounds or config.max_rounds,
                valid_sets=[lgb.Dataset(x[held], y[held])],
                callbacks=[] if config.rounds else [lgb.early_stopping(100, verbose=False)],
            )
            best.append(booster.best_iteration or booster.current_iteration())
            for u in held_units:
                lengths = cut_lengths(fleet.histories[u], rng, config.draws)
                rows = per_unit[u][lengths - 1]
                predicted.extend(np.maximum(booster.predict(rows, num_iteration=best[-1]), 0.0))
                true.extend(fleet.histories[u].rul()[lengths - 1])
        if not config.rounds:
            self.rounds = max(round(float(np.mean(best))), 1)
        p = np.asarray(predicted, dtype=np.float64)
        edges = np.quantile(p, np.linspace(0.0, 1.0, max(config.bands, 1) + 1)[1:-1])
        self.calibration = Calibration(
            p, np.asarray(true, dtype=np.float64), np.asarray(edges, dtype=np.float64)
        )

    # -- prediction -----------------------------------------------------------------------------------

    def predict_rows(self, features: np.ndarray) -> np.ndarray:
        """Remaining life for rows of features (shape (n, features))."""
        if not self.boosters:
            raise ModelError("the model is not fitted")
        total = np.zeros(len(features))
        for booster in self.boosters:
            total += booster.predict(features)
        return np.maximum(total / len(self.boosters), 0.0)

    def predict(self, fleet: Fleet) -> np.ndarray:
        """The remaining life at the last cycle of each history, in fleet order."""
        rows = np.stack([self.features(h)[-1] for h in fleet.histories])
        return self.predict_rows(rows)

    def predict_interval(self, fleet: Fleet, level: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predictions and the bounds of intervals that hold the truth with probability ``level``."""
        if self.calibration is None:
            raise ModelError("the model has no calibration (fitted with folds < 2)")
        return self.calibration.intervals(self.predict(fleet), level)

    # -- persistence ----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        if self.normaliser is None or not self.boosters:
            raise ModelError("the model is not fitted")
        return {
            "format": FORMAT,
            "config": self.config.to_dict(),
            **self.normaliser.to_dict(),
            "health": self.health.tolist(),
            "rounds": self.rounds,
            "boosters": [b.model_to_string() for b in self.boosters],
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RulModel:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelError(f"not a {FORMAT} model")
        try:
            model = cls(RulConfig.from_dict(data["config"]))
            model.normaliser = Normaliser.from_dict(data)
            model.health = np.asarray(data["health"], dtype=np.float64).reshape(
                len(model.normaliser.scaler.kept) + 1, len(model.config.health)
            )
            model.rounds = int(data["rounds"])
            model.boosters = [lgb.Booster(model_str=text) for text in data["boosters"]]
            model.calibration = Calibration.from_dict(data["calibration"])
        except (KeyError, TypeError, ValueError, lgb.basic.LightGBMError) as exc:
            raise ModelError(f"a damaged {FORMAT} model: {exc}") from None
        return model

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict()), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> RulModel:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path}: {exc}") from None
        return cls.from_dict(data)


def residual_quantiles(residuals: np.ndarray, level: float) -> tuple[float, float]:
    """Split-conformal bounds: the residual order statistics that hold ``level`` of the mass with the
    finite-sample correction ((n + 1) instead of n)."""
    n = len(residuals)
    if n == 0:
        return -math.inf, math.inf
    ordered = np.sort(residuals)
    tail = (1.0 - level) / 2.0
    low_rank = math.floor(tail * (n + 1))
    high_rank = math.ceil((1.0 - tail) * (n + 1))
    low = ordered[low_rank - 1] if low_rank >= 1 else -math.inf
    high = ordered[high_rank - 1] if high_rank <= n else math.inf
    return float(low), float(high)
