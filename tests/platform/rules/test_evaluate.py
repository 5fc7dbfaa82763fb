"""The evaluator's state machine: samples and ticks in, raise / repeat / clear out."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from indunet.core.errors import InvalidInput
from indunet.platform.models import builtin_types
from indunet.platform.rules import CompiledRule, Evaluator, check_against_type, parse_spec
from indunet.platform.runtime import StoredSample

S = 1_000_000
CNC = next(t for t in builtin_types() if t.name == "cnc_machine_tool")


def rule(condition: dict[str, Any], **extra: Any) -> CompiledRule:
    spec = parse_spec({"name": "r", "type": "cnc_machine_tool", "condition": condition, **extra})
    check_against_type(spec, CNC)
    return CompiledRule.build("rule-1", "tenant", None, spec)


def feed(evaluator: Evaluator, r: CompiledRule, series: list[tuple[float, dict[str, float]]]) -> list[str]:
    """Kinds of transitions, in order, for samples at (seconds, {point: value})."""
    kinds: list[str] = []
    for t, values in series:
        samples = [
            StoredSample("tenant", "dev", "cnc_machine_tool", p, int(t * S), v, None)
            for p, v in values.items()
        ]
        kinds += [tr.kind for tr in evaluator.on_samples(r, "dev", samples)]
    return kinds


def load(*values: float) -> list[tuple[float, dict[str, float]]]:
    return [(i, {"spindle_load": v}) for i, v in enumerate(values)]


def test_threshold_raises_once_and_clears_only_past_the_hysteresis() -> None:
    r = rule({"kind": "threshold", "point": "spindle_load", "high": 90, "hysteresis": 5})
    # 91 raises; 88 is inside the band (no clear), 93 leaves it again (repeat), 84 clears.
    assert feed(Evaluator(), r, load(50, 91, 95, 88, 93, 86, 84, 50)) == ["raise", "repeat", "clear"]


def test_low_threshold() -> None:
    r = rule({"kind": "threshold", "point": "spindle_temperature", "low": 10, "hysteresis": 2})
    series = [(i, {"spindle_temperature": v}) for i, v in enumerate((20, 9, 11, 13))]
    assert feed(Evaluator(), r, series) == ["raise", "clear"]


def test_threshold_for_seconds_waits_for_the_condition_to_hold() -> None:
    r = rule({"kind": "threshold", "point": "spindle_load", "high": 90, "for_s": 3})
    evaluator = Evaluator()
    assert feed(evaluator, r, load(95, 95, 80, 95, 95, 95)) == []  # 3..5 held for 2 s only
    assert feed(evaluator, r, [(6, {"spindle_load": 95})]) == ["raise"]


def test_for_seconds_also_fires_on_the_clock_without_new_samples() -> None:
    r = rule({"kind": "threshold", "point": "spindle_load", "high": 90, "for_s": 5})
    evaluator = Evaluator()
    assert feed(evaluator, r, load(95)) == []
    assert evaluator.on_tick(r, 4 * S) == []
    assert [t.kind for t in evaluator.on_tick(r, 5 * S)] == ["raise"]


def test_rate_of_change_over_the_window() -> None:
    r = rule({"kind": "rate", "point": "spindle_temperature", "max_per_s": 2, "window_s": 5})
    steady = [(i, {"spindle_temperature": 30 + i}) for i in range(5)]  # 1 °C/s
    jump = [(5, {"spindle_temperature": 60})]  # 30 °C in 5 s window: 6 °C/s
    calm = [(5 + i, {"spindle_temperature": 60}) for i in range(1, 8)]
    assert feed(Evaluator(), r, steady + jump + calm) == ["raise", "clear"]


def test_no_data_times_out_on_the_clock_and_clears_on_the_next_sample() -> None:
    r = rule({"kind": "no_data", "point": "spindle_speed", "timeout_s": 30})
    evaluator = Evaluator()
    assert feed(evaluator, r, [(0, {"spindle_speed": 1000})]) == []
    assert evaluator.on_tick(r, 29 * S) == []
    raised = evaluator.on_tick(r, 31 * S)
    assert [t.kind for t in raised] == ["raise"] and raised[0].details["point"] == "spindle_speed"
    assert evaluator.on_tick(r, 60 * S) == []  # still silent: no second alarm
    assert feed(evaluator, r, [(61, {"spindle_speed": 1000})]) == ["clear"]


def test_a_watched_device_that_never_reports_times_out() -> None:
    r = rule({"kind": "no_data", "point": "spindle_speed", "timeout_s": 10})
    evaluator = Evaluator()
    evaluator.watch(r, "dev", 0)
    assert [t.device_id for t in evaluator.on_tick(r, 11 * S)] == ["dev"]


def test_expression_over_several_points() -> None:
    r = rule({"kind": "expression", "expression": "spindle_load > 80 and spindle_temperature > 60"})
    series = [
        (0, {"spindle_load": 85}),  # temperature unknown yet: no decision
        (1, {"spindle_temperature": 65}),  # now both hold
        (2, {"spindle_load": 90}),
        (3, {"spindle_temperature": 50}),
    ]
    assert feed(Evaluator(), r, series) == ["raise", "clear"]


def test_schedule_limits_raising_to_its_window() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    r = rule(
        {"kind": "threshold", "point": "spindle_load", "high": 90},
        schedule={"days": [1, 2, 3, 4, 5], "start": "08:00", "end": "18:00"},
    )
    monday_night = datetime(2026, 11, 23, 20, 0, tzinfo=shanghai).timestamp()
    monday_morning = datetime(2026, 11, 23, 9, 0, tzinfo=shanghai).timestamp()
    saturday_morning = datetime(2026, 11, 28, 9, 0, tzinfo=shanghai).timestamp()
    assert feed(Evaluator(), r, [(monday_night, {"spindle_load": 99})]) == []
    assert feed(Evaluator(), r, [(saturday_morning, {"spindle_load": 99})]) == []
    assert feed(Evaluator(), r, [(monday_morning, {"spindle_load": 99})]) == ["raise"]


def test_overnight_schedule_belongs_to_the_day_it_started() -> None:
    spec = parse_spec(
        {
            "name": "n",
            "type": "cnc_machine_tool",
            "condition": {"kind": "threshold", "point": "spindle_load", "high": 1},
            "schedule": {"days": [5], "start": "22:00", "end": "06:00", "timezone": "Europe/Berlin"},
        }
    )
    assert spec.schedule is not None
    berlin = ZoneInfo("Europe/Berlin")
    friday_late = int(datetime(2026, 11, 27, 23, 0, tzinfo=berlin).timestamp() * S)
    saturday_early = int(datetime(2026, 11, 28, 5, 0, tzinfo=berlin).timestamp() * S)
    saturday_late = int(datetime(2026, 11, 28, 23, 0, tzinfo=berlin).timestamp() * S)
    assert spec.schedule.active(friday_late) and spec.schedule.active(saturday_early)
    assert not spec.schedule.active(saturday_late)


@pytest.mark.parametrize(
    ("condition", "extra"),
    [
        ({"kind": "threshold", "point": "no_such_point", "high": 1}, {}),
        ({"kind": "threshold", "point": "program_name", "high": 1}, {}),
        ({"kind": "rate", "point": "operation_mode", "max_per_s": 1}, {}),
        ({"kind": "expression", "expression": "program_name > 1"}, {}),
        ({"kind": "expression", "expression": "ghost > 1"}, {}),
        ({"kind": "threshold", "point": "spindle_load"}, {}),
        ({"kind": "threshold", "point": "spindle_load", "high": 1, "low": 2}, {}),
        ({"kind": "no_data", "point": "spindle_load", "timeout_s": 0}, {}),
        (
            {"kind": "threshold", "point": "spindle_load", "high": 1},
            {"schedule": {"timezone": "Mars/Olympus"}},
        ),
        ({"kind": "threshold", "point": "spindle_load", "high": 1}, {"schedule": {"start": "25:00"}}),
        ({"kind": "threshold", "point": "spindle_load", "high": 1}, {"severity": "apocalyptic"}),
        ({"kind": "sql", "query": "DROP TABLE alarms"}, {}),
    ],
)
def test_rules_that_do_not_fit_the_model_are_refused(
    condition: dict[str, Any], extra: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInput):
        rule(condition, **extra)
