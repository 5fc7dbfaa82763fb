from __future__ import annotations

import math
import random

from indunet.sim.signals import FirstOrderLag, Ramp, RandomWalk, clamp


def test_clamp() -> None:
    assert clamp(5.0, 0.0, 1.0) == 1.0
    assert clamp(-5.0, 0.0, 1.0) == 0.0
    assert clamp(0.5, 0.0, 1.0) == 0.5


def test_random_walk_stays_in_bounds_and_reverts() -> None:
    walk = RandomWalk(
        random.Random(1), mean=10.0, sigma_per_sqrt_s=2.0, low=5.0, high=15.0, reversion_per_s=0.05
    )
    values = [walk.step(1.0) for _ in range(20_000)]
    assert min(values) >= 5.0 and max(values) <= 15.0
    assert abs(sum(values) / len(values) - 10.0) < 0.5
    assert len(set(values)) > 1000


def test_random_walk_is_reproducible() -> None:
    def run(seed: int) -> list[float]:
        walk = RandomWalk(random.Random(seed), 0.0, 1.0, -10.0, 10.0)
        return [walk.step(0.5) for _ in range(100)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_first_order_lag_reaches_63_percent_after_tau() -> None:
    lag = FirstOrderLag(tau_s=10.0, value=0.0)
    for _ in range(10):
        lag.step(100.0, 1.0)
    assert math.isclose(lag.value, 100.0 * (1 - math.exp(-1)), rel_tol=1e-9)
    # A step far longer than tau settles without overshoot.
    assert math.isclose(FirstOrderLag(1.0, 0.0).step(5.0, 1000.0), 5.0)


def test_ramp_is_rate_limited_and_stops_at_target() -> None:
    ramp = Ramp(rate_per_s=100.0)
    assert ramp.step(250.0, 1.0) == 100.0
    assert ramp.step(250.0, 1.0) == 200.0
    assert ramp.step(250.0, 1.0) == 250.0
    assert ramp.step(0.0, 0.5) == 200.0
