"""Operating regimes and sensor normalisation per regime.

An engine's measurements depend first on where it flies (altitude, Mach number, throttle: the
operating settings) and only second on its wear. Fleets that fly in several conditions (C-MAPSS FD002
and FD004: six) are made comparable by clustering the settings into regimes and z-scoring every sensor
within its regime; what is left is wear and noise. The number of regimes is found from the data: k-means
for k = 2..8 on the standardised settings, kept when its silhouette is clearly high (well separated
points, as flight conditions are), else one regime (settings that only jitter around one point).

A sensor is dropped when it carries nothing inside the regimes: one value (or one value nearly always)
in every regime of the training data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import silhouette_score

from indunet.apps.phm.histories import Fleet, History, ModelError

MAX_REGIMES = 8
SILHOUETTE = 0.7
"""Below this, the settings are taken for one condition with noise (k-means splits noise at about 0.35)."""
SILHOUETTE_SAMPLE = 1500
STARTS = 3
"""k-means runs per k; the one with the least within-cluster spread is kept."""
MODE_SHARE = 0.98
"""A sensor whose most common value covers this share of the rows in every regime is constant."""


@dataclass(frozen=True)
class Regimes:
    """Cluster centres of the operating settings, in the settings' standardised units."""

    mean: np.ndarray
    scale: np.ndarray
    centres: np.ndarray

    @property
    def count(self) -> int:
        return len(self.centres)

    def assign(self, settings: np.ndarray) -> np.ndarray:
        """The regime (0..count-1) of each row of settings: the nearest centre."""
        scaled = (np.asarray(settings, dtype=np.float64) - self.mean) / self.scale
        distances = ((scaled[:, None, :] - self.centres[None, :, :]) ** 2).sum(axis=2)
        return np.asarray(np.argmin(distances, axis=1), dtype=np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist(), "centres": self.centres.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Regimes:
        return cls(
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["scale"], dtype=np.float64),
            np.asarray(data["centres"], dtype=np.float64).reshape(-1, len(data["mean"])),
        )


def find_regimes(settings: np.ndarray, seed: int = 0, max_regimes: int = MAX_REGIMES) -> Regimes:
    """Regimes of the rows of ``settings`` (shape (n, settings)), their number chosen by silhouette."""
    settings = np.asarray(settings, dtype=np.float64)
    mean = settings.mean(axis=0)
    spread = settings.std(axis=0)
    scale = np.where(spread > 1e-12, spread, 1.0)
    scaled = (settings - mean) / scale
    one = Regimes(mean, scale, scaled.mean(axis=0, keepdims=True))
    if len(scaled) < 3 * max_regimes or not np.any(spread > 1e-12):
        return one
    rng = np.random.default_rng(seed)
    sample = scaled[rng.choice(len(scaled), min(len(scaled), SILHOUETTE_SAMPLE), replace=False)]
    best, best_score = one, SILHOUETTE
    for k in range(2, max_regimes + 1):
        centres, labels, _ = min((_kmeans(sample, k, rng) for _ in range(STARTS)), key=lambda run: run[2])
        if len(np.unique(labels)) < 2:
            continue
        score = float(silhouette_score(sample, labels))
        if score > best_score:
            best, best_score = Regimes(mean, scale, centres), score
    return best


def _kmeans(
    points: np.ndarray, k: int, rng: np.random.Generator, rounds: int = 50
) -> tuple[np.ndarray, np.ndarray, float]:
    """Lloyd's k-means from a k-means++ start. A few thousand points in three dimensions: plain numpy,
    single-threaded (a thread pool costs more than it saves here, and much more on a busy machine)."""
    centres = points[[rng.integers(len(points))]]
    for _ in range(1, k):
        nearest = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2).min(axis=1)
        if nearest.sum() <= 0:
            break
        centres = np.vstack([centres, points[rng.choice(len(points), p=nearest / nearest.sum())]])
    labels = np.zeros(len(points), dtype=np.int64)
    for _ in range(rounds):
        labels = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
        moved = np.array(
            [
                points[labels == j].mean(axis=0) if np.any(labels == j) else centres[j]
                for j in range(len(centres))
            ]
        )
        if np.allclose(moved, centres):
            break
        centres = moved
    spread = float(((points - centres[labels]) ** 2).sum())
    return centres, labels, spread


