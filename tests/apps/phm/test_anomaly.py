"""Anomaly detectors: a month of healthy operation stays within the false-alarm budget, injected
faults are caught, and a saved PCA model scores exactly as the fitted one."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.apps.phm.anomaly import (
    Budget,
    Debouncer,
    DetectorError,
    PcaDetector,
    StreamDetector,
    alarms,
    fit_tail,
    restore,
)

INPUTS = ("flow", "head", "current", "vibration", "bearing_temp")
PERIOD_S = 10.0


def healthy(n: int, seed: int) -> np.ndarray:
    """A pump's points over its duty: flow wanders (slow AR(1) plus a daily swing), head, current and
    bearing temperature follow it, vibration is independent noise."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 0.05, n)
    duty = np.zeros(n)
    for i in range(1, n):
        duty[i] = 0.99 * duty[i - 1] + noise[i]
    duty += np.sin(np.arange(n) * 2 * np.pi / 8640)
    return np.column_stack(
        [
            50 + 10 * duty + rng.normal(0, 0.5, n),
            30 - 4 * duty + rng.normal(0, 0.3, n),
            12 + 2 * duty + rng.normal(0, 0.1, n),
            rng.normal(2.0, 0.2, n),
            60 + 3 * duty + rng.normal(0, 0.4, n),
        ]
    )


@pytest.fixture(scope="module")
def pca() -> PcaDetector:
    return PcaDetector.fit(healthy(20_000, seed=1), INPUTS, Budget(0.1, 3), period_s=PERIOD_S)


def test_a_healthy_month_raises_no_more_false_alarms_than_the_budget(pca: PcaDetector) -> None:
    days = 30
    scores = pca.score(healthy(days * 8640, seed=2))
    assert alarms(scores, pca.budget.persistence) <= pca.budget.false_alarms_per_day * days
    # Not by a threshold so high that nothing could ever pass it: healthy rows come near it.
    assert np.quantile(scores, 0.999) > 0.2


def test_a_loose_budget_raises_more_alarms_than_a_tight_one() -> None:
    rows = healthy(20_000, seed=1)
    loose = PcaDetector.fit(rows, INPUTS, Budget(500, 1), period_s=PERIOD_S)
    tight = PcaDetector.fit(rows, INPUTS, Budget(0.01, 1), period_s=PERIOD_S)
    test = healthy(8640 * 5, seed=3)
    assert loose.threshold < tight.threshold
    assert alarms(loose.score(test), 1) > alarms(tight.score(test), 1)


def test_a_broken_relation_is_caught_where_every_point_stays_in_its_range(pca: PcaDetector) -> None:
    """Current rising while flow does not (a rubbing impeller): each value is ordinary on its own."""
    rows = healthy(4_000, seed=4)
    rows[2000:, 2] += np.linspace(0, 3.0, 2000)
    assert rows[:, 2].max() < healthy(20_000, seed=1)[:, 2].max() + 3
    scores = pca.score(rows)
    assert alarms(scores[:2000], 3) == 0
    assert alarms(scores[2000:], 3) >= 1
    onset = int(np.argmax(scores[2000:] >= 1))
    assert onset < 1500, "caught while the drift is still under 2.3 A"
    top = max(pca.contributions(rows[-1]).items(), key=lambda kv: kv[1])
    assert top[0] == "current"


def test_row_scoring_equals_batch_scoring(pca: PcaDetector) -> None:
    rows = healthy(200, seed=5)
    batch = pca.score(rows)
    assert np.allclose([pca.score_row(r) for r in rows], batch)


def test_a_saved_model_scores_as_the_fitted_one(pca: PcaDetector) -> None:
    again = restore(json.loads(json.dumps(pca.to_dict())))
    rows = healthy(500, seed=6)
    assert isinstance(again, PcaDetector)
    assert np.array_equal(again.score(rows), pca.score(rows))


def test_broken_documents_and_rows_are_refused() -> None:
    with pytest.raises(DetectorError, match="unknown detector kind"):
        restore({"kind": "magic"})
    document = PcaDetector.fit(healthy(500, seed=1), INPUTS).to_dict()
    document["mean"] = document["mean"][:2]
    with pytest.raises(DetectorError, match="do not match"):
        restore(document)
    with pytest.raises(DetectorError, match="one column per input"):
        PcaDetector.fit(np.zeros((100, 3)), INPUTS)
    with pytest.raises(DetectorError, match="healthy rows"):
        PcaDetector.fit(np.zeros((10, 5)), INPUTS)
    rows = healthy(500, seed=1)
    rows[7, 1] = np.nan
    with pytest.raises(DetectorError, match="finite"):
        PcaDetector.fit(rows, INPUTS)
    with pytest.raises(DetectorError, match="false_alarms_per_day"):
        Budget(0)


def test_the_stream_detector_catches_values_outside_healthy_operation() -> None:
    detector = StreamDetector.fit(healthy(20_000, seed=1), INPUTS, Budget(1, 3), period_s=PERIOD_S)
    ordinary = np.array([detector.score_row(r) for r in healthy(8640, seed=7)])
    assert alarms(ordinary, 3) == 0
    seized = healthy(50, seed=8)
    seized[:, 3] = 9.0  # vibration far above anything healthy
    assert alarms(np.array([detector.score_row(r) for r in seized]), 3) == 1


def test_the_debounce_ignores_lone_spikes_and_clears_after_as_many_normal_rows() -> None:
    debouncer = Debouncer(3)
    states = [
        debouncer.update(x) for x in (True, False, True, True, True, False, False, True, False, False, False)
    ]
    assert states == [False, False, False, False, True, True, True, True, True, True, False]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=60, max_size=400), st.floats(1e-7, 0.4))
def test_the_fitted_tail_threshold_grows_as_the_allowed_probability_shrinks(
    values: list[float], probability: float
) -> None:
    tail = fit_tail(np.asarray(values))
    assert tail.threshold(probability) >= tail.threshold(min(0.5, probability * 10))
    assert tail.threshold(probability) >= tail.start
    assert tail.exceedance(tail.threshold(probability)) <= max(probability, tail.share) * (1 + 1e-9)
