"""What a command to a device may say, checked against its device type before anything is sent.

The convention, for every transport:

- ``setValue`` with params ``{"point": name, "value": v}`` writes one point;
- a method named after a point, with params ``{"value": v}`` or the bare value ``v``, writes that
  point (ThingsBoard style, e.g. ``{"method": "spindle_override", "params": 110}``);
- a method named after one of the type's ``commands`` invokes it; its params are an object holding
  each declared parameter (required ones must be there, no others), each checked for type and range.
  A command declaring exactly one parameter also takes that parameter's bare value (``"params": 80``).

Point and parameter values are scalars (bool, int, float, string), so an object is never taken for a
bare value: nothing is guessed. The params go to the device as the caller wrote them. A written
point must be ``read_write`` and the value must pass the point's validator (type, range). Any other
method is refused: a device only receives commands its model declares, so a type without commands
takes point writes only. A command and a point of the same name resolve to the command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from indunet.core.errors import InvalidInput
from indunet.platform.models import (
    Access,
    Command,
    DeviceType,
    Point,
    PointRejected,
    Validator,
    compile_validator,
)

WRITE_METHOD: Final = "setValue"


@dataclass(frozen=True, slots=True)
class PointWrite:
    """A checked write of ``value`` to the read-write ``point``."""

    point: str
    value: Any


@dataclass(frozen=True, slots=True)
class CommandCall:
    """A checked invocation of a declared command, ``params`` by name (a bare value under its param's)."""

    command: str
    params: dict[str, Any]


Checked = PointWrite | CommandCall


def check(validator: Validator, method: str, params: Any) -> Checked:
    """The command ``method(params)`` means for this type, or InvalidInput saying why it is refused."""
    device_type = validator.device_type
    command = next((c for c in device_type.commands if c.name == method), None)
    if command is not None:
        return CommandCall(command.name, _check_params(device_type, command, params))
    if method == WRITE_METHOD:
        if (
            not isinstance(params, dict)
            or set(params) != {"point", "value"}
            or not isinstance(params["point"], str)
        ):
            raise InvalidInput(
                f'{WRITE_METHOD} takes params {{"point": name, "value": v}}', key="error.rpc_bad_params"
            )
        return _write(validator, params["point"], params["value"])
    if device_type.point(method) is not None:
        if params is None or (isinstance(params, dict) and set(params) != {"value"}):
            raise InvalidInput(
                f'writing point {method!r} takes params {{"value": v}} or the bare value',
                key="error.rpc_bad_params",
            )
        return _write(validator, method, params["value"] if isinstance(params, dict) else params)
    raise InvalidInput(
        f"{device_type.name} declares no command or point {method!r}",
        key="error.rpc_unknown_method",
        method=method[:128],
    )


def _write(validator: Validator, point: str, value: Any) -> PointWrite:
    spec = validator.device_type.point(point)
    if spec is None:
        raise InvalidInput(
            f"{validator.device_type.name} has no point {point!r}", key="error.unknown_point", point=point
        )
    if spec.access is not Access.READ_WRITE:
        raise InvalidInput(f"point {point!r} is read-only", key="error.rpc_read_only", point=point)
    validator.check(point, value)
    return PointWrite(point, value)


def _check_params(device_type: DeviceType, command: Command, params: Any) -> dict[str, Any]:
    if params is None:
        params = {}
    elif not isinstance(params, dict):
        if len(command.params) != 1:
            raise InvalidInput(
                f"command {command.name!r} takes an object of params"
                " (a bare value only when it declares exactly one)",
                key="error.rpc_bad_params",
            )
        params = {command.params[0].name: params}
    declared = {p.name for p in command.params}
    unknown = sorted(set(params) - declared)
    if unknown:
        raise InvalidInput(
            f"command {command.name!r} has no param {unknown[0]!r}", key="error.rpc_bad_params"
        )
    missing = [p.name for p in command.params if p.required and p.name not in params]
    if missing:
        raise InvalidInput(
            f"command {command.name!r} requires param {missing[0]!r}", key="error.rpc_bad_params"
        )
    checker = _param_validator(device_type, command)
    for name, value in params.items():
        try:
            checker.check(name, value)
        except PointRejected as exc:
            # The validator speaks of points; here the same check is about a command's parameter.
            raise InvalidInput(
                f"command {command.name!r}, param {exc.message}", key="error.rpc_bad_params"
            ) from None
    return dict(params)


def _param_validator(device_type: DeviceType, command: Command) -> Validator:
    """The model's value checks (type, range, text limits) applied to a command's parameters."""
    points = tuple(
        Point(name=p.name, data_type=p.data_type, min=p.min, max=p.max, description=p.name)
        for p in command.params
    )
    return compile_validator(device_type.model_copy(update={"points": points}))