@dataclass(frozen=True)
class SensorScaler:
    """Per regime, the mean and spread of each kept sensor in the training data."""

    kept: np.ndarray
    """Indices of the sensors kept (those that vary inside the regimes)."""
    mean: np.ndarray
    """Shape (regimes, kept)."""
    scale: np.ndarray
    """Shape (regimes, kept)."""

    def transform(self, sensors: np.ndarray, regimes: np.ndarray) -> np.ndarray:
        """The kept sensors z-scored within each row's regime: shape (n, kept)."""
        values = np.asarray(sensors, dtype=np.float64)[:, self.kept]
        return np.asarray((values - self.mean[regimes]) / self.scale[regimes], dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"kept": self.kept.tolist(), "mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SensorScaler:
        kept = np.asarray(data["kept"], dtype=np.int64)
        return cls(
            kept,
            np.asarray(data["mean"], dtype=np.float64).reshape(-1, len(kept)),
            np.asarray(data["scale"], dtype=np.float64).reshape(-1, len(kept)),
        )


def _mode_share(column: np.ndarray) -> float:
    _, counts = np.unique(column, return_counts=True)
    return float(counts.max() / len(column))


def fit_scaler(sensors: np.ndarray, regimes: np.ndarray, count: int) -> SensorScaler:
    """Per-regime statistics of ``sensors`` (shape (n, sensors)); constant sensors are left out."""
    sensors = np.asarray(sensors, dtype=np.float64)
    constant = np.ones(sensors.shape[1], dtype=bool)
    for r in range(count):
        rows = sensors[regimes == r]
        if len(rows) < 2:
            continue
        for j in range(sensors.shape[1]):
            if rows[:, j].std() > 1e-9 and _mode_share(rows[:, j]) < MODE_SHARE:
                constant[j] = False
    kept = np.flatnonzero(~constant)
    mean = np.zeros((count, len(kept)))
    scale = np.ones((count, len(kept)))
    for r in range(count):
        rows = sensors[regimes == r][:, kept]
        if len(rows) == 0:
            continue
        mean[r] = rows.mean(axis=0)
        spread = rows.std(axis=0)
        scale[r] = np.where(spread > 1e-9, spread, 1.0)
    return SensorScaler(kept, mean, scale)


@dataclass(frozen=True)
class Normaliser:
    """The front end every remaining-life model shares: a fleet's operating regimes, and its sensors
    z-scored per regime with the statistics of healthy cycles (each unit's first ``healthy_cycles``;
    0: all), constant sensors left out."""

    sensors: tuple[str, ...]
    regimes: Regimes
    scaler: SensorScaler

    @classmethod
    def fit(cls, fleet: Fleet, healthy_cycles: int, seed: int) -> Normaliser:
        settings = np.concatenate([h.settings for h in fleet.histories])
        sensors = np.concatenate([h.sensors for h in fleet.histories])
        regimes = find_regimes(settings, seed=seed)
        age = np.concatenate([np.arange(len(h)) for h in fleet.histories])
        healthy = age < healthy_cycles if healthy_cycles > 0 else np.ones(len(age), dtype=bool)
        return cls(
            fleet.sensors,
            regimes,
            fit_scaler(sensors[healthy], regimes.assign(settings[healthy]), regimes.count),
        )

    def transform(self, history: History) -> np.ndarray:
        """The history's kept sensors, normalised: shape (cycles, kept)."""
        if history.sensors.shape[1] != len(self.sensors):
            raise ModelError(
                f"unit {history.unit}: {history.sensors.shape[1]} sensors, the model knows {len(self.sensors)}"
            )
        return self.scaler.transform(history.sensors, self.regimes.assign(history.settings))

    def to_dict(self) -> dict[str, Any]:
        return {
            "sensors": list(self.sensors),
            "regimes": self.regimes.to_dict(),
            "scaler": self.scaler.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normaliser:
        return cls(
            tuple(data["sensors"]), Regimes.from_dict(data["regimes"]), SensorScaler.from_dict(data["scaler"])
        )
