"""Rule evaluation as a state machine per rule and device, with no I/O: samples and clock ticks in,
raise and clear transitions out. The engine (``engine.py``) feeds it and writes the alarms.

Theory of operation. Each (rule, device) pair keeps what its condition needs: whether the evaluator
holds the alarm raised, since when the condition has been true (for ``for_s``), the latest value of
each point (expressions), a window of samples (rate) and the time of the last sample (no-data).
A transition is emitted only on a change: raise when the condition starts to hold (after ``for_s``),
clear when it stops (for thresholds, only once the value is back inside by the hysteresis). A value
that leaves the limit again while the alarm is still raised inside the hysteresis band is a repeat:
the engine bumps the open alarm's count instead of opening another.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from indunet.platform.rules.expression import Expression
from indunet.platform.rules.model import (
    ExpressionCondition,
    NoData,
    Notify,
    Rate,
    RuleSpec,
    Schedule,
    Threshold,
)
from indunet.platform.runtime import StoredSample

US = 1_000_000
MAX_RATE_WINDOW_SAMPLES = 10_000


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    tenant_id: str
    name: str
    type_name: str
    device_id: str | None
    severity: str
    condition: Threshold | Rate | NoData | ExpressionCondition
    schedule: Schedule | None
    notify: Notify
    points: frozenset[str]
    expression: Expression | None = None

    @classmethod
    def build(cls, rule_id: str, tenant_id: str, device_id: str | None, spec: RuleSpec) -> CompiledRule:
        condition = spec.condition
        expression = Expression(condition.expression) if isinstance(condition, ExpressionCondition) else None
        points = expression.names if expression is not None else frozenset({condition.point})  # type: ignore[union-attr]
        return cls(
            rule_id,
            tenant_id,
            spec.name,
            spec.type,
            device_id,
            spec.severity.value,
            condition,
            spec.schedule,
            spec.notify,
            points,
            expression,
        )


@dataclass(frozen=True, slots=True)
class Transition:
    rule: CompiledRule
    device_id: str
    kind: str
    """``raise``, ``repeat`` or ``clear``."""
    ts_us: int
    message: str
    details: dict[str, Any]


@dataclass(slots=True)
class _State:
    raised: bool = False
    outside: bool = False
    since: int | None = None
    values: dict[str, float] = field(default_factory=dict)
    window: deque[tuple[int, float]] = field(default_factory=deque)
    last_sample: int | None = None


class Evaluator:
    def __init__(self) -> None:
        self._states: dict[tuple[str, str], _State] = {}

    def forget_rule(self, rule_id: str) -> None:
        for key in [k for k in self._states if k[0] == rule_id]:
            del self._states[key]

    def forget_devices(self, keep: Callable[[str], bool]) -> None:
        """Drop the state of every device ``keep`` refuses."""
        for key in [k for k in self._states if not keep(k[1])]:
            del self._states[key]

    def watch(self, rule: CompiledRule, device_id: str, now_us: int) -> None:
        """Start the no-data clock of a device that has not sent anything yet."""
        state = self._states.setdefault((rule.id, device_id), _State())
        if state.last_sample is None:
            state.last_sample = now_us

    def on_samples(
        self, rule: CompiledRule, device_id: str, samples: Iterable[StoredSample]
    ) -> list[Transition]:
        state = self._states.setdefault((rule.id, device_id), _State())
        out: list[Transition] = []
        for sample in samples:
            if sample.point not in rule.points:
                continue
            value = sample.num
            state.last_sample = max(state.last_sample or 0, sample.ts_us)
            condition = rule.condition
            if isinstance(condition, NoData):
                if state.raised:
                    state.raised = False
                    out.append(
                        _transition(
                            rule, device_id, "clear", sample.ts_us, f"{sample.point} reports again", {}
                        )
                    )
                continue
            if value is None:
                continue
            if not _in_schedule(rule, sample.ts_us):
                state.since = None
                continue
            if isinstance(condition, Threshold):
                out.extend(self._threshold(rule, condition, state, device_id, sample.ts_us, value))
            elif isinstance(condition, Rate):
                out.extend(self._rate(rule, condition, state, device_id, sample.ts_us, value))
            else:
                state.values[sample.point] = value
                out.extend(self._expression(rule, condition, state, device_id, sample.ts_us))
        return out

    def on_tick(self, rule: CompiledRule, now_us: int) -> list[Transition]:
        """Time-driven transitions: no-data timeouts and ``for_s`` delays with no new sample."""
        out: list[Transition] = []
        condition = rule.condition
        for (rule_id, device_id), state in self._states.items():
            if rule_id != rule.id or state.raised or not _in_schedule(rule, now_us):
                continue
            if isinstance(condition, NoData):
                last = state.last_sample
                if last is not None and now_us - last >= condition.timeout_s * US:
                    state.raised = True
                    silent = (now_us - last) / US
                    out.append(
                        _transition(
                            rule,
                            device_id,
                            "raise",
                            now_us,
                            f"no {condition.point} for {silent:.0f} s (limit {condition.timeout_s:g} s)",
                            {"point": condition.point, "silent_s": round(silent, 3)},
                        )
                    )
            elif (
                isinstance(condition, Threshold | ExpressionCondition)
                and state.since is not None
                and now_us - state.since >= condition.for_s * US
            ):
                state.raised = True
                out.append(self._raise_held(rule, condition, state, device_id, now_us))
        return out

    # -- kinds ---------------------------------------------------------------------------------------
    def _threshold(
        self, rule: CompiledRule, c: Threshold, state: _State, device_id: str, ts: int, value: float
    ) -> list[Transition]:
        outside = _outside(c, value)
        back_inside = (c.high is None or value < c.high - c.hysteresis) and (
            c.low is None or value > c.low + c.hysteresis
        )
        state.values[c.point] = value
        was_outside, state.outside = state.outside, outside
        if state.raised:
            if back_inside:
                state.raised, state.since = False, None
                return [
                    _transition(
                        rule,
                        device_id,
                        "clear",
                        ts,
                        f"{c.point} = {value:g} is back within limits",
                        {"point": c.point, "value": value},
                    )
                ]
            if outside and not was_outside:
                return [
                    _transition(
                        rule,
                        device_id,
                        "repeat",
                        ts,
                        _limit_text(c, value),
                        {"point": c.point, "value": value},
                    )
                ]
            return []
        if not outside:
            state.since = None
            return []
        if state.since is None:
            state.since = ts
        if ts - state.since >= c.for_s * US:
            state.raised = True
            return [self._raise_held(rule, c, state, device_id, ts)]
        return []

    def _rate(
        self, rule: CompiledRule, c: Rate, state: _State, device_id: str, ts: int, value: float
    ) -> list[Transition]:
        window = state.window
        if window and ts <= window[-1][0]:
            return []  # late or duplicate sample: a rate needs time to move forward
        window.append((ts, value))
        while window and (window[0][0] < ts - c.window_s * US or len(window) > MAX_RATE_WINDOW_SAMPLES):
            window.popleft()
        if len(window) < 2:
            return []
        (t0, v0), (t1, v1) = window[0], window[-1]
        rate = (v1 - v0) / ((t1 - t0) / US)
        details = {"point": c.point, "rate_per_s": round(rate, 6), "value": value}
        if abs(rate) > c.max_per_s and not state.raised:
            state.raised = True
            text = f"{c.point} changes by {rate:+g}/s (limit ±{c.max_per_s:g}/s)"
            return [_transition(rule, device_id, "raise", ts, text, details)]
        if abs(rate) <= c.max_per_s and state.raised:
            state.raised = False
            return [
                _transition(
                    rule, device_id, "clear", ts, f"{c.point} rate {rate:+g}/s is within limits", details
                )
            ]
        return []

    def _expression(
        self, rule: CompiledRule, c: ExpressionCondition, state: _State, device_id: str, ts: int
    ) -> list[Transition]:
        assert rule.expression is not None
        verdict = rule.expression.evaluate(state.values)
        if verdict is None:
            return []
        if not verdict:
            state.since = None
            if state.raised:
                state.raised = False
                return [
                    _transition(
                        rule, device_id, "clear", ts, f"{c.expression} no longer holds", dict(state.values)
                    )
                ]
            return []
        if state.raised:
            return []
        if state.since is None:
            state.since = ts
        if ts - state.since >= c.for_s * US:
            state.raised = True
            return [self._raise_held(rule, c, state, device_id, ts)]
        return []

    def _raise_held(
        self, rule: CompiledRule, c: Threshold | ExpressionCondition, state: _State, device_id: str, ts: int
    ) -> Transition:
        if isinstance(c, Threshold):
            value = state.values.get(c.point, 0.0)
            return _transition(
                rule, device_id, "raise", ts, _limit_text(c, value), {"point": c.point, "value": value}
            )
        return _transition(rule, device_id, "raise", ts, f"{c.expression} holds", dict(state.values))


def _in_schedule(rule: CompiledRule, ts_us: int) -> bool:
    return rule.schedule is None or rule.schedule.active(ts_us)


def _outside(c: Threshold, value: float) -> bool:
    if c.inclusive:
        return (c.high is not None and value >= c.high) or (c.low is not None and value <= c.low)
    return (c.high is not None and value > c.high) or (c.low is not None and value < c.low)


def _limit_text(c: Threshold, value: float) -> str:
    if c.high is not None and (value >= c.high if c.inclusive else value > c.high):
        return f"{c.point} = {value:g} {'at or above' if c.inclusive else 'above'} {c.high:g}"
    return f"{c.point} = {value:g} {'at or below' if c.inclusive else 'below'} {c.low:g}"


def _transition(
    rule: CompiledRule, device_id: str, kind: str, ts: int, message: str, details: dict[str, Any]
) -> Transition:
    return Transition(rule, device_id, kind, ts, message[:500], details)
