"""A simulated hazardous-chemicals site: two tank areas and a nitration unit, for the safety-production app.

Theory of operation. One lumped model of the whole site is integrated in fixed steps of one simulated
second (``advance``); every device's values are read from it at the current step (``readings``). There
are no threads, no I/O and no wall clock, and with ``noise=0`` nothing is random, so tests can work out
when a reading crosses a threshold. With noise, a seeded generator adds slow process variations
(stepped with the model) and measurement noise (drawn per step from the seed and the step number, so
reading twice gives the same values).

Units in the sense of GB 18218-2018 (a storage unit is a tank area within one dyke, a production unit
a process area), on a site plan in metres east (x) and north (y) of the site origin:

- ``tank-area-A``: methanol tanks T-101 and T-102, vertical, atmospheric, 20 m by 16 m (5027 m3).
- ``tank-area-B``: LPG sphere T-201 (1000 m3) and liquid-ammonia sphere T-301 (400 m3), pressurised.
- ``reactor-area``: continuous nitration reactor R-401 with its toluene and nitric-acid day tanks.

Tanks. The inventory (t) is the state; level, level % and mass follow from the tank's geometry and the
density. Each tank sends product at a steady rate and is filled in batches: a receipt starts when the
level falls below a low mark and stops at a high mark, so levels move slowly over hours and days. The
liquid temperature lags the daily air temperature cycle (a large tank barely follows it); a sphere's
pressure is the vapour pressure of its contents at that temperature.

Leaks (``inject_leak``). The leaking mass leaves the inventory. Vapour reaches each detector in two
first-order stages: the vapour cloud at the source builds up (a methanol pool spreads and evaporates
over minutes, flashing LPG fills the dyke faster), and the local concentration at the detector follows
with the detector's own lag. At steady state a detector reads

    gain(substance) * rate * (1 + WIND_WEIGHT * cos(angle off downwind)) / (d**2 + D0_M**2)

with ``d`` the distance from the tank's shell, capped at the detector's range. Both stages are linear
and integrated exactly, so the step response is the closed form of two lags in series.

Runaway (``inject_runaway``). The reactor's feed brings heat potential (unreacted reagent, counted as
the adiabatic temperature rise it would cause) at a steady rate; the reaction releases it at an
Arrhenius rate, and a controller matches the jacket's coolant flow to the heat released. When the
cooling fails the accumulated reagent reacts faster the hotter it gets: the temperature climbs with a
rate of rise that itself rises, from 80 degC past the 120 degC limit in about ten minutes, until the
reagent is spent or the contents boil at the relief valve's pressure. ``stop_runaway`` quenches the
reaction and restores the cooling. A detector put in fault (``inject_fault``) reports fault and reads 0.

Timelines with ``noise=0``, seconds after the event. 2 kg/s of methanol at T-101: GD-A01 passes
25 %LEL at 50 and 50 %LEL at 92, GD-A02 follows at 98 and 360, the rest stay below 5. 2 kg/s of LPG
at T-201: GD-B01 at 28 and 46, GD-B02 at 42 and 81, GD-B03 reaches 25 at 93 and peaks near 37, GD-B04
near 6. Cooling failure at R-401: above 120 degC after 613 s, the rise growing from 1.0 K in the first
minute to 11 K in the tenth; about 145 degC once the reagent is spent, then the still-running feed
drives it on to 163 degC, where the contents boil at the 400 kPa relief pressure.

Major hazard identification (GB 18218-2018, critical quantities Q: methanol 500 t, LPG 50 t, ammonia
10 t, toluene 500 t, nitric acid above 70 % 100 t; design maximum quantities q of tanks are capacity x
density x 0.9 filling coefficient; R = alpha * sum(beta * q / Q)):

- tank-area-A: q = 2 x 5026.5 m3 x 0.79 x 0.9 = 7147.8 t methanol; sum q/Q = 14.30 >= 1, a major hazard.
  20 people within 500 m, alpha 1.0; R = 1.0 x 1 x 14.30 = 14.3, grade 3.
- tank-area-B: q = 1000 m3 x 0.55 x 0.9 = 495.0 t LPG and 400 m3 x 0.61 x 0.9 = 219.6 t ammonia;
  sum q/Q = 9.90 + 21.96 = 31.86 >= 1. 40 people, alpha 1.2; R = 1.2 x (1.5 x 9.90 + 2 x 21.96)
  = 1.2 x 58.77 = 70.5, grade 2.
- reactor-area: 20 t toluene and 15 t nitric acid; sum q/Q = 0.04 + 0.15 = 0.19 < 1, not a major
  hazard (R would be 1.5 x 0.19 = 0.29 with its 60 people).
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from indunet.sim.runner import Simulator, Value
from indunet.sim.signals import RandomWalk, clamp

Reading = float | int | bool
DeviceKind = Literal["tank", "combustible", "toxic", "reactor"]

STEP_US = 1_000_000
STEP_S = STEP_US / 1_000_000
ATMOSPHERE_KPA = 101.325
KELVIN = 273.15
UTC_OFFSET_S = 8 * 3600
DAY_S = 86_400.0
OMEGA_DAY = 2.0 * math.pi / DAY_S
AIR_MEAN_C = 20.0
AIR_SWING_C = 5.0
MAX_FILL_RATIO = 0.9
BLANKET_KPA = 0.5
BREATHER_KPA = 1.5
BLANKET_DECAY = math.exp(-STEP_S / 120.0)

D0_M = 5.0
"""Near-field size of a leak: keeps the concentration finite at the shell."""
WIND_TO_DEG = 135.0
"""The prevailing wind blows from the north-west towards the south-east (compass degrees)."""
WIND_WEIGHT = 0.5
"""Downwind detectors read up to 1.5 times, upwind ones down to 0.5 times, the calm-air value."""


@dataclass(frozen=True)
class Substance:
    key: str
    density: float
    """Liquid density, t/m3."""
    gain: float
    """Steady detector reading per kg/s leaking, times (d**2 + D0_M**2) in m2: %LEL or mg/m3."""
    detected_by: Literal["combustible", "toxic"]
    cloud_tau_s: float
    """Time constant of the vapour cloud's build-up at the source."""


