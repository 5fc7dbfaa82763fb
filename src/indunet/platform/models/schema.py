"""Device types as data: the pydantic schema every model file (YAML, JSON, AAS) is checked against.

A device type names its telemetry points, static attributes and commands. Models are frozen so one
parsed instance can be shared by every device of that type and by the compiled validators.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

IDENTIFIER_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
# Semantic Versioning 2.0.0, without the (rarely used) numeric-identifier rules for pre-releases.
SEMVER_PATTERN = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"

MAX_POINTS = 1000
MAX_ATTRIBUTES = 200
MAX_COMMANDS = 100
MAX_PARAMS = 50
MAX_TEXT = 1000
# Longest string a string point or attribute may hold; the telemetry validator uses the same limit.
MAX_STRING_VALUE = 4096

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
# Tabs and line breaks are text; other control characters are not, and XML-based exchange formats
# (AAS among them) cannot carry them at all.
_PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT, pattern=_PRINTABLE)]
OptionalText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT, pattern=_PRINTABLE)] | None
# AAS display names allow 128 characters, and titles become display names on export.
Title = Annotated[str, Field(min_length=1, max_length=128, pattern=_PRINTABLE)]
Unit = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^\S(.*\S)?$")] | None
Limit = Annotated[float, Field(allow_inf_nan=False)] | None


class DataType(StrEnum):
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    STRING = "string"

    @property
    def numeric(self) -> bool:
        return self in (DataType.INT, DataType.FLOAT)


class Access(StrEnum):
    READ = "read"
    READ_WRITE = "read_write"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Ranged(_Frozen):
    """Shared by points and command parameters: a typed value with an optional unit and range."""

    name: Identifier
    data_type: DataType
    unit: Unit = None
    min: Limit = None
    max: Limit = None

    @model_validator(mode="after")
    def _check_range(self) -> Self:
        if (self.min is not None or self.max is not None) and not self.data_type.numeric:
            raise ValueError(f"min/max apply only to int and float, not to {self.data_type.value}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class Point(_Ranged):
    """A telemetry point: a value the device reports over time."""

    description: Text
    description_zh: OptionalText = None
    access: Access = Access.READ
    # A hint for gateways and simulators, not enforced on ingest.
    sampling_ms: Annotated[int, Field(gt=0, le=86_400_000)] | None = None


class Param(_Ranged):
    """One parameter of a command."""

    description: OptionalText = None
    description_zh: OptionalText = None
    required: bool = True


DefaultValue = bool | int | float | str | None


class Attribute(_Frozen):
    """A static property of a device (serial number, rated speed): set once, not streamed."""

    name: Identifier
    description: Text
    description_zh: OptionalText = None
    data_type: DataType
    unit: Unit = None
    default: DefaultValue = None

    @field_validator("default")
    @classmethod
    def _default_matches_type(cls, value: DefaultValue, info: ValidationInfo) -> DefaultValue:
        data_type = info.data.get("data_type")
        if value is None or data_type is None:
            return value
        if data_type is DataType.BOOL and isinstance(value, bool):
            return value
        if data_type is DataType.INT and isinstance(value, int) and not isinstance(value, bool):
            return value
        if data_type is DataType.FLOAT and isinstance(value, int | float) and not isinstance(value, bool):
            # YAML writes 0 for 0.0; keep floats as floats so exports round-trip.
            return float(value)
        if data_type is DataType.STRING and isinstance(value, str):
            if len(value) > MAX_STRING_VALUE:
                raise ValueError(f"default is longer than {MAX_STRING_VALUE} characters")
            return value
        raise ValueError(f"default {value!r} does not fit data type {data_type.value}")


class Command(_Frozen):
    """An operation a client can invoke on the device."""

    name: Identifier
    description: Text
    description_zh: OptionalText = None
    params: tuple[Param, ...] = Field(default=(), max_length=MAX_PARAMS)

    @model_validator(mode="after")
    def _unique_params(self) -> Self:
        _require_unique("params", (p.name for p in self.params))
        return self


class DeviceType(_Frozen):
    """A device type after a public companion specification, e.g. OPC 40501-1 for machine tools."""

    name: Identifier
    version: Annotated[str, Field(pattern=SEMVER_PATTERN, max_length=64)]
    title: Title
    title_zh: Title | None = None
    description: Text
    description_zh: OptionalText = None
    category: Identifier
    reference: Text
    points: tuple[Point, ...] = Field(default=(), max_length=MAX_POINTS)
    attributes: tuple[Attribute, ...] = Field(default=(), max_length=MAX_ATTRIBUTES)
    commands: tuple[Command, ...] = Field(default=(), max_length=MAX_COMMANDS)

    _points_by_name: dict[str, Point] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        _require_unique("points", (p.name for p in self.points))
        _require_unique("attributes", (a.name for a in self.attributes))
        _require_unique("commands", (c.name for c in self.commands))
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._points_by_name = {p.name: p for p in self.points}

    def point(self, name: str) -> Point | None:
        return self._points_by_name.get(name)


def _require_unique(what: str, names: Iterable[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate name in {what}: {name!r}")
        seen.add(name)
