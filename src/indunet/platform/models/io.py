"""Device type files (YAML or JSON) to ``DeviceType`` and back, plus the library shipped with indunet."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from indunet.core.errors import InvalidInput, PayloadTooLarge
from indunet.platform.models.schema import DeviceType

MAX_MODEL_BYTES = 1024 * 1024

Format = Literal["yaml", "json"]


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors and aliases: nested aliases expand exponentially (billion laughs)."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "YAML aliases are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def load_device_type(data: bytes | str, fmt: Format | None = None) -> DeviceType:
    """Parse and validate a device type file; ``fmt=None`` tells JSON from YAML by the first character."""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > MAX_MODEL_BYTES:
        raise PayloadTooLarge(
            f"model file of {size} bytes exceeds {MAX_MODEL_BYTES}", key="error.model.too_large", size=size
        )
    text = _decode(data)
    if fmt is None:
        fmt = "json" if text.lstrip().startswith("{") else "yaml"
    raw = _parse(text, fmt)
    if not isinstance(raw, dict):
        raise InvalidInput("a device type must be a mapping at the top level", key="error.model.not_mapping")
    return validate_device_type(raw)


def validate_device_type(raw: dict[str, Any]) -> DeviceType:
    """A parsed mapping to ``DeviceType``, with pydantic's errors flattened into ``InvalidInput.errors``."""
    try:
        return DeviceType.model_validate(raw)
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors(include_url=False)]
        name = raw.get("name")
        label = f"device type {name!r}" if isinstance(name, str) else "device type"
        first = errors[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise InvalidInput(
            f"invalid {label}: {len(errors)} error(s), first at {where}: {first['msg']}",
            key="error.model.invalid",
            errors=errors,
        ) from None


def dump_json(device_type: DeviceType) -> dict[str, Any]:
    """The JSON form of a device type; ``load_device_type`` reads it back to an equal model."""
    return device_type.model_dump(mode="json", exclude_none=True)


def builtin_types() -> list[DeviceType]:
    """The device types shipped in ``indunet/platform/models/library``, sorted by name."""
    return list(_builtin_types())


@functools.cache
def _builtin_types() -> tuple[DeviceType, ...]:
    library = resources.files("indunet.platform.models") / "library"
    types = [
        load_device_type(entry.read_bytes(), "yaml")
        for entry in library.iterdir()
        if entry.name.endswith(".yaml")
    ]
    return tuple(sorted(types, key=lambda t: t.name))


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"model file is not UTF-8: {exc.reason}", key="error.model.encoding") from None


def _parse(text: str, fmt: Format) -> Any:
    if fmt == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", key="error.model.syntax"
            ) from None
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise InvalidInput(f"not valid YAML: {exc}", key="error.model.syntax") from None
