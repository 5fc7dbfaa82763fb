"""Small signal building blocks for simulators: each holds its state and advances by a time step.

All randomness comes from a ``random.Random`` the simulator owns, so one seed reproduces a run.
Time steps are in seconds and may vary from call to call.
"""

from __future__ import annotations

import math
import random


def clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


class RandomWalk:
    """A bounded random walk that drifts back to its mean (Ornstein-Uhlenbeck, discretised).

    Without the pull to the mean a walk wanders to its bounds and sticks there, which no real process
    variable does for long.
    """

    def __init__(
        self,
        rng: random.Random,
        mean: float,
        sigma_per_sqrt_s: float,
        low: float,
        high: float,
        reversion_per_s: float = 0.01,
    ) -> None:
        self.rng = rng
        self.mean = mean
        self.sigma = sigma_per_sqrt_s
        self.low = low
        self.high = high
        self.reversion = reversion_per_s
        self.value = mean

    def step(self, dt: float) -> float:
        pull = (self.mean - self.value) * min(1.0, self.reversion * dt)
        jitter = self.rng.gauss(0.0, self.sigma * math.sqrt(dt)) if dt > 0 else 0.0
        self.value = clamp(self.value + pull + jitter, self.low, self.high)
        return self.value


class FirstOrderLag:
    """A first-order lag (PT1): the output follows its input with time constant ``tau_s``.

    Temperatures, filtered measurements and position loops all settle this way.
    """

    def __init__(self, tau_s: float, value: float) -> None:
        self.tau = tau_s
        self.value = value

    def step(self, target: float, dt: float) -> float:
        # The exact discretisation stays stable for any dt, unlike value += (target-value)*dt/tau.
        self.value = target + (self.value - target) * math.exp(-dt / self.tau)
        return self.value


class Ramp:
    """Moves towards a target at a limited rate, as a drive does under an acceleration limit."""

    def __init__(self, rate_per_s: float, value: float = 0.0) -> None:
        self.rate = rate_per_s
        self.value = value

    def step(self, target: float, dt: float) -> float:
        max_change = self.rate * dt
        self.value += clamp(target - self.value, -max_change, max_change)
        return self.value


def noise(rng: random.Random, sigma: float) -> float:
    """White Gaussian measurement noise."""
    return rng.gauss(0.0, sigma)
