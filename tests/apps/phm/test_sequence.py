"""The optional sequence model (a 1-D CNN on CPU PyTorch): better than knowing only how long units live,
honest intervals, and a saved model that predicts exactly as the fitted one. CI installs the
``sequence`` extra, so there the tests must run, not skip."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from tests.apps.phm.synthetic import make_fleet

from indunet.apps.phm import metrics
from indunet.apps.phm.histories import Fleet
from indunet.apps.phm.model import ModelError
from indunet.apps.phm.truncation import cut_lengths

if os.environ.get("CI") != "true":
    pytest.importorskip("torch")

from indunet.apps.phm.sequence import SequenceConfig, SequenceModel

FAST = SequenceConfig(threads=1)


@pytest.fixture(scope="module")
def fitted() -> tuple[SequenceModel, Fleet]:
    fleet = make_fleet(70, seed=4)
    train = Fleet(fleet.histories[:50], fleet.settings, fleet.sensors)
    held = Fleet(fleet.histories[50:], fleet.settings, fleet.sensors)
    return SequenceModel(FAST).fit(train), held


def _cut(held: Fleet) -> tuple[Fleet, np.ndarray]:
    rng = np.random.default_rng(9)
    cut, true = [], []
    for history in held.histories:
        for length in cut_lengths(history, rng, 4):
            cut.append(history.until(int(length)))
            true.append(float(history.rul()[length - 1]))
    return Fleet(cut, held.settings, held.sensors), np.asarray(true)


def test_beats_the_mean_life_baseline_on_held_out_units(fitted: tuple[SequenceModel, Fleet]) -> None:
    model, held = fitted
    cut, true = _cut(held)
    ours = metrics.rmse(model.predict(cut), true)
    lives = np.asarray([len(h) for h in held.histories], dtype=float).mean()
    ages = np.asarray([len(h) for h in cut.histories], dtype=float)
    naive = metrics.rmse(np.maximum(lives - ages, 0.0), true)
    assert ours < 0.65 * naive, (ours, naive)
    assert model.rounds >= 1


def test_intervals_hold_the_truth_about_as_often_as_they_say(fitted: tuple[SequenceModel, Fleet]) -> None:
    model, held = fitted
    cut, true = _cut(held)
    predicted, lower, upper = model.predict_interval(cut, 0.9)
    inside = float(np.mean((true >= lower) & (true <= upper)))
    assert inside > 0.7 and np.all(lower <= predicted) and np.all(predicted <= upper)


def test_a_saved_model_predicts_as_the_fitted_one(fitted: tuple[SequenceModel, Fleet]) -> None:
    model, held = fitted
    again = SequenceModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert np.allclose(again.predict(held), model.predict(held), atol=1e-4)
    with pytest.raises(ModelError, match=r"not a indunet\.phm\.sequence/1"):
        SequenceModel.from_dict({"format": "other"})
    with pytest.raises(ModelError, match="at least four"):
        SequenceModel(FAST).fit(Fleet(held.histories[:2], held.settings, held.sensors))
