"""Operating regimes are found from the settings alone, and normalisation per regime leaves the wear."""

from __future__ import annotations

import numpy as np
from tests.apps.phm.synthetic import CONDITIONS, CONSTANT, make_fleet

from indunet.apps.phm.regimes import Regimes, find_regimes, fit_scaler


def _stack(fleet_settings: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(fleet_settings)


def test_settings_that_only_jitter_are_one_regime() -> None:
    fleet = make_fleet(20, seed=2, conditions=1)
    regimes = find_regimes(_stack([h.settings for h in fleet.histories]))
    assert regimes.count == 1


def test_separate_flight_conditions_are_found_and_assigned() -> None:
    fleet = make_fleet(20, seed=2, conditions=3)
    settings = _stack([h.settings for h in fleet.histories])
    regimes = find_regimes(settings)
    assert regimes.count == 3
    labels = regimes.assign(settings)
    truth = np.argmin(np.abs(settings[:, :1] - CONDITIONS[:, 0]), axis=1)
    # the same partition, whatever the cluster numbering
    pairs = set(zip(labels.tolist(), truth.tolist(), strict=True))
    assert len(pairs) == 3
    again = Regimes.from_dict(regimes.to_dict())
    np.testing.assert_array_equal(again.assign(settings), labels)


def test_scaling_per_regime_removes_the_conditions_and_drops_constant_sensors() -> None:
    fleet = make_fleet(30, seed=5, conditions=3)
    settings = _stack([h.settings for h in fleet.histories])
    sensors = _stack([h.sensors for h in fleet.histories])
    regimes = find_regimes(settings)
    labels = regimes.assign(settings)
    scaler = fit_scaler(sensors, labels, regimes.count)
    assert not set(CONSTANT) & set(scaler.kept.tolist())
    z = scaler.transform(sensors, labels)
    for r in range(regimes.count):
        np.testing.assert_allclose(z[labels == r].mean(axis=0), 0.0, atol=1e-9)
        np.testing.assert_allclose(z[labels == r].std(axis=0), 1.0, atol=1e-9)
    # raw sensors swing by hundreds between conditions; normalised ones by a few units
    assert np.ptp(sensors[:, scaler.kept[0]]) > 50
    assert np.ptp(z[:, 0]) < 15