# LPG flashes to vapour and has a lower LEL than methanol (about 2 % by volume against 6 %), of which
# only the evaporating pool reaches the air: a kg/s of LPG reads higher and builds up faster. Ammonia
# reads in mg/m3, where a small leak already exceeds an electrochemical cell's range.
SUBSTANCES = {
    "methanol": Substance("methanol", 0.79, 1800.0, "combustible", 120.0),
    "lpg": Substance("lpg", 0.55, 2500.0, "combustible", 60.0),
    "ammonia": Substance("ammonia", 0.61, 10_000.0, "toxic", 40.0),
}
DETECTOR_TAU_S = {"combustible": 20.0, "toxic": 45.0}
"""Local mixing plus sensor response: catalytic beads answer faster than electrochemical cells."""

# Vapour pressure by Clausius-Clapeyron, anchored at 20 degC: a propane-rich commercial LPG (about
# 900 kPa absolute) and ammonia (857 kPa), with slopes fitted to tabulated values between 0 and 40 degC.
VAPOUR_PRESSURE = {"lpg": (900.0, 2268.0), "ammonia": (857.0, 2762.0)}


@dataclass(frozen=True)
class FarmDevice:
    name: str
    type_name: str
    unit: str
    kind: DeviceKind
    x: float
    y: float
    substance: str
    attributes: dict[str, str | float | int | bool]
    """Values for the attributes the device type declares."""


@dataclass(frozen=True)
class FarmUnit:
    name: str
    kind: Literal["storage", "production"]
    title: str
    title_zh: str
    holdings: tuple[tuple[str, float], ...]
    """(substance key, design maximum quantity in t) for GB 18218."""
    exposed_people: int
    """People living or working within 500 m outside the site, for GB 18218's alpha."""
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class _TankSpec:
    name: str
    unit: str
    substance: str
    form: Literal["vertical_cylinder", "sphere"]
    diameter: float
    height: float
    x: float
    y: float
    design_pressure: float
    outflow_m3h: float
    fill_m3h: float
    fill_below_pct: float
    fill_until_pct: float
    initial_pct: float
    temperature_tau_s: float
    """How slowly the liquid follows the air: hours for a sphere, half a day for a 5000 m3 tank."""


@dataclass(frozen=True)
class _DetectorSpec:
    name: str
    unit: str
    kind: Literal["combustible", "toxic"]
    x: float
    y: float
    gas: str
    range_max: float
    alarm_low: float
    alarm_high: float


_SPHERE_LPG_D = 12.407  # 1000 m3
_SPHERE_NH3_D = 9.142  # 400 m3

TANKS = (
    _TankSpec("T-101", "tank-area-A", "methanol", "vertical_cylinder", 20.0, 16.0, 70.0, 240.0, 6.0,
              40.0, 300.0, 35.0, 80.0, 62.0, 12 * 3600.0),
    _TankSpec("T-102", "tank-area-A", "methanol", "vertical_cylinder", 20.0, 16.0, 150.0, 240.0, 6.0,
              30.0, 300.0, 35.0, 80.0, 45.0, 12 * 3600.0),
    _TankSpec("T-201", "tank-area-B", "lpg", "sphere", _SPHERE_LPG_D, _SPHERE_LPG_D, 300.0, 240.0, 1770.0,
              10.0, 80.0, 25.0, 75.0, 55.0, 6 * 3600.0),
    _TankSpec("T-301", "tank-area-B", "ammonia", "sphere", _SPHERE_NH3_D, _SPHERE_NH3_D, 360.0, 240.0, 2160.0,
              2.0, 40.0, 25.0, 75.0, 60.0, 6 * 3600.0),
)  # fmt: skip

