"""The warning evaluator on its own: set-points reached, trends forecast, combinations, features and the
failure history, with samples at known times."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indunet.apps.safety.assess import Evaluator, Limits, Reason, UnitInfo, WatchedPoint
from indunet.apps.safety.features import FeatureSet, default_library
from indunet.apps.safety.levels import BLUE, ORANGE, RED, YELLOW
from indunet.apps.safety.trend import Trend
from indunet.platform.runtime import StoredSample

S = 1_000_000
GAS = Limits(high=25, high_high=50)


def point(name: str, kind: str, limits: Limits, unit: str = "u1") -> WatchedPoint:
    return WatchedPoint(f"p-{name}", unit, f"dev-{name}", "value", kind, limits, f"{name}/value")


def sample(name: str, ts_s: float, value: float) -> StoredSample:
    return StoredSample("t", f"dev-{name}", "type", "value", int(ts_s * S), value, None)


def evaluator(
    *points: WatchedPoint, unit_type: str = "pressurised_storage", modes: frozenset[str] = frozenset()
) -> Evaluator:
    found = Evaluator(FeatureSet(default_library()))
    found.load([UnitInfo("u1", unit_type, modes)], points)
    return found


def level_after(ev: Evaluator, *samples: StoredSample) -> int | None:
    ev.on_samples(samples)
    return ev.assess("u1", samples[-1].ts_us).level


@pytest.mark.parametrize(
    ("value", "expected"), [(24.99, None), (25.0, YELLOW), (49.99, YELLOW), (50.0, ORANGE), (100.0, ORANGE)]
)
def test_gas_stages_start_where_the_set_points_are_reached(value: float, expected: int | None) -> None:
    ev = evaluator(point("gd1", "combustible", GAS))
    assert level_after(ev, sample("gd1", 0, value)) == expected


def test_low_limits_count_downwards() -> None:
    ev = evaluator(point("lt", "level", Limits(low=2.0, low_low=1.0)))
    assert level_after(ev, sample("lt", 0, 2.5)) is None
    assert level_after(ev, sample("lt", 1, 2.0)) == YELLOW
    assert level_after(ev, sample("lt", 2, 1.0)) == ORANGE


def test_a_rising_reading_warns_blue_before_its_first_set_point() -> None:
    ev = evaluator(point("gd1", "combustible", GAS))
    levels = []
    for t in range(120):
        ev.on_samples([sample("gd1", t, 2.0 + 0.1 * t)])  # +6 %LEL a minute
        levels.append(ev.assess("u1", t * S).level)
    first_blue = levels.index(BLUE)
    assert 30 <= first_blue < 80  # 5 %LEL is reached at 30 s; then 25 %LEL is under 10 minutes away
    reasons = {r.code: r for r in ev.assess("u1", 119 * S).reasons}
    reason = reasons["gas.trend"]
    assert "feature.vapour-climbing" in reasons  # the library's precursor says the same
    assert reason.eta_s is not None and 0 < reason.eta_s < 600


def test_noise_around_zero_never_forecasts() -> None:
    import random

    rng = random.Random(7)
    ev = evaluator(point("gd1", "combustible", GAS))
    for t in range(3600):
        ev.on_samples([sample("gd1", t, max(0.0, rng.gauss(1.0, 0.8)))])
        assert ev.assess("u1", t * S).level is None


def test_two_detectors_at_the_second_set_point_are_red() -> None:
    ev = evaluator(point("gd1", "combustible", GAS), point("gd2", "combustible", GAS))
    assert level_after(ev, sample("gd1", 0, 55)) == ORANGE
    assert level_after(ev, sample("gd2", 1, 50)) == RED
    assert "gas.spreading" in [r.code for r in ev.assess("u1", 1 * S).reasons]


def test_gas_with_heat_is_one_level_worse() -> None:
    ev = evaluator(
        point("gd1", "combustible", GAS), point("tt", "temperature", Limits(high=45, high_high=60))
    )
    assert level_after(ev, sample("gd1", 0, 30)) == YELLOW
    assert level_after(ev, sample("tt", 1, 46)) == ORANGE


def test_runaway_is_red() -> None:
    ev = evaluator(
        point("tt", "temperature", Limits(high=100, high_high=120)),
        point("pt", "pressure", Limits(high=300, high_high=400)),
        unit_type="reaction",
    )
    for t in range(20):
        ev.on_samples([sample("tt", t, 110 + t), sample("pt", t, 250 + 5 * t)])
    assessment = ev.assess("u1", 19 * S)
    assert assessment.level == RED
    assert "combination.runaway" in [r.code for r in assessment.reasons]


def test_a_feature_the_unit_has_failed_by_before_warns_a_level_higher() -> None:
    cooling = point("flow", "flow", Limits(low=5.0))
    heat = point("tt", "temperature", Limits(high=150))

    def run(modes: frozenset[str]) -> list[Reason]:
        ev = evaluator(cooling, heat, unit_type="reaction", modes=modes)
        for t in range(60):
            ev.on_samples([sample("flow", t, 30.0 if t < 10 else 1.0), sample("tt", t, 80 + 0.02 * t * t)])
        return [r for r in ev.assess("u1", 59 * S).reasons if r.code == "feature.cooling-lost"]

    fresh, known = run(frozenset()), run(frozenset({"FM-COOLING-LOSS"}))
    assert [r.level for r in fresh] == [YELLOW]
    assert [r.level for r in known] == [ORANGE]
    assert known[0].details["history"] is True


def test_reasons_from_outside_count() -> None:
    ev = evaluator(point("gd1", "combustible", GAS))
    ev.on_samples([sample("gd1", 0, 1.0)])
    ev.context("u1", [Reason("alarm.critical", YELLOW)], {"health": 0.2})
    assessment = ev.assess("u1", 0)
    assert assessment.level == YELLOW
    assert "feature.equipment-degrading" in [r.code for r in assessment.reasons]


def test_reloading_keeps_the_state_of_unchanged_points() -> None:
    gd = point("gd1", "combustible", GAS)
    ev = evaluator(gd)
    ev.on_samples([sample("gd1", 0, 30)])
    ev.load([UnitInfo("u1", "pressurised_storage")], [gd, point("gd2", "combustible", GAS)])
    assert ev.assess("u1", 0).level == YELLOW
    ev.load([UnitInfo("u1", "pressurised_storage")], [point("gd2", "combustible", GAS)])
    assert ev.assess("u1", 0).level is None


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=50))
def test_stage_agrees_with_the_limits(values: list[float]) -> None:
    limits = Limits(high=10, high_high=20, low=-10, low_low=-20)
    for value in values:
        stage = limits.stage(value)
        assert stage == (2 if value >= 20 or value <= -20 else 1 if value >= 10 or value <= -10 else 0)


def test_trend_forecasts_a_steady_rise() -> None:
    trend = Trend()
    for t in range(300):
        trend.update(t * S, 1.0 + 0.5 * t)
    assert trend.rate_per_min() == pytest.approx(30.0, rel=1e-6)
    eta = trend.seconds_to(200.0)
    assert eta is not None and eta == pytest.approx((200.0 - (1.0 + 0.5 * 299)) / 0.5, rel=1e-6)
    assert trend.seconds_to(0.0, rising=False) is None
    trend.update(100 * S, 1e9)  # late: ignored
    assert trend.value == pytest.approx(1.0 + 0.5 * 299)


def test_noise_is_not_a_rate() -> None:
    import random

    rng = random.Random(3)
    trend = Trend()
    rates = []
    for t in range(4 * 3600):
        trend.update(t * S, 750.0 + rng.gauss(0, 5.0))  # a pressure transmitter's wobble, kPa
        rates.append(trend.rate_per_min())
    assert sum(1 for r in rates if r) / len(rates) < 0.001


def test_a_rise_within_noise_shows_within_half_a_minute() -> None:
    import random

    rng = random.Random(4)
    trend = Trend()
    for t in range(600):
        trend.update(t * S, 750.0 + rng.gauss(0, 5.0))
    shown = None
    for t in range(600, 720):
        trend.update(t * S, 750.0 + 2.0 * (t - 600) + rng.gauss(0, 5.0))  # 120 kPa a minute
        if shown is None and trend.rate_per_min() > 60:
            shown = t - 600
    assert shown is not None and shown <= 30


def test_sums_stay_exact_over_a_day() -> None:
    trend = Trend()
    for t in range(86_400):
        trend.update(t * S, 5.0 + 0.001 * t)
    assert trend.rate_per_min() == pytest.approx(0.06, rel=1e-6)
