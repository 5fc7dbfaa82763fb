"""The remaining-useful-life model: better than knowing only how long engines live, honest intervals,
and a saved model that predicts exactly as the one that was fitted."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tests.apps.phm.synthetic import make_fleet

from indunet.apps.phm import metrics
from indunet.apps.phm.features import FeatureSpec
from indunet.apps.phm.histories import Fleet, History
from indunet.apps.phm.model import ModelError, RulConfig, RulModel
from indunet.apps.phm.truncation import cut_lengths

FAST = RulConfig(
    features=FeatureSpec(means=(5, 20), slopes=(20,), stds=(), ewma=()),
    folds=3,
    max_rounds=300,
    learning_rate=0.1,
    draws=10,
    threads=1,
)
"""Small and quick: the tests judge the method, not the last cycle of accuracy."""


def _cut(fleet: Fleet, seed: int, draws: int = 5) -> tuple[Fleet, np.ndarray]:
    rng = np.random.default_rng(seed)
    cut: list[History] = []
    true: list[float] = []
    for history in fleet.histories:
        for length in cut_lengths(history, rng, draws):
            cut.append(history.until(int(length)))
            true.append(float(history.rul()[length - 1]))
    return Fleet(cut, fleet.settings, fleet.sensors), np.asarray(true)


def _mean_life(train: Fleet, cut: Fleet) -> np.ndarray:
    """What one knows without sensors: engines live this long on average, this one is so old."""
    life = np.mean([len(h) for h in train.histories])
    return np.maximum(life - np.array([h.time[-1] for h in cut.histories]), 0.0)


@pytest.fixture(scope="module")
def split() -> tuple[Fleet, Fleet]:
    fleet = make_fleet(50, seed=11, conditions=3)
    return (
        Fleet(fleet.histories[:35], fleet.settings, fleet.sensors),
        Fleet(fleet.histories[35:], fleet.settings, fleet.sensors),
    )


@pytest.fixture(scope="module")
def fitted(split: tuple[Fleet, Fleet]) -> RulModel:
    return RulModel(FAST).fit(split[0])


def test_beats_the_mean_life_baseline_on_held_out_units(split: tuple[Fleet, Fleet], fitted: RulModel) -> None:
    train, held = split
    cut, true = _cut(held, seed=1)
    model_rmse = metrics.rmse(fitted.predict(cut), true)
    baseline_rmse = metrics.rmse(_mean_life(train, cut), true)
    assert model_rmse < 0.6 * baseline_rmse
    assert fitted.normaliser is not None and fitted.normaliser.regimes.count == 3


def test_beats_the_mean_life_baseline_on_real_fd001_units(fd001: Fleet) -> None:
    train = Fleet(fd001.histories[:40], fd001.settings, fd001.sensors)
    held = Fleet(fd001.histories[80:], fd001.settings, fd001.sensors)
    model = RulModel(replace(FAST, folds=0, rounds=100)).fit(train)
    cut, true = _cut(held, seed=2)
    model_rmse = metrics.rmse(model.predict(cut), true)
    assert model_rmse < 0.7 * metrics.rmse(_mean_life(train, cut), true)
    assert model_rmse < 20.0


def test_intervals_cover_about_their_nominal_share(split: tuple[Fleet, Fleet], fitted: RulModel) -> None:
    _, held = split
    cut, true = _cut(held, seed=3, draws=20)
    for level in (0.8, 0.9):
        predicted, lower, upper = fitted.predict_interval(cut, level)
        assert np.all(lower <= predicted) and np.all(predicted <= upper)
        assert np.all(lower >= 0)
        coverage = float(np.mean((true >= lower) & (true <= upper)))
        assert level - 0.12 <= coverage <= min(level + 0.1, 1.0)
    narrow = fitted.predict_interval(cut, 0.5)
    wide = fitted.predict_interval(cut, 0.95)
    assert np.all(wide[2] - wide[1] >= narrow[2] - narrow[1])


def test_save_and_load_give_identical_predictions(
    tmp_path: Path, split: tuple[Fleet, Fleet], fitted: RulModel
) -> None:
    _, held = split
    cut, _ = _cut(held, seed=4)
    path = tmp_path / "model.json"
    fitted.save(path)
    loaded = RulModel.load(path)
    np.testing.assert_array_equal(loaded.predict(cut), fitted.predict(cut))
    for a, b in zip(loaded.predict_interval(cut, 0.8), fitted.predict_interval(cut, 0.8), strict=True):
        np.testing.assert_array_equal(a, b)
    assert loaded.config == fitted.config
    assert json.loads(path.read_text())["format"] == "indunet.phm.rul/1"


def test_damaged_or_foreign_model_files_are_refused(tmp_path: Path, fitted: RulModel) -> None:
    path = tmp_path / "model.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match=r"model\.json"):
        RulModel.load(path)
    path.write_text(json.dumps({"format": "something else"}), encoding="utf-8")
    with pytest.raises(ModelError, match=r"not a indunet\.phm\.rul/1 model"):
        RulModel.load(path)
    data = fitted.to_dict()
    data["boosters"] = ["tree\nnonsense"]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelError, match="damaged"):
        RulModel.load(path)


def test_data_the_model_was_not_made_for_is_refused(split: tuple[Fleet, Fleet], fitted: RulModel) -> None:
    _, held = split
    h = held.histories[0]
    narrow = History(h.unit, h.time, h.settings, h.sensors[:, :20])
    with pytest.raises(ModelError, match="20 sensors, the model knows 21"):
        fitted.predict(Fleet([narrow], held.settings, held.sensors[:20]))
    with pytest.raises(ModelError, match="not fitted"):
        RulModel().predict(held)
    with pytest.raises(ModelError, match="level"):
        fitted.predict_interval(held, 1.5)