# Per GB/T 50493: combustible-gas points within 10 m of a release source, toxic-gas points within 4 m,
# plus one at each area's edge. Methanol detectors read for methanol, LPG ones are calibrated on propane.
DETECTORS = (
    _DetectorSpec("GD-A01", "tank-area-A", "combustible", 74.0, 226.0, "methanol", 100.0, 25.0, 50.0),
    _DetectorSpec("GD-A02", "tank-area-A", "combustible", 88.0, 236.0, "methanol", 100.0, 25.0, 50.0),
    _DetectorSpec("GD-A03", "tank-area-A", "combustible", 110.0, 222.0, "methanol", 100.0, 25.0, 50.0),
    _DetectorSpec("GD-A04", "tank-area-A", "combustible", 146.0, 226.0, "methanol", 100.0, 25.0, 50.0),
    _DetectorSpec("GD-A05", "tank-area-A", "combustible", 132.0, 246.0, "methanol", 100.0, 25.0, 50.0),
    _DetectorSpec("GD-A06", "tank-area-A", "combustible", 30.0, 190.0, "methanol", 100.0, 25.0, 50.0),
    _DetectorSpec("GD-B01", "tank-area-B", "combustible", 302.0, 229.0, "lpg", 100.0, 25.0, 50.0),
    _DetectorSpec("GD-B02", "tank-area-B", "combustible", 313.0, 234.0, "lpg", 100.0, 25.0, 50.0),
    _DetectorSpec("GD-B03", "tank-area-B", "combustible", 292.0, 250.0, "lpg", 100.0, 25.0, 50.0),
    _DetectorSpec("GD-B04", "tank-area-B", "combustible", 332.0, 214.0, "lpg", 100.0, 25.0, 50.0),
    # Ammonia: PC-STEL 30 mg/m3 (GBZ 2.1), so alarms at 100 % and 200 % of it, range about 300 %.
    _DetectorSpec("TD-B01", "tank-area-B", "toxic", 362.0, 233.0, "ammonia", 100.0, 30.0, 60.0),
    _DetectorSpec("TD-B02", "tank-area-B", "toxic", 368.0, 246.0, "ammonia", 100.0, 30.0, 60.0),
    _DetectorSpec("TD-B03", "tank-area-B", "toxic", 350.0, 248.0, "ammonia", 100.0, 30.0, 60.0),
    _DetectorSpec("TD-B04", "tank-area-B", "toxic", 392.0, 196.0, "ammonia", 100.0, 30.0, 60.0),
    _DetectorSpec("GD-R01", "reactor-area", "combustible", 124.0, 80.0, "toluene", 100.0, 25.0, 50.0),
    _DetectorSpec("GD-R02", "reactor-area", "combustible", 112.0, 92.0, "toluene", 100.0, 25.0, 50.0),
)

_UNITS: tuple[tuple[str, Literal["storage", "production"], str, str, int, float, float, float, float], ...] = (
    ("tank-area-A", "storage", "Tank area A (methanol)", "甲醇罐区", 20, 20.0, 180.0, 180.0, 120.0),
    ("tank-area-B", "storage", "Tank area B (LPG and liquid ammonia)", "液化石油气及液氨罐区", 40,
     260.0, 180.0, 140.0, 120.0),
    ("reactor-area", "production", "Nitration unit", "硝化装置区", 60, 60.0, 40.0, 140.0, 90.0),
)  # fmt: skip
REACTOR_AREA_HOLDINGS = (("toluene", 20.0), ("nitric_acid", 15.0))
"""Day tanks and reactor contents of the nitration unit, not simulated beyond their quantities."""

# Reactor R-401: 10 t of reaction mass at 2 kJ/(kg K), so 20 MJ/K; heat terms are in K/s of that.
REACTOR = "R-401"
REACTOR_XY = (120.0, 85.0)
SETPOINT_C = 80.0
TEMPERATURE_LIMIT_C = 120.0
FEED_KG_H = 1500.0
FEED_HEAT_K_PER_KG = 0.048
"""About 960 kJ per kg of mixed acid: 1500 kg/h release 400 kW, 0.02 K/s of the reaction mass."""
ACTIVATION_K = 12_000.0
"""E/R of the reaction: the rate doubles every 7 K or so around 80 degC."""
RATE_AT_SETPOINT_PER_S = 4e-4
"""At 80 degC unreacted reagent lasts about 40 minutes: 50 K of adiabatic rise sit in the reactor."""
UA_MAX_PER_S = 1.5e-3
COOLANT_HALF_M3H = 40.0
COOLANT_MAX_M3H = 120.0
COOLANT_TAU_S = 10.0
CONTROLLER_GAIN_PER_S = 0.01
AGITATOR_RPM = 120.0
REACTOR_LEVEL_PCT = 72.0
NITROGEN_KPA_ABS = 110.0
"""Nitrogen blanket's partial pressure at 80 degC; it grows with the absolute temperature."""
OFFGAS_KPA_PER_K_S = 300.0
"""Off-gas (NOx) pressure held up by the vent, per K/s of heat release."""
OFFGAS_TAU_S = 30.0
RELIEF_KPA = 400.0
COOLANT_DECAY = math.exp(-STEP_S / COOLANT_TAU_S)
OFFGAS_DECAY = math.exp(-STEP_S / OFFGAS_TAU_S)


