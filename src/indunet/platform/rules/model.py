"""Rules as data: what a rule says, and its check against the device type it applies to.

A rule belongs to a device type (``type``) and optionally narrows to one device (``device``). Its
``condition`` is one of four kinds:

    threshold   value above ``high`` (or below ``low``) for ``for_s`` seconds raises; with
                ``inclusive`` a value that reaches the limit raises too (gas detection standards
                word their set-points so). The alarm clears once the value is back inside by
                ``hysteresis`` (below high - hysteresis, above low + hysteresis), so a value hovering
                at the limit does not flap
    rate        the point's change per second over ``window_s`` exceeds ``max_per_s`` in magnitude
    no_data     no sample of the point for ``timeout_s`` seconds
    expression  a boolean expression over several points of the device, true for ``for_s`` seconds

``schedule`` limits evaluation to weekdays and a daily time window in an IANA time zone; outside it
nothing is raised (open alarms stay as they are). ``notify`` lists the rule's webhook and e-mail targets.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from indunet.core.errors import InvalidInput
from indunet.core.validation import refused
from indunet.platform.models import DataType, DeviceType
from indunet.platform.rules.expression import Expression

DEFAULT_TIMEZONE = "Asia/Shanghai"
MAX_TARGETS = 10
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


class Severity(StrEnum):
    """ThingsBoard's set, most severe first."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"
    INDETERMINATE = "indeterminate"


class _Strict(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}


Finite = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
Seconds = Annotated[float, Field(allow_inf_nan=False, ge=0, le=7 * 86400)]


class Threshold(_Strict):
    kind: Literal["threshold"]
    point: str = Field(min_length=1, max_length=64)
    high: Finite | None = None
    low: Finite | None = None
    hysteresis: Annotated[float, Field(allow_inf_nan=False, ge=0, le=1e15)] = 0.0
    for_s: Seconds = 0.0
    inclusive: bool = False

    @model_validator(mode="after")
    def _a_limit(self) -> Threshold:
        if self.high is None and self.low is None:
            raise ValueError("a threshold needs high, low or both")
        if self.high is not None and self.low is not None and self.low >= self.high:
            raise ValueError("low must be below high")
        return self


class Rate(_Strict):
    kind: Literal["rate"]
    point: str = Field(min_length=1, max_length=64)
    max_per_s: Annotated[float, Field(allow_inf_nan=False, gt=0, le=1e15)]
    window_s: Annotated[float, Field(allow_inf_nan=False, gt=0, le=3600)] = 10.0


class NoData(_Strict):
    kind: Literal["no_data"]
    point: str = Field(min_length=1, max_length=64)
    timeout_s: Annotated[float, Field(allow_inf_nan=False, ge=1, le=7 * 86400)]


class ExpressionCondition(_Strict):
    kind: Literal["expression"]
    expression: str = Field(min_length=1, max_length=500)
    for_s: Seconds = 0.0


Condition = Annotated[Threshold | Rate | NoData | ExpressionCondition, Field(discriminator="kind")]


class Schedule(_Strict):
    days: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5, 6, 7], min_length=1, max_length=7
    )
    """ISO weekdays, 1 = Monday."""
    start: str = "00:00"
    end: str = "24:00"
    timezone: str = DEFAULT_TIMEZONE

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("times are HH:MM, 00:00 to 24:00")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    def active(self, ts_us: int) -> bool:
        """Whether the instant falls in the window; a window with end before start spans midnight."""
        local = datetime.fromtimestamp(ts_us / 1_000_000, ZoneInfo(self.timezone))
        now = local.time()
        start, end = _parse(self.start), _parse(self.end)
        if start <= end:
            return local.isoweekday() in self.days and start <= now < end
        # Overnight, e.g. 22:00-06:00: the early hours belong to the previous day's shift.
        if now >= start:
            return local.isoweekday() in self.days
        return now < end and (local.isoweekday() - 2) % 7 + 1 in self.days


def _parse(hhmm: str) -> time:
    if hhmm == "24:00":
        return time.max
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


class Webhook(_Strict):
    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://")
    headers: dict[Annotated[str, Field(max_length=100)], Annotated[str, Field(max_length=1000)]] = Field(
        default_factory=dict, max_length=20
    )


class Email(_Strict):
    to: list[Annotated[str, Field(max_length=320)]] = Field(min_length=1, max_length=MAX_TARGETS)
    server: str = Field(default="127.0.0.1:25", max_length=300, pattern=r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
    sender: str = Field(default="indunet@localhost", max_length=320)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not _EMAIL.match(address):
                raise ValueError(f"not an e-mail address: {address!r}")
        return value


class Notify(_Strict):
    webhooks: list[Webhook] = Field(default_factory=list, max_length=MAX_TARGETS)
    emails: list[Email] = Field(default_factory=list, max_length=MAX_TARGETS)


class RuleSpec(_Strict):
    """What a client sends to create or replace a rule."""

    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=1000)
    type: str = Field(min_length=1, max_length=64)
    device: str | None = Field(default=None, min_length=1, max_length=128)
    severity: Severity = Severity.MAJOR
    enabled: bool = True
    condition: Condition
    schedule: Schedule | None = None
    notify: Notify = Field(default_factory=Notify)


def parse_spec(document: Any) -> RuleSpec:
    """A rule from JSON, every problem reported at once as one 422."""
    try:
        return RuleSpec.model_validate(document)
    except ValidationError as exc:
        raise refused(exc, "rule", "error.bad_rule") from None


def points_read(condition: Threshold | Rate | NoData | ExpressionCondition) -> frozenset[str]:
    if isinstance(condition, ExpressionCondition):
        return Expression(condition.expression).names
    return frozenset({condition.point})


def check_against_type(spec: RuleSpec, device_type: DeviceType) -> None:
    """Every point the rule reads exists in the type, and is of a kind the condition can compare."""
    condition = spec.condition
    for name in sorted(points_read(condition)):
        point = device_type.point(name)
        if point is None:
            raise InvalidInput(
                f"{device_type.name} has no point {name!r}", key="error.unknown_point", point=name
            )
        numeric = point.data_type in (DataType.INT, DataType.FLOAT)
        if isinstance(condition, Threshold | Rate) and not numeric:
            raise InvalidInput(
                f"point {name!r} is {point.data_type.value}: a {condition.kind} rule needs a number",
                key="error.rule_point_not_numeric",
                point=name,
            )
        if isinstance(condition, ExpressionCondition) and point.data_type is DataType.STRING:
            raise InvalidInput(
                f"point {name!r} is text: expressions compare numbers and booleans",
                key="error.rule_point_not_numeric",
                point=name,
            )
