"""The naive baselines: mean life is plain arithmetic, and a straight line through a trending health
indicator finds failure better than knowing the mean life, and falls back to it when there is no trend."""

from __future__ import annotations

import numpy as np
from tests.apps.phm.synthetic import make_fleet

from indunet.apps.phm import metrics
from indunet.apps.phm.baselines import LinearExtrapolation, MeanLife
from indunet.apps.phm.histories import Fleet, History


def _linear_fleet(lives: list[int], seed: int) -> Fleet:
    """One sensor that falls linearly from 10 to 0 over each unit's life, one of noise."""
    rng = np.random.default_rng(seed)
    histories = []
    for number, life in enumerate(lives, start=1):
        time = np.arange(1.0, life + 1)
        wear = 10.0 * (1 - time / life) + rng.normal(0, 0.05, life)
        sensors = np.stack([rng.normal(0, 1, life), wear], axis=1)
        histories.append(History(str(number), time, np.zeros((life, 0)), sensors))
    return Fleet(histories, (), ("noise", "health"))


def test_mean_life_is_mean_life_minus_age() -> None:
    train = _linear_fleet([100, 200], 0)
    test = Fleet([train.histories[0].until(40), train.histories[1].until(190)], (), train.sensors)
    np.testing.assert_allclose(MeanLife().fit(train).predict(test), [110.0, 0.0])


def test_line_follows_the_indicator_to_the_failure_level() -> None:
    train = _linear_fleet([80, 120, 160, 200, 240], 1)
    model = LinearExtrapolation(window=20).fit(train)
    assert model.sensor == 1 and model.direction == -1.0 and abs(model.level) < 0.5
    test = _linear_fleet([100, 300], 2)
    cut = Fleet([test.histories[0].until(60), test.histories[1].until(150)], (), test.sensors)
    np.testing.assert_allclose(model.predict(cut), [40.0, 150.0], rtol=0.15)
    past = Fleet([test.histories[0]], (), test.sensors)
    assert model.predict(past)[0] < 5.0


def test_no_trend_falls_back_to_mean_life() -> None:
    train = _linear_fleet([80, 120], 3)
    model = LinearExtrapolation().fit(train)
    flat = History("9", np.arange(1.0, 41), np.zeros((40, 0)), np.stack([np.zeros(40), np.full(40, 9.0)], 1))
    backward = History(
        "10", np.arange(1.0, 41), np.zeros((40, 0)), np.stack([np.zeros(40), np.linspace(5, 9, 40)], 1)
    )
    predicted = model.predict(Fleet([flat, backward], (), train.sensors))
    np.testing.assert_allclose(predicted, [60.0, 60.0])


def test_extrapolation_beats_mean_life_on_wearing_engines() -> None:
    fleet = make_fleet(40, seed=5)
    train = Fleet(fleet.histories[:30], fleet.settings, fleet.sensors)
    held = fleet.histories[30:]
    cut = Fleet([h.until(len(h) - 20) for h in held], fleet.settings, fleet.sensors)
    true = np.full(len(held), 20.0)
    mean_life = metrics.rmse(MeanLife().fit(train).predict(cut), true)
    line = metrics.rmse(LinearExtrapolation().fit(train).predict(cut), true)
    assert line < mean_life
