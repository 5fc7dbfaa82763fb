"""Evaluation: held-out units are cut as test units are, the model never sees a unit it is judged on,
and the official evaluation reads the three files and reports metrics and timing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.apps.phm.synthetic import make_fleet, write_cmapss

from indunet.apps.phm import evaluate
from indunet.apps.phm.features import FeatureSpec
from indunet.apps.phm.histories import Fleet, History
from indunet.apps.phm.model import RulConfig, RulModel
from indunet.apps.phm.truncation import HIGH, KEEP, LOW, cut_lengths

SMALL = FeatureSpec(means=(5, 20), slopes=(20,), stds=(), ewma=())
QUICK = RulConfig(features=SMALL, folds=0, rounds=60, learning_rate=0.1, threads=1)
CALIBRATED = RulConfig(features=SMALL, folds=3, max_rounds=200, learning_rate=0.1, threads=1)


def test_cuts_leave_test_like_remaining_lives() -> None:
    rng = np.random.default_rng(0)
    for life in (128, 200, 360):
        history = History("1", np.arange(1.0, life + 1), np.zeros((life, 3)), np.zeros((life, 2)))
        lengths = cut_lengths(history, rng, 2000)
        remaining = history.rul()[lengths - 1]
        assert remaining.min() >= LOW and remaining.max() <= min(HIGH, life - KEEP)
        assert lengths.min() >= KEEP
    # a long life spreads the cuts over the whole range, about evenly
    counts, _ = np.histogram(remaining, bins=5, range=(LOW, HIGH + 1))
    assert counts.min() > 0.7 * counts.mean()
    again = cut_lengths(history, np.random.default_rng(0), 3)
    np.testing.assert_array_equal(again, cut_lengths(history, np.random.default_rng(0), 3))


def test_a_short_run_is_still_cut_somewhere() -> None:
    history = History("1", np.arange(1.0, 21.0), np.zeros((20, 3)), np.zeros((20, 2)))
    lengths = cut_lengths(history, np.random.default_rng(0), 10)
    assert np.all((lengths >= 1) & (lengths <= 20))


def test_cross_validation_never_judges_a_unit_the_model_was_fitted_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fleet = make_fleet(20, seed=6)
    fitted_on: list[set[str]] = []
    judged: list[set[str]] = []
    fit, predict = RulModel.fit, RulModel.predict

    def spy_fit(self: RulModel, train: Fleet) -> RulModel:
        fitted_on.append({h.unit for h in train.histories})
        return fit(self, train)

    def spy_predict(self: RulModel, held: Fleet) -> Any:
        judged.append({h.unit for h in held.histories})
        return predict(self, held)

    monkeypatch.setattr(RulModel, "fit", spy_fit)
    monkeypatch.setattr(RulModel, "predict", spy_predict)
    report = evaluate.cross_validate(fleet, QUICK, folds=5, draws=3)
    assert len(report["folds"]) == 5 == len(fitted_on)
    assert set().union(*judged) == {h.unit for h in fleet.histories}
    for train, held in zip(fitted_on, judged, strict=True):
        assert not train & held
        assert len(train) + len(held) == 20
    assert all(fold["units"] == 4 * 3 for fold in report["folds"])
    summary = report["summary"]
    assert summary["rmse"] > 0 and summary["rmse_std"] >= 0


def test_cross_validation_reports_interval_coverage_when_calibrated() -> None:
    fleet = make_fleet(24, seed=8)
    summary = evaluate.cross_validate(fleet, CALIBRATED, folds=3, draws=4)["summary"]
    assert 0.6 <= summary["coverage_0.8"] <= 1.0
    assert summary["coverage_0.9"] >= summary["coverage_0.8"]
    assert summary["width_0.9"] >= summary["width_0.8"] > 0


def test_the_official_evaluation_reads_train_test_and_truth_files(tmp_path: Path) -> None:
    fleet = make_fleet(40, seed=9)
    train = Fleet(fleet.histories[:30], fleet.settings, fleet.sensors)
    rng = np.random.default_rng(3)
    cut, truth = [], []
    for number, history in enumerate(fleet.histories[30:], start=1):
        length = int(cut_lengths(history, rng, 1)[0])
        part = history.until(length)
        cut.append(History(str(number), part.time, part.settings, part.sensors))
        truth.append(int(history.rul()[length - 1]))
    paths = tmp_path / "train_FD009.txt", tmp_path / "test_FD009.txt", tmp_path / "RUL_FD009.txt"
    write_cmapss(paths[0], train)
    write_cmapss(paths[1], Fleet(cut, fleet.settings, fleet.sensors))
    paths[2].write_text("".join(f"{t}\n" for t in truth), encoding="ascii")
    report = evaluate.evaluate_files(*paths, config=CALIBRATED)
    assert report["units"] == 10
    assert report["rmse"] < 30.0
    assert {"score", "rmse_capped", "score_capped", "fit_seconds", "predict_seconds"} <= report.keys()
    assert set(report["intervals"]) == {"0.8", "0.9"}