def _toluene_kpa(celsius: float) -> float:
    """Vapour pressure of toluene (Antoine, mmHg and degC), standing in for the reaction mass."""
    return math.pow(10.0, 6.954_64 - 1344.8 / (219.482 + celsius)) * 0.133_322


def _relief_temperature() -> float:
    """Boiling point of the reaction mass at the relief set pressure: heat beyond it vents as vapour."""
    low, high = SETPOINT_C, 300.0
    target = RELIEF_KPA + ATMOSPHERE_KPA
    for _ in range(60):
        mid = (low + high) / 2.0
        blanket = NITROGEN_KPA_ABS * (mid + KELVIN) / (SETPOINT_C + KELVIN)
        low, high = (mid, high) if blanket + _toluene_kpa(mid) < target else (low, mid)
    return low


RELIEF_TEMPERATURE_C = _relief_temperature()


def air_temperature(ts_us: int, tau_s: float = 0.0) -> float:
    """Air temperature on the site (coolest near 03:00, warmest near 15:00 local time), or what a body
    with time constant ``tau_s`` reads after following it for days: damped and late."""
    local_s = ts_us / 1_000_000 + UTC_OFFSET_S
    wt = OMEGA_DAY * tau_s
    phase = OMEGA_DAY * local_s - 2.0 * math.pi * 9.0 / 24.0 - math.atan(wt)
    return AIR_MEAN_C + AIR_SWING_C / math.sqrt(1.0 + wt * wt) * math.sin(phase)


def _coolant_supply(ts_us: int) -> float:
    # Cooling-tower water runs a few degrees above the air and follows it.
    return air_temperature(ts_us, 3600.0) + 8.0


class _Tank:
    def __init__(self, spec: _TankSpec, demand: RandomWalk | None) -> None:
        self.spec = spec
        self.substance = SUBSTANCES[spec.substance]
        radius = spec.diameter / 2.0
        if spec.form == "sphere":
            self.capacity = 4.0 / 3.0 * math.pi * radius**3
        else:
            self.capacity = math.pi * radius**2 * spec.height
        self.mass_t = self.volume_at(spec.initial_pct / 100.0 * spec.height) * self.substance.density
        self.filling = False
        self.demand = demand
        self.inflow = 0.0
        self.outflow = spec.outflow_m3h
        self.leak_kg_s = 0.0
        self.source = 0.0
        """Vapour cloud at the source, in kg/s of leak it stands for (lags the leak rate)."""
        self.blanket_kpa = BLANKET_KPA

    @property
    def design_max_t(self) -> float:
        return self.capacity * self.substance.density * MAX_FILL_RATIO

    def volume_at(self, level: float) -> float:
        spec = self.spec
        if spec.form == "sphere":
            u = clamp(level / spec.diameter, 0.0, 1.0)
            return self.capacity * u * u * (3.0 - 2.0 * u)
        return self.capacity * clamp(level / spec.height, 0.0, 1.0)

    def level_of(self, mass_t: float) -> float:
        share = clamp(mass_t / self.substance.density / self.capacity, 0.0, 1.0)
        if self.spec.form == "sphere":
            # The filled share of a sphere is 3u^2 - 2u^3 at relative height u; this is its inverse.
            return self.spec.diameter * (0.5 - math.sin(math.asin(1.0 - 2.0 * share) / 3.0))
        return self.spec.height * share

    def leak_rate(self) -> float:
        """The leak's actual rate this step: an empty tank stops leaking."""
        return min(self.leak_kg_s, self.mass_t * 1000.0 / STEP_S)

    def step(self, leak: float, source_decay: float) -> None:
        spec = self.spec
        pct = self.level_of(self.mass_t) / spec.height * 100.0
        if self.filling and pct >= spec.fill_until_pct:
            self.filling = False
        elif not self.filling and pct <= spec.fill_below_pct:
            self.filling = True
        self.inflow = spec.fill_m3h if self.filling else 0.0
        self.outflow = spec.outflow_m3h * (self.demand.step(STEP_S) if self.demand else 1.0)
        net_m3 = (self.inflow - self.outflow) * STEP_S / 3600.0
        full = self.capacity * self.substance.density
        self.mass_t = clamp(self.mass_t + net_m3 * self.substance.density - leak * STEP_S / 1000.0, 0.0, full)
        self.source = leak + (self.source - leak) * source_decay
        # The breather valve opens at about 1.5 kPa while incoming liquid pushes the vapour out.
        target = BREATHER_KPA if self.filling else BLANKET_KPA
        self.blanket_kpa = target + (self.blanket_kpa - target) * BLANKET_DECAY

    def temperature(self, ts_us: int) -> float:
        return air_temperature(ts_us, self.spec.temperature_tau_s)

    def pressure(self, temperature: float) -> float:
        fit = VAPOUR_PRESSURE.get(self.spec.substance)
        if fit is None:
            return self.blanket_kpa
        p20, slope = fit
        return p20 * math.exp(slope * (1.0 / (20.0 + KELVIN) - 1.0 / (temperature + KELVIN))) - ATMOSPHERE_KPA


