from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indunet.core.errors import InvalidInput
from indunet.platform.models import (
    NOT_FINITE,
    OUT_OF_RANGE,
    TOO_LONG,
    UNKNOWN_POINT,
    WRONG_TYPE,
    DeviceType,
    PointRejected,
    compile_validator,
    decode,
)

LOW, HIGH = -50.0, 1500.0

TYPE = DeviceType.model_validate(
    {
        "name": "probe",
        "version": "1.0.0",
        "title": "Probe",
        "description": "Test type",
        "category": "instrument",
        "reference": "none",
        "points": [
            {"name": "temp", "description": "t", "data_type": "float", "min": LOW, "max": HIGH},
            {"name": "level", "description": "l", "data_type": "float"},
            {"name": "count", "description": "c", "data_type": "int", "min": 0, "max": 100},
            {"name": "big", "description": "b", "data_type": "int"},
            {"name": "running", "description": "r", "data_type": "bool"},
            {"name": "state", "description": "s", "data_type": "string"},
        ],
    }
)
VALIDATOR = compile_validator(TYPE)


def reason(point: str, value: Any) -> str:
    with pytest.raises(PointRejected) as info:
        VALIDATOR.check(point, value)
    assert info.value.point == point
    return info.value.reason


@pytest.mark.parametrize(
    ("point", "value", "stored"),
    [
        ("temp", 21.5, (21.5, None)),
        ("temp", 20, (20.0, None)),
        ("temp", LOW, (LOW, None)),
        ("temp", HIGH, (HIGH, None)),
        ("level", -1e300, (-1e300, None)),
        ("count", 7, (7.0, None)),
        ("count", 7.0, (7.0, None)),
        ("running", True, (1.0, None)),
        ("running", False, (0.0, None)),
        ("state", "RUNNING", (None, "RUNNING")),
        ("state", "", (None, "")),
        ("state", "x" * 4096, (None, "x" * 4096)),
    ],
)
def test_good_values_map_to_stored_form(point: str, value: Any, stored: tuple[Any, Any]) -> None:
    result = VALIDATOR.check(point, value)
    assert result == stored
    assert result[0] is None or type(result[0]) is float


def test_unknown_point() -> None:
    assert reason("nope", 1.0) == UNKNOWN_POINT


@pytest.mark.parametrize(
    ("point", "value"),
    [
        ("temp", "21.5"),
        ("temp", True),
        ("temp", None),
        ("temp", [1.0]),
        ("count", 7.5),
        ("count", False),
        ("running", 1),
        ("running", 0.0),
        ("running", "true"),
        ("state", 5),
        ("state", None),
        ("state", {"a": 1}),
    ],
)
def test_wrong_type(point: str, value: Any) -> None:
    assert reason(point, value) == WRONG_TYPE


@pytest.mark.parametrize(
    ("point", "value"),
    [
        ("temp", 1500.001),
        ("temp", -51),
        ("count", -1),
        ("count", 101),
        ("big", 2**53 + 1),
        ("level", 10**400),
    ],
)
def test_out_of_range(point: str, value: Any) -> None:
    assert reason(point, value) == OUT_OF_RANGE


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("point", ["temp", "level", "count"])
def test_not_finite(point: str, value: float) -> None:
    assert reason(point, value) == NOT_FINITE


def test_too_long() -> None:
    assert reason("state", "x" * 4097) == TOO_LONG


def test_text_with_nul_is_refused_but_other_control_characters_are_kept() -> None:
    assert reason("state", "run\x00ning") == WRONG_TYPE
    assert VALIDATOR.check("state", "line 1\nline 2\t") == (None, "line 1\nline 2\t")


def test_rejection_is_invalid_input_with_key() -> None:
    with pytest.raises(InvalidInput) as info:
        VALIDATOR.check("count", 500)
    assert info.value.key == "error.telemetry.out_of_range"
    assert "count" in info.value.message


def test_checkers_dict_lets_callers_skip_the_lookup() -> None:
    assert set(VALIDATOR.checkers) == {p.name for p in TYPE.points}
    assert VALIDATOR.checkers["count"](3) == (3.0, None)


@pytest.mark.parametrize(
    ("point", "value"),
    [
        ("temp", 21.5),
        ("count", 42),
        ("big", -(2**53)),
        ("running", True),
        ("running", False),
        ("state", "Idle"),
    ],
)
def test_decode_round_trip(point: str, value: Any) -> None:
    num, text = VALIDATOR.check(point, value)
    spec = TYPE.point(point)
    assert spec is not None
    decoded = decode(spec, num, text)
    assert decoded == value
    assert type(decoded) is type(value)


def test_decode_missing_value_is_none() -> None:
    spec = TYPE.point("count")
    assert spec is not None
    assert decode(spec, None, None) is None


@given(st.floats(min_value=LOW, max_value=HIGH))
def test_any_finite_float_in_range_is_accepted(value: float) -> None:
    assert VALIDATOR.check("temp", value) == (value, None)


@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: v < LOW or v > HIGH))
def test_any_finite_float_outside_range_is_rejected(value: float) -> None:
    assert reason("temp", value) == OUT_OF_RANGE


@given(st.integers(min_value=0, max_value=100))
def test_any_int_in_range_accepted_and_decoded(value: int) -> None:
    num, text = VALIDATOR.check("count", value)
    spec = TYPE.point("count")
    assert spec is not None
    assert decode(spec, num, text) == value
