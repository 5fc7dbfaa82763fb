"""Predictive maintenance: fitting and scoring the remaining-useful-life model, and streaming anomaly scores.

Training: ``RulModel`` with its default configuration (regimes, health index, window features, five
inner folds for the rounds and the interval calibration, the final booster) on the NASA C-MAPSS FD001
training set (100 engines, 20,631 cycles; a synthetic fleet of the same size when the file is not
there), against a bare ``lightgbm.train`` of the same number of rounds, leaves and learning rate on the
raw sensor matrix with the same capped target: what gradient boosting alone costs. The issue's target
is a whole training set fitted in under 2 minutes on the 2-core machine.

Scoring: the feature pipeline (per-regime normalisation, health index, causal windows) and the booster
over every cycle of the fleet, against the bare booster predicting the raw sensor matrix.

Streaming: rows of 8 points assembled point by point (``RowAssembler``: update each sample, then
``row(ts)``) and scored one at a time by ``PcaDetector.score_row`` (T² + Q), and by the river scorers
of ``StreamDetector``, against numpy scoring the same rows with the same PCA model in one batch.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from _common import record, write_results
from indunet.apps.phm.anomaly import PcaDetector, StreamDetector
from indunet.apps.phm.cmapss import SENSORS, SETTINGS, read_runs
from indunet.apps.phm.histories import Fleet, History
from indunet.apps.phm.model import RulModel
from indunet.apps.phm.rows import RowAssembler

NAME = "phm"
FD001 = Path("/work/shared/data/cmapss/train_FD001.txt.gz")
PER = 10_000
"""Unit-cycles per reported figure."""
INPUTS = tuple(f"p{n}" for n in range(8))


def _synthetic_fleet(units: int, seed: int = 0) -> Fleet:
    """Runs to failure in the shape of FD001 (one condition, ~206 cycles a unit, a few wearing
    sensors), for machines without the data set."""
    rng = np.random.default_rng(seed)
    levels = rng.uniform(10.0, 500.0, len(SENSORS))
    gains = rng.uniform(2.0, 4.0, len(SENSORS)) * rng.choice([-1.0, 1.0], len(SENSORS))
    histories = []
    for unit in range(1, units + 1):
        length = int(rng.integers(128, 362))
        onset = length - int(rng.integers(70, 128))
        cycles = np.arange(1, length + 1, dtype=np.float64)
        wear = np.clip((cycles - onset) / (length - onset), 0.0, None) ** 2
        settings = rng.normal(0.0, 0.002, (length, len(SETTINGS)))
        sensors = levels + rng.normal(0.0, 1.0, (length, len(SENSORS)))
        for j in (1, 2, 3, 6, 10, 13):
            sensors[:, j] += gains[j] * 3.0 * wear
        histories.append(History(str(unit), cycles, settings, sensors))
    return Fleet(histories, SETTINGS, SENSORS)


def _fleet(quick: bool) -> tuple[Fleet, str]:
    if FD001.exists():
        fleet, label = read_runs(FD001), "C-MAPSS FD001"
    else:
        fleet, label = _synthetic_fleet(100), "synthetic fleet in the shape of FD001"
    if quick:
        fleet = Fleet(fleet.histories[:30], fleet.settings, fleet.sensors)
        label += ", first 30 units"
    return fleet, label


def _raw(fleet: Fleet, cap: float) -> tuple[np.ndarray, np.ndarray]:
    """The raw sensor matrix (one row per cycle) and the remaining life capped at ``cap``."""
    x = np.concatenate([h.sensors for h in fleet.histories])
    y = np.concatenate([np.minimum(h.rul(), cap) for h in fleet.histories])
    return x, y


def _train(fleet: Fleet) -> tuple[RulModel, float, float, lgb.Booster, float]:
    start, cpu = time.perf_counter(), time.process_time()
    model = RulModel().fit(fleet)
    fit_s, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    config = model.config
    x, y = _raw(fleet, config.cap)
    params = {
        "objective": "regression",
        "num_leaves": config.leaves,
        "learning_rate": config.learning_rate,
        "num_threads": config.threads,
        "seed": config.seed,
        "verbose": -1,
    }
    start = time.perf_counter()
    bare = lgb.train(params, lgb.Dataset(x, y), num_boost_round=model.rounds)
    bare_s = time.perf_counter() - start
    return model, fit_s, fit_cpu, bare, bare_s


def _score(model: RulModel, bare: lgb.Booster, fleet: Fleet) -> tuple[float, float]:
    x, _ = _raw(fleet, model.config.cap)
    best, best_bare = float("inf"), float("inf")
    for _ in range(3):
        start = time.perf_counter()
        features = np.concatenate([model.features(h) for h in fleet.histories])
        model.predict_rows(features)
        best = min(best, time.perf_counter() - start)
        start = time.perf_counter()
        bare.predict(x, num_threads=model.config.threads)
        best_bare = min(best_bare, time.perf_counter() - start)
    return best, best_bare


def _plant_rows(n: int, seed: int) -> np.ndarray:
    """Healthy rows of 8 correlated points: three hidden drivers (load, speed, temperature) and noise."""
    rng = np.random.default_rng(seed)
    drivers = rng.normal(0.0, 1.0, (n, 3))
    mixing = rng.normal(0.0, 1.0, (3, len(INPUTS)))
    return 50.0 + 10.0 * drivers @ mixing + rng.normal(0.0, 0.5, (n, len(INPUTS)))


def _stream(detector: PcaDetector | StreamDetector, rows: np.ndarray) -> float:
    """Seconds to assemble and score ``rows`` point by point, one sample a second per point."""
    assembler = RowAssembler(INPUTS)
    values = rows.tolist()  # telemetry arrives as Python floats
    start = time.perf_counter()
    for i, row_values in enumerate(values):
        ts = 1_764_000_000_000_000 + i * 1_000_000
        for point, value in zip(INPUTS, row_values, strict=True):
            assembler.update(point, ts, value)
        row = assembler.row(ts)
        assert row is not None
        detector.score_row(row)
    return time.perf_counter() - start


def _batch(detector: PcaDetector, rows: np.ndarray) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        detector.score(rows)
        best = min(best, time.perf_counter() - start)
    return best


def run(quick: bool = False) -> list[dict[str, Any]]:
    fleet, label = _fleet(quick)
    cycles = sum(len(h) for h in fleet.histories)
    model, fit_s, fit_cpu, bare, bare_s = _train(fleet)
    score_s, bare_score_s = _score(model, bare, fleet)

    healthy = _plant_rows(10_000, seed=1)
    streamed = _plant_rows(5_000 if quick else 20_000, seed=2)
    points = streamed.size
    pca = PcaDetector.fit(healthy, INPUTS)
    pca_s = _stream(pca, streamed)
    batch_s = _batch(pca, streamed)
    river = StreamDetector.fit(healthy, INPUTS, window=2_000)
    river_rows = streamed[: len(streamed) // 4]
    river_s = _stream(river, river_rows)

    scale = PER / cycles
    trees = (
        f"{model.rounds} rounds, {model.config.leaves} leaves, learning rate {model.config.learning_rate:g}"
    )
    results = [
        record(
            f"phm_train: remaining-life model fit per 10,000 unit-cycles ({label}, default RulConfig: "
            "5 inner folds + final booster)",
            fit_s * scale, "s",
            f"bare lightgbm.train on the raw sensor matrix ({trees}, same capped target)",
            bare_s * scale, "reported",
        ),
        record(
            f"phm_train: whole training set fitted ({label}, {cycles:,} cycles; {fit_cpu:.0f} s of CPU)",
            fit_s, "s",
            "bare lightgbm.train on the raw sensor matrix, same rounds",
            bare_s, "< 120 s",
        ),
        record(
            f"phm_score: features + prediction per 10,000 unit-cycles (every cycle of {len(fleet)} units)",
            score_s * scale, "s",
            "the bare booster predicting the raw sensor matrix",
            bare_score_s * scale, "reported",
        ),
        record(
            "phm_stream: 8-point rows assembled point by point and scored one at a time (PcaDetector, T² + Q)",
            points / pca_s, "points/s",
            "numpy scoring the same rows with the same PCA model in one batch",
            points / batch_s, "reported",
        ),
        record(
            f"phm_stream_river: the first {len(river_rows):,} rows of the same stream scored by "
            "StreamDetector (river Gaussian scorers, 2,000-row windows)",
            river_rows.size / river_s, "points/s",
            "numpy scoring the same rows with the PCA model in one batch",
            points / batch_s, "reported",
        ),
    ]  # fmt: skip
    write_results(NAME, results)
    return results


if __name__ == "__main__":
    for item in run(quick="--quick" in sys.argv):
        print(item)
