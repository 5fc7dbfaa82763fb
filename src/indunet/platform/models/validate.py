"""Telemetry values checked against their point, on the ingest hot path.

Ingest checks every point of every record (150,000 points/s and more), so the work per point is kept
to a dict lookup and one specialised closure: ``compile_validator`` builds, once per device type, a
checker per point with its type test and limits bound in. A good value costs no exception; a bad one
raises ``PointRejected`` with a machine reason code, which the caller records and moves on.

Stored form: every numeric and boolean value is a float (``num``; booleans as 1.0/0.0), every string
is text. ``decode`` turns the stored form back into the JSON value of the point's type.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

from indunet.core.errors import InvalidInput
from indunet.platform.models.schema import MAX_STRING_VALUE, DataType, DeviceType, Point

UNKNOWN_POINT: Final = "unknown_point"
WRONG_TYPE: Final = "wrong_type"
OUT_OF_RANGE: Final = "out_of_range"
NOT_FINITE: Final = "not_finite"
TOO_LONG: Final = "too_long"

# Integers beyond 2**53 lose digits as floats; reject them rather than store a different number.
_MAX_EXACT_INT: Final = 2**53

Stored = tuple[float | None, str | None]
Checker = Callable[[object], Stored]
JsonValue = bool | int | float | str | None


class PointRejected(InvalidInput):
    """A telemetry value that does not fit its point; ``reason`` is one of the codes above."""

    def __init__(self, point: str, reason: str, message: str) -> None:
        super().__init__(f"{point}: {message}", key=f"error.telemetry.{reason}", point=point, reason=reason)
        self.point = point
        self.reason = reason


class Validator:
    """Compiled checks for one device type; build it once per type and reuse it."""

    def __init__(self, device_type: DeviceType) -> None:
        self.device_type = device_type
        self.checkers: dict[str, Checker] = {p.name: _compile_point(p) for p in device_type.points}

    def check(self, point: str, value: object) -> Stored:
        """The stored form ``(num, text)`` of ``value``, or PointRejected."""
        checker = self.checkers.get(point)
        if checker is None:
            raise PointRejected(point, UNKNOWN_POINT, f"{self.device_type.name} has no point {point!r}")
        return checker(value)


def compile_validator(device_type: DeviceType) -> Validator:
    return Validator(device_type)


def decode(point: Point, num: float | None, text: str | None) -> JsonValue:
    """The JSON value of a stored sample: int for int points, bool for bool points."""
    data_type = point.data_type
    if data_type is DataType.STRING:
        return text
    if num is None:
        return None
    if data_type is DataType.FLOAT:
        return num
    if data_type is DataType.INT:
        return int(num)
    return num != 0.0


def _compile_point(point: Point) -> Checker:
    name = point.name
    if point.data_type is DataType.BOOL:
        return _bool_checker(name)
    if point.data_type is DataType.STRING:
        return _string_checker(name)
    low = -math.inf if point.min is None else point.min
    high = math.inf if point.max is None else point.max
    return _number_checker(name, low, high, integral=point.data_type is DataType.INT)


def _bool_checker(name: str) -> Checker:
    def check(value: object) -> Stored:
        if value is True:
            return 1.0, None
        if value is False:
            return 0.0, None
        raise PointRejected(name, WRONG_TYPE, f"expected true or false, got {_kind(value)}")

    return check


def _string_checker(name: str) -> Checker:
    def check(value: object) -> Stored:
        if type(value) is not str:
            raise PointRejected(name, WRONG_TYPE, f"expected a string, got {_kind(value)}")
        if len(value) > MAX_STRING_VALUE:
            message = f"string of {len(value)} characters exceeds {MAX_STRING_VALUE}"
            raise PointRejected(name, TOO_LONG, message)
        if "\x00" in value:
            # PostgreSQL text cannot hold NUL; refusing it here keeps one bad value from failing a batch.
            raise PointRejected(name, WRONG_TYPE, "text holds a NUL character")
        return None, value

    return check


def _number_checker(name: str, low: float, high: float, *, integral: bool) -> Checker:
    isfinite = math.isfinite
    expected = "an integer" if integral else "a number"

    def check(value: object) -> Stored:
        # type() rather than isinstance(): bool is an int subclass but never a number here.
        if type(value) is float:
            num = value
            if not isfinite(num):
                raise PointRejected(name, NOT_FINITE, f"{num} is not a finite number")
            if integral and not num.is_integer():
                raise PointRejected(name, WRONG_TYPE, f"expected an integer, got {num}")
        elif type(value) is int:
            if integral and not -_MAX_EXACT_INT <= value <= _MAX_EXACT_INT:
                raise PointRejected(name, OUT_OF_RANGE, f"{value} exceeds the exactly storable ±2**53")
            try:
                num = float(value)
            except OverflowError:
                raise PointRejected(name, OUT_OF_RANGE, "integer too large for a float") from None
        else:
            raise PointRejected(name, WRONG_TYPE, f"expected {expected}, got {_kind(value)}")
        if num < low or num > high:
            raise PointRejected(name, OUT_OF_RANGE, f"{num:g} outside [{low:g}, {high:g}]")
        return num, None

    return check


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"
