"""Health features: what they compute, and that a feature at cycle t never uses what came after t."""

from __future__ import annotations

import numpy as np
import pytest
from tests.apps.phm.synthetic import make_fleet

from indunet.apps.phm.features import FeatureSpec, unit_features
from indunet.apps.phm.histories import Fleet
from indunet.apps.phm.model import RulConfig, RulModel

SPEC = FeatureSpec()


def _noise(n: int = 80, sensors: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, sensors))


@pytest.mark.parametrize("cut", [0, 1, 4, 19, 45, 78])
def test_changing_the_future_changes_no_feature_of_the_past(cut: int) -> None:
    z = _noise()
    time = np.arange(1.0, len(z) + 1)
    changed = z.copy()
    changed[cut + 1 :] += np.random.default_rng(1).normal(0, 50, changed[cut + 1 :].shape)
    before, after = unit_features(z, time, SPEC), unit_features(changed, time, SPEC)
    np.testing.assert_array_equal(before[: cut + 1], after[: cut + 1])
    assert not np.allclose(before[cut + 1 :], after[cut + 1 :])


def test_the_whole_model_is_causal_a_cut_history_predicts_as_its_row_of_the_full_one() -> None:
    fleet = make_fleet(20, seed=3)
    model = RulModel(RulConfig(folds=0, rounds=40, threads=1)).fit(fleet)
    history = fleet.histories[0]
    full = model.predict_rows(model.features(history))
    for cycles in (1, 31, len(history) // 2, len(history)):
        cut = Fleet([history.until(cycles)], fleet.settings, fleet.sensors)
        assert model.predict(cut)[0] == pytest.approx(full[cycles - 1])


def test_windows_slopes_and_drift_are_what_they_say() -> None:
    z = _noise(60, 2)
    time = np.arange(1.0, 61.0)
    features = unit_features(z, time, SPEC)
    names = SPEC.names(("a", "b"))
    assert features.shape == (60, len(names))
    column = {name: features[:, i] for i, name in enumerate(names)}
    t = 40
    np.testing.assert_array_equal(column["age"], time)
    assert column["b_last"][t] == z[t, 1]
    assert column["a_mean10"][t] == pytest.approx(z[t - 9 : t + 1, 0].mean())
    assert column["a_mean30"][5] == pytest.approx(z[:6, 0].mean())  # a young unit: the rows it has
    slope = np.polyfit(np.arange(t - 19, t + 1), z[t - 19 : t + 1, 1], 1)[0]
    assert column["b_slope20"][t] == pytest.approx(slope)
    assert column["a_slope_all"][t] == pytest.approx(np.polyfit(np.arange(t + 1), z[: t + 1, 0], 1)[0])
    assert column["a_slope10"][0] == 0.0
    assert column["a_std10"][t] == pytest.approx(z[t - 9 : t + 1, 0].std())
    baseline = z[: SPEC.baseline, 0].mean()
    assert column["a_drift"][t] == pytest.approx(z[t - 9 : t + 1, 0].mean() - baseline)


def test_a_straight_line_has_its_slope_in_every_window() -> None:
    z = np.linspace(0.0, 9.9, 100)[:, None] * np.array([[1.0, -2.0]])
    features = unit_features(z, np.arange(1.0, 101.0), SPEC)
    names = SPEC.names(("up", "down"))
    for w in (*SPEC.slopes, "_all"):
        name = f"slope{w}" if w != "_all" else "slope_all"
        np.testing.assert_allclose(features[5:, names.index(f"up_{name}")], 0.1)
        np.testing.assert_allclose(features[5:, names.index(f"down_{name}")], -0.2)
