"""A simulated flow and pressure transmitter in a water supply line (``flow_pressure_instrument``).

Flow follows a daily demand curve with morning and evening peaks, plus slow random demand changes,
pump pulsation and measurement noise. Pressure comes from a pump curve, falling with the square of
flow. Totalizers integrate flow, temperature drifts with the day, density follows temperature.
NE 107 health is NORMAL almost always; rare events raise CHECK_FUNCTION (self-check), MAINTENANCE
REQUIRED (electrode coating) or OFF_SPEC with an empty pipe, each for a while.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from indunet.sim.signals import FirstOrderLag, RandomWalk, clamp, noise

Value = bool | int | float | str

NOMINAL_DIAMETER_M = 0.150
PIPE_AREA_M2 = math.pi * (NOMINAL_DIAMETER_M / 2.0) ** 2
BASE_FLOW_M3H = 150.0
SHUTOFF_PRESSURE_KPA = 720.0
# Pump curve p = p0 - k q^2, chosen so 300 m3/h still leaves about 270 kPa in the line.
PUMP_CURVE_K = (SHUTOFF_PRESSURE_KPA - 270.0) / 300.0**2
PULSATION_HZ = 0.37
US_PER_S = 1_000_000
MAX_STEP_S = 60.0

NORMAL, FAILURE, CHECK_FUNCTION, OFF_SPEC, MAINTENANCE_REQUIRED = range(5)


@dataclass(frozen=True)
class _Event:
    health: int
    message: str
    rate_per_s: float
    min_s: float
    max_s: float
    empty_pipe: bool = False


EVENTS = (
    _Event(CHECK_FUNCTION, "C: self-check in progress", 1 / 40_000, 20.0, 60.0),
    _Event(
        MAINTENANCE_REQUIRED, "M: electrode coating detected, clean electrodes", 1 / 200_000, 3600.0, 14_400.0
    ),
    _Event(OFF_SPEC, "S: empty pipe detected", 1 / 300_000, 30.0, 300.0, empty_pipe=True),
)


class FlowMeter:
    """Deterministic for a given seed and sequence of timestamps."""

    def __init__(self, seed: int, utc_offset_h: float = 8.0) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible runs, not secrets
        self.utc_offset_s = utc_offset_h * 3600.0
        self.demand = RandomWalk(self.rng, 1.0, 0.01, 0.7, 1.3, reversion_per_s=0.002)
        self.conductivity = RandomWalk(self.rng, 450.0, 0.5, 200.0, 1200.0, reversion_per_s=0.0005)
        self.water = FirstOrderLag(7200.0, 14.0)
        self.electronics = FirstOrderLag(1800.0, 30.0)
        self.totalizer_volume = self.rng.uniform(1e5, 5e6)
        self.totalizer_mass = self.totalizer_volume * 999.0
        self.operating_hours = self.rng.uniform(5_000.0, 40_000.0)
        self.event: _Event | None = None
        self.event_left_s = 0.0
        self.last_ts_us: int | None = None

    def step(self, ts_us: int) -> dict[str, Value]:
        dt = 0.0 if self.last_ts_us is None else clamp((ts_us - self.last_ts_us) / 1e6, 0.0, MAX_STEP_S)
        self.last_ts_us = ts_us
        t_s = ts_us / US_PER_S
        self._advance_event(dt)
        empty = self.event is not None and self.event.empty_pipe

        flow = 0.0 if empty else self._flow(t_s, dt)
        pressure = SHUTOFF_PRESSURE_KPA - PUMP_CURVE_K * flow * abs(flow) + noise(self.rng, 2.5)
        pressure += 6.0 * math.sin(2.0 * math.pi * PULSATION_HZ * t_s + 1.0)
        temperature = self.water.step(self._seasonal_temperature(t_s), dt) + noise(self.rng, 0.02)
        density = _water_density(temperature)
        mass_flow = flow * density
        if flow > 0:
            self.totalizer_volume += flow * dt / 3600.0
            self.totalizer_mass += mass_flow * dt / 3600.0
        self.operating_hours += dt / 3600.0
        electronics = self.electronics.step(temperature + 12.0, dt)
        health = self.event.health if self.event else NORMAL

        return {
            "volume_flow": round(clamp(flow, -400.0, 400.0), 3),
            "mass_flow": round(clamp(mass_flow, -420_000.0, 420_000.0), 1),
            "flow_velocity": round(clamp(flow / 3600.0 / PIPE_AREA_M2, -12.0, 12.0), 4),
            "totalizer_volume": round(self.totalizer_volume, 3),
            "totalizer_mass": round(self.totalizer_mass, 1),
            "pressure": round(clamp(pressure, -100.0, 1600.0), 2),
            "temperature": round(clamp(temperature, -40.0, 150.0), 2),
            "density": round(clamp(density, 900.0, 1100.0), 3),
            "conductivity": 0.0 if empty else round(self.conductivity.step(dt), 1),
            "electronics_temperature": round(clamp(electronics, -40.0, 100.0), 1),
            "device_health": health,
            "diagnostic_message": self.event.message if self.event else "",
            "empty_pipe": empty,
            "operating_hours": round(self.operating_hours, 4),
        }

    def _flow(self, t_s: float, dt: float) -> float:
        hour = ((t_s + self.utc_offset_s) % 86_400.0) / 3600.0
        # Night minimum near 3 h, peaks near 7:30 and 19:00, as in municipal water demand.
        daily = (
            0.55
            + 0.45 * math.exp(-(((hour - 7.5) / 1.6) ** 2))
            + 0.40 * math.exp(-(((hour - 19.0) / 2.2) ** 2))
            + 0.15 * math.exp(-(((hour - 12.5) / 2.5) ** 2))
        )
        pulsation = 0.02 * math.sin(2.0 * math.pi * PULSATION_HZ * t_s)
        return BASE_FLOW_M3H * daily * self.demand.step(dt) * (1.0 + pulsation) + noise(self.rng, 0.6)

    def _seasonal_temperature(self, t_s: float) -> float:
        day_of_year = (t_s / 86_400.0) % 365.25
        hour = ((t_s + self.utc_offset_s) % 86_400.0) / 3600.0
        seasonal = 14.0 - 8.0 * math.cos(2.0 * math.pi * (day_of_year - 20.0) / 365.25)
        return seasonal + 0.6 * math.sin(2.0 * math.pi * (hour - 9.0) / 24.0)

    def _advance_event(self, dt: float) -> None:
        if self.event is not None:
            self.event_left_s -= dt
            if self.event_left_s <= 0:
                self.event = None
            return
        for event in EVENTS:
            if self.rng.random() < event.rate_per_s * dt:
                self.event = event
                self.event_left_s = self.rng.uniform(event.min_s, event.max_s)
                return


def _water_density(celsius: float) -> float:
    """Density of pure water in kg/m3, Thiesen-Scheel-Diesselhorst fit, good from 0 to 100 degC."""
    t = celsius
    return 1000.0 * (1.0 - (t + 288.9414) / (508_929.2 * (t + 68.129_63)) * (t - 3.9863) ** 2)
