"""The measures of the field on vectors small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from indunet.apps.phm.metrics import nasa_score, report, rmse


def test_rmse() -> None:
    assert rmse(np.array([10.0, 20.0, 30.0]), np.array([13.0, 16.0, 30.0])) == pytest.approx(
        math.sqrt(25 / 3)
    )


def test_nasa_score_punishes_late_predictions_more_than_early_ones() -> None:
    true = np.array([50.0])
    # 13 cycles early costs as much as 10 cycles late: e - 1 each.
    assert nasa_score(true - 13, true) == pytest.approx(math.e - 1)
    assert nasa_score(true + 10, true) == pytest.approx(math.e - 1)
    # The same error, late rather than early, costs more.
    assert nasa_score(true + 20, true) == pytest.approx(math.exp(2.0) - 1)
    assert nasa_score(true - 20, true) == pytest.approx(math.exp(20 / 13) - 1)
    assert nasa_score(true + 20, true) > nasa_score(true - 20, true)
    assert nasa_score(true, true) == 0.0


def test_nasa_score_is_a_sum_over_units() -> None:
    predicted = np.array([37.0, 60.0, 80.0])
    true = np.array([50.0, 50.0, 80.0])
    assert nasa_score(predicted, true) == pytest.approx(2 * (math.e - 1))


def test_report_judges_against_the_truth_as_given_and_capped() -> None:
    predicted = np.array([125.0, 40.0])
    true = np.array([150.0, 50.0])
    found = report(predicted, true)
    assert found["units"] == 2
    assert found["rmse"] == pytest.approx(math.sqrt((25**2 + 10**2) / 2), abs=1e-3)
    assert found["rmse_capped"] == pytest.approx(math.sqrt(10**2 / 2), abs=1e-3)
    assert found["score"] == pytest.approx(math.exp(25 / 13) - 1 + math.exp(10 / 13) - 1, abs=0.1)
    assert found["score_capped"] == pytest.approx(math.exp(10 / 13) - 1, abs=0.1)
