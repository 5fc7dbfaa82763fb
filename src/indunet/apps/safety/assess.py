"""The warning level of each unit from its monitoring points, with no I/O: samples in, assessments out.
The monitor (``monitor.py``) feeds it committed telemetry and turns assessments into warnings.

Theory of operation. Every monitoring point keeps its latest value, its stage (0 normal, 1 past the
first set-point, 2 past the second; set-points are reached, not exceeded, as GB/T 50493-2019 words it)
and its rate of change over the last minute (``trend.py``). A unit's level is the most severe of its reasons:

    point at stage 2 (second gas set-point, high-high or low-low process limit)    orange (2)
    point at stage 1 (first gas set-point, high or low process limit)              yellow (3)
    point heading for its first limit within the horizon (10 min)                  blue (4)
    two or more gas detectors of the unit at stage 2: the release is spreading     red (1)
    gas at stage 1+ together with temperature or pressure at stage 1+              one level above the
                                                                                   worse of the two
    temperature at stage 2 and still rising with pressure at stage 1+: runaway     red (1)
    a risk feature of the library matching the unit's variables                    the feature's level
    ... whose failure mode the unit has failed by before                           one level above that
    reasons given from outside (open alarms, PHM, see ``context``)                 as given

A trend counts only when its rate stands out from the point's noise, and a gas reading's trend only
once the reading is a fifth of the way to its first set-point, so a detector's noise around zero never
forecasts anything. Time escalation (a warning nobody took up) is
not here: it depends on the warning's disposal, which the warnings service keeps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from indunet.apps.safety.features import FeatureSet
from indunet.apps.safety.levels import BLUE, ORANGE, RED, YELLOW, raised
from indunet.apps.safety.trend import Trend
from indunet.platform.runtime import StoredSample

GAS = frozenset({"combustible", "toxic"})
PROCESS = frozenset({"level", "temperature", "pressure", "flow"})
KINDS = GAS | PROCESS
HORIZON_S = 600.0
GAS_TREND_FLOOR = 0.2


@dataclass(frozen=True, slots=True)
class Limits:
    high: float | None = None
    high_high: float | None = None
    low: float | None = None
    low_low: float | None = None

    def stage(self, value: float) -> int:
        if (self.high_high is not None and value >= self.high_high) or (
            self.low_low is not None and value <= self.low_low
        ):
            return 2
        if (self.high is not None and value >= self.high) or (self.low is not None and value <= self.low):
            return 1
        return 0

    def to_dict(self) -> dict[str, float | None]:
        return {"high": self.high, "high_high": self.high_high, "low": self.low, "low_low": self.low_low}


@dataclass(frozen=True, slots=True)
class WatchedPoint:
    id: str
    unit_id: str
    device_id: str
    point: str
    kind: str
    limits: Limits
    label: str
    """``device/point``, as people name it in messages."""
    measure_unit: str = ""


@dataclass(frozen=True, slots=True)
class UnitInfo:
    id: str
    unit_type: str
    failure_modes: frozenset[str] = frozenset()
    """Failure modes of the unit's history (the failure database), for the features' weight."""


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    level: int
    point: str | None = None
    value: float | None = None
    limit: float | None = None
    eta_s: float | None = None
    unit: str | None = None
    """What ``value`` and ``limit`` are measured in."""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "level": self.level}
        for key in ("point", "value", "limit", "eta_s", "unit"):
            value = getattr(self, key)
            if value is not None:
                out[key] = round(value, 3) if isinstance(value, float) else value
        if self.details:
            out["details"] = self.details
        return out


@dataclass(frozen=True, slots=True)
class Assessment:
    unit_id: str
    ts_us: int
    level: int | None
    reasons: tuple[Reason, ...]
    variables: dict[str, float]
    known: bool = True
    """Whether any point of the unit has reported since the evaluator started: before that, no reason
    means nothing is known, not that all is well."""


class _State:
    """A point's trend and what follows from its latest sample, worked out once per batch (``refresh``)
    so that assessing a unit only combines its points."""

    __slots__ = ("pct", "rate", "reason", "rising", "spec", "stage", "trend", "variable")

    def __init__(self, spec: WatchedPoint) -> None:
        self.spec = spec
        self.trend = Trend()
        self.stage = 0
        self.reason: Reason | None = None
        self.variable = "lel" if spec.kind == "combustible" else spec.kind
        self.rate = 0.0
        self.pct: float | None = None
        self.rising = False


class Evaluator:
    def __init__(self, features: FeatureSet | None = None, horizon_s: float = HORIZON_S) -> None:
        self.features = features or FeatureSet.empty()
        self.horizon_s = horizon_s
        self._by_key: dict[tuple[str, str], _State] = {}
        self._by_unit: dict[str, list[_State]] = {}
        self._units: dict[str, UnitInfo] = {}
        self._context: dict[str, tuple[Reason, ...]] = {}
        self._context_variables: dict[str, dict[str, float]] = {}

    # -- configuration -------------------------------------------------------------------------------
    def load(self, units: Iterable[UnitInfo], points: Iterable[WatchedPoint]) -> None:
        """Replace what is watched; a point still watched with the same set-points keeps its state."""
        old = self._by_key
        self._by_key, self._by_unit = {}, {}
        self._units = {u.id: u for u in units}
        for spec in points:
            if spec.unit_id not in self._units:
                continue
            key = (spec.device_id, spec.point)
            state = old.get(key)
            if state is None or state.spec != spec:
                fresh = _State(spec)
                if state is not None and state.spec.kind == spec.kind:
                    fresh.trend = state.trend
                state = fresh
            self._by_key[key] = state
            self._by_unit.setdefault(spec.unit_id, []).append(state)
        for unit_id in [u for u in self._context if u not in self._units]:
            del self._context[unit_id]

    def context(
        self, unit_id: str, reasons: Iterable[Reason], variables: dict[str, float] | None = None
    ) -> None:
        """Reasons and variables from outside the unit's points: open alarms of its devices, equipment
        health from PHM. They replace what was given before."""
        self._context[unit_id] = tuple(reasons)
        self._context_variables[unit_id] = dict(variables or {})

    def watches(self, device_id: str, point: str) -> bool:
        return (device_id, point) in self._by_key

    @property
    def unit_ids(self) -> list[str]:
        return list(self._units)

    # -- samples -------------------------------------------------------------------------------------
    def on_samples(self, samples: Iterable[StoredSample]) -> set[str]:
        """Take committed samples; returns the units whose points moved."""
        moved: set[_State] = set()
        by_key = self._by_key
        for sample in samples:
            state = by_key.get((sample.device_id, sample.point))
            if state is None or sample.num is None:
                continue
            state.trend.update(sample.ts_us, sample.num)
            moved.add(state)
        for state in moved:
            self._refresh(state)
        return {state.spec.unit_id for state in moved}

    def _refresh(self, state: _State) -> None:
        spec, trend = state.spec, state.trend
        state.stage = spec.limits.stage(trend.value)
        state.reason = self._point_reason(state)
        slope = trend.slope
        state.rate = slope * 60.0
        state.rising = slope > 0
        high = spec.limits.high
        state.pct = 100.0 * trend.value / high if spec.kind in GAS and high else None

    # -- assessment ----------------------------------------------------------------------------------
    def assess(self, unit_id: str, now_us: int) -> Assessment:
        states = self._by_unit.get(unit_id, [])
        reasons: list[Reason] = []
        variables: dict[str, float] = dict(self._context_variables.get(unit_id, {}))
        known = False
        gas_stage2 = 0
        gas_stage = heat_stage = 0
        gas_level: int | None = None
        heat_level: int | None = None
        temperature_runaway = False
        pressure_stage = 0
        for state in states:
            spec, trend = state.spec, state.trend
            if not trend.count:
                continue
            known = True
            value = trend.value
            _variables(variables, state)
            reason = state.reason
            if reason is not None:
                reasons.append(reason)
            if spec.kind in GAS:
                variables["gas_alarms"] = variables.get("gas_alarms", 0.0) + (state.stage >= 1)
                gas_stage = max(gas_stage, state.stage)
                gas_stage2 += state.stage == 2
                if reason is not None and state.stage:
                    gas_level = reason.level if gas_level is None else min(gas_level, reason.level)
            elif spec.kind in ("temperature", "pressure") and state.stage:
                heat_stage = max(heat_stage, state.stage)
                level = ORANGE if state.stage == 2 else YELLOW
                heat_level = level if heat_level is None else min(heat_level, level)
                if spec.kind == "pressure":
                    pressure_stage = max(pressure_stage, state.stage)
                elif (
                    state.stage == 2
                    and state.rising
                    and (spec.limits.high_high is not None and value >= spec.limits.high_high)
                ):
                    temperature_runaway = True
        if gas_stage2 >= 2:
            reasons.append(Reason("gas.spreading", RED, details={"detectors": gas_stage2}))
        if gas_level is not None and heat_level is not None:
            reasons.append(Reason("combination.gas_heat", raised(min(gas_level, heat_level))))
        if temperature_runaway and pressure_stage:
            reasons.append(Reason("combination.runaway", RED))
        unit = self._units.get(unit_id)
        if unit is not None and variables:
            for feature in self.features.matching(unit.unit_type, variables):
                if feature.failure_mode and feature.failure_mode in unit.failure_modes:
                    reasons.append(
                        Reason(
                            f"feature.{feature.id}",
                            raised(feature.level),
                            details={"failure_mode": feature.failure_mode, "history": True},
                        )
                    )
                else:
                    details = {"failure_mode": feature.failure_mode} if feature.failure_mode else {}
                    reasons.append(Reason(f"feature.{feature.id}", feature.level, details=details))
        reasons.extend(self._context.get(unit_id, ()))
        worst = min((r.level for r in reasons), default=None)
        reasons.sort(key=lambda r: (r.level, r.code))
        return Assessment(unit_id, now_us, worst, tuple(reasons), variables, known)

    def _point_reason(self, state: _State) -> Reason | None:
        spec, trend = state.spec, state.trend
        limits, value = spec.limits, trend.value
        prefix = "gas" if spec.kind in GAS else "process"
        if state.stage == 2:
            limit = (
                limits.high_high
                if limits.high_high is not None and value >= limits.high_high
                else limits.low_low
            )
            return Reason(
                f"{prefix}.second", ORANGE, spec.label, value, limit, unit=spec.measure_unit or None
            )
        if state.stage == 1:
            high = limits.high is not None and value >= limits.high
            limit = limits.high if high else limits.low
            nxt = limits.high_high if high else limits.low_low
            eta = trend.seconds_to(nxt, rising=high) if nxt is not None else None
            return Reason(f"{prefix}.first", YELLOW, spec.label, value, limit, eta, spec.measure_unit or None)
        for limit, rising in ((limits.high, True), (limits.low, False)):
            if limit is None:
                continue
            if spec.kind in GAS and value < GAS_TREND_FLOOR * limit:
                continue
            eta = trend.seconds_to(limit, rising)
            if eta is not None and eta <= self.horizon_s:
                return Reason(
                    f"{prefix}.trend", BLUE, spec.label, value, limit, eta, spec.measure_unit or None
                )
        return None


def _variables(variables: dict[str, float], state: _State) -> None:
    """The unit's variables the features read: the worst value of each kind, its rate per minute (the
    steepest, with its sign) and, for gas, the reading as a percentage of its first set-point (of any gas,
    and of toxic gas alone)."""
    name, value, rate = state.variable, state.trend.value, state.rate
    if value > variables.get(name, float("-inf")):
        variables[name] = value
    key = f"{name}_rate"
    if abs(rate) > abs(variables.get(key, 0.0)):
        variables[key] = rate
    pct = state.pct
    if pct is not None:
        if pct > variables.get("gas_pct_of_alarm", 0.0):
            variables["gas_pct_of_alarm"] = pct
        if state.spec.kind == "toxic" and pct > variables.get("toxic_pct_of_alarm", 0.0):
            variables["toxic_pct_of_alarm"] = pct


__all__ = [
    "GAS",
    "KINDS",
    "PROCESS",
    "Assessment",
    "Evaluator",
    "Limits",
    "Reason",
    "UnitInfo",
    "WatchedPoint",
]
