"""How well a remaining-useful-life configuration works: unit-grouped cross-validation that imitates an
official test set, and the official evaluation itself (train file, test file, truth file).

Cross-validation: the units are split into folds (GroupKFold, shuffled with a seed); for each fold the
model is fitted on the other folds only (regimes, normalisation, rounds and calibration included) and the
held-out runs are cut ``draws`` times each as a test set cuts them (truncation.py). The prediction at
the last kept cycle is scored against the remaining life there, uncapped and capped (metrics.report).
A fold of C-MAPSS FD001 (20 units, 5 cuts each) gives 100 predictions, as many as its test set has
units, so the fold's NASA score (a sum) is on the scale of the official one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold

from indunet.apps.phm import cmapss, metrics
from indunet.apps.phm.histories import Fleet
from indunet.apps.phm.model import RulConfig, RulModel
from indunet.apps.phm.truncation import cut_lengths

LEVELS = (0.8, 0.9)
SUMMARISED = ("rmse", "score", "rmse_capped", "score_capped")


def _coverage(model: Any, fleet: Fleet, true: np.ndarray, levels: tuple[float, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if model.calibration is None:
        return found
    for level in levels:
        _, lower, upper = model.predict_interval(fleet, level)
        inside = (true >= lower) & (true <= upper)
        found[f"{level:g}"] = {
            "coverage": round(float(inside.mean()), 3),
            "width": round(float(np.mean(upper - lower)), 1),
        }
    return found


def cross_validate(
    fleet: Fleet,
    config: RulConfig | None = None,
    folds: int = 5,
    draws: int = 5,
    seed: int = 0,
    levels: tuple[float, ...] = LEVELS,
    make: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Per fold: metrics.report of the cut held-out units, interval coverage, fitting seconds; and the
    mean and standard deviation over folds of RMSE and score, uncapped and capped. ``make`` gives an
    unfitted model (default: the boosting model with ``config``)."""
    config = config or RulConfig()
    make = make or (lambda: RulModel(config))
    units = np.arange(len(fleet))
    rng = np.random.default_rng(seed)
    reports: list[dict[str, Any]] = []
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_units, held_units in splitter.split(units, groups=units):
        train = Fleet([fleet.histories[u] for u in train_units], fleet.settings, fleet.sensors)
        started = time.perf_counter()
        model = make().fit(train)
        fitted = time.perf_counter() - started
        cut, true = [], []
        for u in held_units:
            history = fleet.histories[u]
            for length in cut_lengths(history, rng, draws):
                cut.append(history.until(int(length)))
                true.append(float(history.rul()[length - 1]))
        held = Fleet(cut, fleet.settings, fleet.sensors)
        truth = np.asarray(true)
        report = metrics.report(model.predict(held), truth)
        report["fit_seconds"] = round(fitted, 2)
        report["rounds"] = model.rounds
        report["intervals"] = _coverage(model, held, truth, levels)
        reports.append(report)
    summary: dict[str, Any] = {}
    for key in (*SUMMARISED, "fit_seconds"):
        values = np.asarray([r[key] for r in reports], dtype=np.float64)
        summary[key] = round(float(values.mean()), 3)
        summary[f"{key}_std"] = round(float(values.std()), 3)
    for level in levels:
        name = f"{level:g}"
        if all(name in r["intervals"] for r in reports):
            summary[f"coverage_{name}"] = round(
                float(np.mean([r["intervals"][name]["coverage"] for r in reports])), 3
            )
            summary[f"width_{name}"] = round(
                float(np.mean([r["intervals"][name]["width"] for r in reports])), 1
            )
    return {"config": make().config.to_dict(), "folds": reports, "summary": summary}


def evaluate_files(
    train: Path,
    test: Path,
    truth: Path,
    config: RulConfig | None = None,
    levels: tuple[float, ...] = LEVELS,
    make: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Fit on a C-MAPSS training file, predict the last cycle of each unit of a test file and judge the
    predictions against the truth file: metrics.report plus timing and interval coverage (JSON-able)."""
    started = time.perf_counter()
    runs = cmapss.read_runs(train)
    tests = cmapss.read_runs(test)
    true = cmapss.read_truth(truth, len(tests))
    read = time.perf_counter()
    model = (make or (lambda: RulModel(config)))().fit(runs)
    fitted = time.perf_counter()
    predicted = model.predict(tests)
    done = time.perf_counter()
    report = metrics.report(predicted, true)
    report.update(
        {
            "train": str(train),
            "test": str(test),
            "regimes": model.normaliser.regimes.count if model.normaliser else 0,
            "rounds": model.rounds,
            "read_seconds": round(read - started, 2),
            "fit_seconds": round(fitted - read, 2),
            "predict_seconds": round(done - fitted, 2),
            "intervals": _coverage(model, tests, true, levels),
        }
    )
    return report