class _Detector:
    def __init__(self, spec: _DetectorSpec, baseline: RandomWalk | None) -> None:
        self.spec = spec
        self.baseline = baseline
        self.concentration = 0.0
        self.fault = False


class _Reactor:
    def __init__(self, feed: RandomWalk | None, level: RandomWalk | None) -> None:
        self.feed_walk = feed
        self.level_walk = level
        self.temperature = SETPOINT_C
        self.potential = FEED_KG_H / 3600.0 * FEED_HEAT_K_PER_KG / RATE_AT_SETPOINT_PER_S
        """Unreacted reagent as the adiabatic temperature rise it holds, K."""
        self.release = RATE_AT_SETPOINT_PER_S * self.potential
        """Heat released in the last step, K/s."""
        self.coolant = 0.0
        self.offgas_kpa = OFFGAS_KPA_PER_K_S * self.release
        self.feed = FEED_KG_H
        self.level_pct = REACTOR_LEVEL_PCT
        self.cooling_failed = False

    def start(self, ts_us: int) -> None:
        """Begin at steady state: coolant flow matched to the reaction's heat at the current supply."""
        self.coolant = _coolant_for(self.release / (SETPOINT_C - _coolant_supply(ts_us)))

    def step(self, ts_us: int) -> None:
        self.feed = FEED_KG_H * (self.feed_walk.step(STEP_S) if self.feed_walk else 1.0)
        # The overflow to the next stage holds the level; only its control wobble shows.
        self.level_pct = self.level_walk.step(STEP_S) if self.level_walk else REACTOR_LEVEL_PCT
        feed_heat = self.feed / 3600.0 * FEED_HEAT_K_PER_KG
        rate = RATE_AT_SETPOINT_PER_S * math.exp(
            ACTIVATION_K * (1.0 / (SETPOINT_C + KELVIN) - 1.0 / (self.temperature + KELVIN))
        )
        # Exact for a rate held over the step, so stable however fast the reaction gets.
        decay = math.exp(-rate * STEP_S)
        before = self.potential
        self.potential = before * decay + feed_heat / rate * (1.0 - decay)
        released = before + feed_heat * STEP_S - self.potential
        self.release = released / STEP_S
        supply = _coolant_supply(ts_us)
        removed = _ua(self.coolant) * (self.temperature - supply) * STEP_S
        self.temperature = min(self.temperature + released - removed, RELIEF_TEMPERATURE_C)
        if self.cooling_failed:
            target = 0.0
        else:
            # Heat-balance feed-forward plus a proportional trim: the jacket removes what the reaction
            # releases and pulls the temperature back to its set point within a few minutes.
            needed = self.release + CONTROLLER_GAIN_PER_S * (self.temperature - SETPOINT_C)
            target = _coolant_for(needed / max(self.temperature - supply, 1.0))
        self.coolant = target + (self.coolant - target) * COOLANT_DECAY
        self.offgas_kpa = (
            OFFGAS_KPA_PER_K_S * self.release
            + (self.offgas_kpa - OFFGAS_KPA_PER_K_S * self.release) * OFFGAS_DECAY
        )

    def pressure(self) -> float:
        t = self.temperature
        blanket = NITROGEN_KPA_ABS * (t + KELVIN) / (SETPOINT_C + KELVIN)
        return min(blanket + _toluene_kpa(t) + self.offgas_kpa - ATMOSPHERE_KPA, RELIEF_KPA)


def _ua(coolant_m3h: float) -> float:
    """Jacket heat transfer in K/s per K: rises with coolant flow and saturates (film on the wall side)."""
    return UA_MAX_PER_S * coolant_m3h / (coolant_m3h + COOLANT_HALF_M3H)


def _coolant_for(ua: float) -> float:
    if ua <= 0.0:
        return 0.0
    if ua >= _ua(COOLANT_MAX_M3H):
        return COOLANT_MAX_M3H
    return COOLANT_HALF_M3H * ua / (UA_MAX_PER_S - ua)


def plume_gain(tank: FarmDevice, detector: FarmDevice) -> float:
    """A detector's steady reading per kg/s leaking from ``tank`` (0 if it does not sense that substance)."""
    substance = SUBSTANCES[tank.substance]
    if substance.detected_by != detector.kind:
        return 0.0
    dx, dy = detector.x - tank.x, detector.y - tank.y
    centre = math.hypot(dx, dy)
    shell = max(0.0, centre - float(tank.attributes["diameter"]) / 2.0)
    wind = math.radians(WIND_TO_DEG)
    downwind = (dx * math.sin(wind) + dy * math.cos(wind)) / centre if centre > 0 else 0.0
    return substance.gain * (1.0 + WIND_WEIGHT * downwind) / (shell**2 + D0_M**2)


class _DeviceSimulator:
    """One device's view of the shared farm, for ``run_simulators``."""

    def __init__(self, farm: TankFarm, name: str) -> None:
        self.farm = farm
        self.name = name

    def step(self, ts_us: int) -> dict[str, Value]:
        self.farm.advance(ts_us)
        values: dict[str, Value] = dict(self.farm._measured()[self.name])
        return values


class TankFarm:
    """The site; deterministic for a given seed, noise level and sequence of calls.

    ``start_ts_us=None`` starts the clock at the first ``advance``, which suits a live run fed with the
    wall clock. Injected events take effect at their time, or at once if the farm has passed it.
    """

    def __init__(self, seed: int = 0, start_ts_us: int | None = None, noise: float = 1.0) -> None:
        if not math.isfinite(noise) or noise < 0.0:
            raise ValueError(f"noise must be a finite number >= 0, not {noise}")
        self.seed = seed
        self.noise = noise
        rng = random.Random(seed)  # noqa: S311 - reproducible runs, not secrets

        def walk(mean: float, sigma: float, low: float, high: float, reversion: float) -> RandomWalk | None:
            if noise == 0.0:
                return None
            return RandomWalk(rng, mean, sigma * noise, low, high, reversion_per_s=reversion)

        self._tanks = {s.name: _Tank(s, walk(1.0, 0.002, 0.8, 1.2, 1 / 1800)) for s in TANKS}
        # Detector zero offsets wander in the lower few %LEL (mg/m3), as real ones do between calibrations.
        self._detectors = {
            s.name: _Detector(s, walk(0.6 * noise, 0.02, 0.0, 2.0 * noise, 1 / 600)) for s in DETECTORS
        }
        self._reactor = _Reactor(
            walk(1.0, 0.001, 0.95, 1.05, 1 / 600), walk(REACTOR_LEVEL_PCT, 0.02, 68.0, 76.0, 1 / 300)
        )
        self._devices = self._describe()
        by_name = {d.name: d for d in self._devices}
        tanks = list(self._tanks.values())
        self._gains = [[plume_gain(by_name[t.spec.name], by_name[d]) for t in tanks] for d in self._detectors]
        self._decays = {kind: math.exp(-STEP_S / tau) for kind, tau in DETECTOR_TAU_S.items()}
        self._source_decays = [math.exp(-STEP_S / t.substance.cloud_tau_s) for t in tanks]
        # The detector's response to the source's own lag over one step: exact for two lags in series.
        self._carry = [
            {
                kind: t.substance.cloud_tau_s
                / (t.substance.cloud_tau_s - tau)
                * (math.exp(-STEP_S / t.substance.cloud_tau_s) - math.exp(-STEP_S / tau))
                for kind, tau in DETECTOR_TAU_S.items()
            }
            for t in tanks
        ]
        self._events: list[tuple[int, int, Callable[[], None]]] = []
        self._scheduled = 0
        self._now_us: int | None = None
        self._step_index = 0
        self._cache: dict[str, dict[str, Reading]] | None = None
        if start_ts_us is not None:
            self._start(start_ts_us)

    # --- public API ---------------------------------------------------------------------------------

    @property
    def now_us(self) -> int | None:
        """The time the state stands at, or None before the clock has started."""
        return self._now_us

    def advance(self, ts_us: int) -> None:
        """Integrate up to ``ts_us`` in whole steps; a time already passed changes nothing."""
        if self._now_us is None:
            self._start(ts_us)
            return
        while self._now_us + STEP_US <= ts_us:
            self._step(self._now_us)
            self._now_us += STEP_US
            self._step_index += 1
            self._cache = None
            self._apply_due()

    def readings(self) -> dict[str, dict[str, Reading]]:
        """Every device's point values at the current time."""
        return {name: dict(values) for name, values in self._measured().items()}

    def devices(self) -> list[FarmDevice]:
        return list(self._devices)

    def units(self) -> list[FarmUnit]:
        units = []
        for name, kind, title, title_zh, people, x, y, width, height in _UNITS:
            holdings: tuple[tuple[str, float], ...]
            if kind == "production":
                holdings = REACTOR_AREA_HOLDINGS
            else:
                totals: dict[str, float] = {}
                for tank in self._tanks.values():
                    if tank.spec.unit == name:
                        key = tank.spec.substance
                        totals[key] = totals.get(key, 0.0) + tank.design_max_t
                holdings = tuple((key, round(q, 1)) for key, q in totals.items())
            units.append(FarmUnit(name, kind, title, title_zh, holdings, people, x, y, width, height))
        return units

    def simulator(self, device: str) -> Simulator:
        """A ``Simulator`` for one device: stepping it advances the whole farm."""
        self._device(device)
        return _DeviceSimulator(self, device)

    def inject_leak(self, tank: str, rate_kg_s: float, at_ts_us: int) -> None:
        """From ``at_ts_us`` on, ``rate_kg_s`` of the tank's contents escapes (replacing any earlier leak)."""
        target = self._tank(tank)
        if not math.isfinite(rate_kg_s) or rate_kg_s <= 0.0:
            raise ValueError(f"leak rate must be a positive number of kg/s, not {rate_kg_s}")

        def start() -> None:
            target.leak_kg_s = rate_kg_s

        self._schedule(at_ts_us, start)

    def stop_leak(self, tank: str, at_ts_us: int) -> None:
        """The leak is isolated at ``at_ts_us``; the vapour then disperses and the readings fall."""
        target = self._tank(tank)

        def stop() -> None:
            target.leak_kg_s = 0.0

        self._schedule(at_ts_us, stop)

    def inject_runaway(self, reactor: str, at_ts_us: int) -> None:
        """The reactor's cooling fails at ``at_ts_us``: the coolant flow falls to zero within seconds."""
        self._reactor_named(reactor)

        def fail() -> None:
            self._reactor.cooling_failed = True

        self._schedule(at_ts_us, fail)

    def stop_runaway(self, reactor: str, at_ts_us: int) -> None:
        """Emergency quench at ``at_ts_us``: the accumulated reagent is destroyed and cooling restored."""
        self._reactor_named(reactor)

        def quench() -> None:
            self._reactor.cooling_failed = False
            self._reactor.potential = 0.0

        self._schedule(at_ts_us, quench)

    def inject_fault(self, detector: str, at_ts_us: int) -> None:
        """The detector goes into fault at ``at_ts_us``: it reports fault and reads 0 whatever the gas."""
        self._set_fault(detector, at_ts_us, fault=True)

    def clear_fault(self, detector: str, at_ts_us: int) -> None:
        self._set_fault(detector, at_ts_us, fault=False)

    # --- integration --------------------------------------------------------------------------------

    def _start(self, ts_us: int) -> None:
        self._now_us = ts_us
        self._reactor.start(ts_us)
        self._apply_due()

    def _step(self, ts_us: int) -> None:
        tanks = list(self._tanks.values())
        leaks = [t.leak_rate() for t in tanks]
        sources = [t.source for t in tanks]
        for detector, gains in zip(self._detectors.values(), self._gains, strict=True):
            kind = detector.spec.kind
            steady = 0.0
            carried = 0.0
            for j, gain in enumerate(gains):
                if gain:
                    steady += gain * leaks[j]
                    carried += gain * (sources[j] - leaks[j]) * self._carry[j][kind]
            decay = self._decays[kind]
            detector.concentration = steady + (detector.concentration - steady) * decay + carried
            if detector.baseline is not None:
                detector.baseline.step(STEP_S)
        for tank, leak, decay in zip(tanks, leaks, self._source_decays, strict=True):
            tank.step(leak, decay)
        self._reactor.step(ts_us)

    def _schedule(self, at_ts_us: int, action: Callable[[], None]) -> None:
        # The running count keeps events at the same time in the order they were injected.
        self._scheduled += 1
        heapq.heappush(self._events, (at_ts_us, self._scheduled, action))
        self._apply_due()

    def _apply_due(self) -> None:
        now = self._now_us
        while now is not None and self._events and self._events[0][0] <= now:
            heapq.heappop(self._events)[2]()
            self._cache = None

    # --- measurement --------------------------------------------------------------------------------

    def _measured(self) -> dict[str, dict[str, Reading]]:
        if self._now_us is None:
            raise RuntimeError("the farm's clock has not started: call advance() first")
        if self._cache is None:
            self._cache = self._measure(self._now_us)
        return self._cache

    def _measure(self, ts_us: int) -> dict[str, dict[str, Reading]]:
        noise = self.noise
        # Drawn from the seed and the step, not from the model's generator, so readings() may be called
        # any number of times without changing what the model does next.
        rng = random.Random(self.seed * 1_000_003 + self._step_index)  # noqa: S311 - not a secret
        if noise == 0.0:
            gauss: Callable[[float], float] = _no_noise
        else:

            def gauss(sigma: float) -> float:
                return rng.gauss(0.0, sigma * noise)

        values: dict[str, dict[str, Reading]] = {}
        for tank in self._tanks.values():
            spec = tank.spec
            level = clamp(tank.level_of(tank.mass_t) + gauss(0.002), 0.0, spec.height)
            temperature = tank.temperature(ts_us)
            pressure_noise = 2.0 if spec.substance in VAPOUR_PRESSURE else 0.05
            values[spec.name] = {
                "level": round(level, 3),
                "level_pct": round(level / spec.height * 100.0, 2),
                "temperature": round(temperature + gauss(0.05), 2),
                "pressure": round(tank.pressure(temperature) + gauss(pressure_noise), 2),
                "inflow": round(max(0.0, tank.inflow + gauss(0.005 * tank.inflow)), 2),
                "outflow": round(max(0.0, tank.outflow + gauss(0.005 * tank.outflow)), 2),
                "mass_t": round(tank.volume_at(level) * tank.substance.density, 3),
            }
        for name, detector in self._detectors.items():
            if detector.fault:
                reading = 0.0
            else:
                baseline = detector.baseline.value if detector.baseline else 0.0
                reading = detector.concentration + baseline + gauss(0.15)
                reading = clamp(reading, 0.0, detector.spec.range_max)
            values[name] = {"concentration": round(reading, 2), "fault": detector.fault}
        reactor = self._reactor
        values[REACTOR] = {
            "temperature": round(reactor.temperature + gauss(0.1), 2),
            "pressure": round(reactor.pressure() + gauss(0.5), 2),
            "jacket_inlet_temperature": round(_coolant_supply(ts_us) + gauss(0.05), 2),
            "coolant_flow": round(max(0.0, reactor.coolant + gauss(0.2)), 2),
            "feed_flow": round(max(0.0, reactor.feed + gauss(8.0)), 1),
            "agitator_speed": round(AGITATOR_RPM + gauss(0.5), 1),
            "level_pct": round(reactor.level_pct + gauss(0.2), 2),
        }
        return values

    # --- site description ---------------------------------------------------------------------------

    def _describe(self) -> list[FarmDevice]:
        devices = []
        for tank in self._tanks.values():
            spec = tank.spec
            attributes: dict[str, str | float | int | bool] = {
                "medium": spec.substance,
                "tank_form": spec.form,
                "capacity": round(tank.capacity, 1),
                "diameter": spec.diameter,
                "height": spec.height,
                "density": tank.substance.density,
                "max_fill_ratio": MAX_FILL_RATIO,
                "design_pressure": spec.design_pressure,
                "site_x": spec.x,
                "site_y": spec.y,
            }
            devices.append(
                FarmDevice(spec.name, "storage_tank", spec.unit, "tank", spec.x, spec.y, spec.substance,
                           attributes)
            )  # fmt: skip
        for det in DETECTORS:
            combustible = det.kind == "combustible"
            attributes = {
                "calibration_gas" if combustible else "target_gas": det.gas,
                "principle": "catalytic" if combustible else "electrochemical",
                "range_max": det.range_max,
                "alarm_low": det.alarm_low,
                "alarm_high": det.alarm_high,
                "site_x": det.x,
                "site_y": det.y,
            }
            type_name = "gas_detector" if combustible else "toxic_gas_detector"
            devices.append(
                FarmDevice(det.name, type_name, det.unit, det.kind, det.x, det.y, det.gas, attributes)
            )
        x, y = REACTOR_XY
        attributes = {
            "process": "toluene nitration (mixed acid)",
            "volume": 12.0,
            "temperature_limit": TEMPERATURE_LIMIT_C,
            "design_pressure": 600.0,
            "relief_pressure": RELIEF_KPA,
            "site_x": x,
            "site_y": y,
        }
        devices.append(FarmDevice(REACTOR, "chemical_reactor", "reactor-area", "reactor", x, y, "toluene",
                                  attributes))  # fmt: skip
        return devices

    def _device(self, name: str) -> FarmDevice:
        for device in self._devices:
            if device.name == name:
                return device
        raise ValueError(f"no device {name!r} on the farm (have: {', '.join(d.name for d in self._devices)})")

    def _tank(self, name: str) -> _Tank:
        try:
            return self._tanks[name]
        except KeyError:
            raise ValueError(f"no tank {name!r} (have: {', '.join(self._tanks)})") from None

    def _reactor_named(self, name: str) -> None:
        if name != REACTOR:
            raise ValueError(f"no reactor {name!r} (have: {REACTOR})")

    def _set_fault(self, name: str, at_ts_us: int, *, fault: bool) -> None:
        try:
            detector = self._detectors[name]
        except KeyError:
            raise ValueError(f"no detector {name!r} (have: {', '.join(self._detectors)})") from None

        def apply() -> None:
            detector.fault = fault

        self._schedule(at_ts_us, apply)


def _no_noise(sigma: float) -> float:
    return 0.0
