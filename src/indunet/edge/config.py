"""The gateway's configuration file: uplink, queue, and devices -> protocol bindings -> model points.

The file is YAML (or JSON, which is YAML) and is checked whole at start-up, before any connection is
opened: every device's type must be in the data dictionary (the built-in library plus the model files
the configuration names), every bound point must be a point of that type, the driver must accept the
device's connection and addresses, the raw value a driver delivers must fit the point's data type,
and a point written from the platform must be ``read_write`` in the model. Every problem is reported
with its place in the file, all at once, so a commissioning engineer fixes the file in one go.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from indunet.core.errors import ConfigurationError
from indunet.edge import drivers
from indunet.edge.driver import Binding, BindingError, DeviceSpec, Driver
from indunet.platform.models import DataType, DeviceType, builtin_types, load_device_type

MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_DEVICES = 2000
MAX_POINTS_PER_DEVICE = 2000

CREDENTIAL_KEYS = frozenset({"password", "token", "secret", "private_key_password", "api_key"})
"""Keys under a device's ``connection`` that ``indunet secrets seal-config`` seals (any case)."""

Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UplinkConfig(_Strict):
    """Where the platform is. The token is the gateway device's access token."""

    mqtt: str | None = Field(default="mqtt://127.0.0.1:1883", description="mqtt:// or mqtts:// URL")
    http: str | None = Field(default=None, description="base URL of the platform, used while MQTT is down")
    token: str = Field(min_length=1, max_length=512)
    ca_file: Path | None = None
    keep_alive_s: int = Field(default=30, ge=5, le=3600)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    # How long MQTT must have been down before samples go over HTTP instead.
    http_fallback_after_s: float = Field(default=15.0, ge=0, le=3600)
    batch_max_samples: int = Field(default=500, ge=1, le=10_000)
    # A message never exceeds this, nor the packet limit the MQTT server announces.
    batch_max_bytes: int = Field(default=256 * 1024, ge=4096, le=16 * 1024 * 1024)
    in_flight: int = Field(default=16, ge=1, le=1000)


class QueueConfig(_Strict):
    path: Path = Path("./var/gateway/queue.db")
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=64 * 1024)


class PointEntry(BaseModel):
    """One bound point; keys beyond these belong to the driver (its address)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    point: str = Field(min_length=1, max_length=64)
    scale: float = Field(default=1.0, allow_inf_nan=False)
    offset: float = Field(default=0.0, allow_inf_nan=False)


class DeviceEntry(_Strict):
    name: Name
    type: str = Field(min_length=1, max_length=64)
    driver: str
    connection: dict[str, Any] = Field(default_factory=dict)
    poll_ms: int = Field(default=1000, ge=10, le=86_400_000)
    points: list[PointEntry] = Field(min_length=1, max_length=MAX_POINTS_PER_DEVICE)
    commands: dict[str, dict[str, Any]] = Field(default_factory=dict)
    enabled: bool = True
    # What discovery found (``gateway scan``: CPU, firmware, endpoints...): kept for the reader, not used.
    info: dict[str, Any] = Field(default_factory=dict)


class GatewayFile(_Strict):
    name: Name = "gateway"
    uplink: UplinkConfig
    queue: QueueConfig = QueueConfig()
    health_interval_s: float = Field(default=10.0, ge=1, le=3600)
    models: list[Path] = Field(default_factory=list, max_length=100)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    devices: list[DeviceEntry] = Field(min_length=1, max_length=MAX_DEVICES)


@dataclass(frozen=True)
class DeviceConfig:
    """A checked device: its model, its driver (not yet connected) and its bindings by point."""

    name: str
    type: DeviceType
    driver_name: str
    poll_s: float
    spec: DeviceSpec
    driver: Driver
    bindings: Mapping[str, Binding]


@dataclass(frozen=True)
class GatewayConfig:
    name: str
    uplink: UplinkConfig
    queue: QueueConfig
    health_interval_s: float
    log_level: str
    devices: Sequence[DeviceConfig]
    types: Mapping[str, DeviceType]


def load(path: Path, environ: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read and check a configuration file; ConfigurationError lists every problem found.

    Sealed values (``sm4:…``, :mod:`indunet.security.sealed`) anywhere in the file are opened first,
    with the keyring named by ``INDUNET_KEYRING`` in ``environ`` (the process environment by default)
    or else lying beside the file (``gateway.yaml.keyring.json``)."""
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigurationError(
                f"{path}: {size} bytes exceeds {MAX_CONFIG_BYTES}", key="error.gateway.config_too_large"
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}", key="error.gateway.config_unreadable") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(
            f"{path}: not valid YAML: {exc}", key="error.gateway.config_invalid"
        ) from exc
    if "sm4:" in text:  # the crypto stack is imported only for files that may hold sealed values
        from indunet.security import sealed

        ring = sealed.ring_loader(sealed.keyring_path(path, environ))
        data = sealed.open_tree(data, ring, source=str(path))
    return parse(data, base=path.parent)


def is_credential(place: tuple[str | int, ...]) -> bool:
    """Whether a place in the file (keys and indices from the root) holds a credential to seal: the
    uplink's token, and a key named in :data:`CREDENTIAL_KEYS` anywhere under a device's connection."""
    if place == ("uplink", "token"):
        return True
    return (
        len(place) >= 4
        and place[0] == "devices"
        and isinstance(place[1], int)
        and place[2] == "connection"
        and isinstance(place[-1], str)
        and place[-1].lower() in CREDENTIAL_KEYS
    )


def parse(data: Any, base: Path = Path()) -> GatewayConfig:
    try:
        document = GatewayFile.model_validate(data)
    except ValidationError as exc:
        listed = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:50]]
        raise _invalid(listed) from None
    types = _types(document.models, base)
    problems: list[str] = []
    devices: list[DeviceConfig] = []
    seen: set[str] = set()
    for index, entry in enumerate(document.devices):
        where = f"devices[{index}] ({entry.name})"
        if entry.name in seen or entry.name == document.name:
            problems.append(f"{where}: duplicate device name")
            continue
        seen.add(entry.name)
        if not entry.enabled:
            continue
        device, errors = _device(entry, types)
        problems.extend(f"{where}.{error}" for error in errors)
        if device is not None:
            devices.append(device)
    if problems:
        raise _invalid(problems)
    queue = document.queue
    if not queue.path.is_absolute():
        queue = queue.model_copy(update={"path": base / queue.path})
    return GatewayConfig(
        name=document.name,
        uplink=document.uplink,
        queue=queue,
        health_interval_s=document.health_interval_s,
        log_level=document.log_level,
        devices=devices,
        types=types,
    )


def _invalid(problems: list[str]) -> ConfigurationError:
    listing = "\n  ".join(problems)
    return ConfigurationError(
        f"the gateway configuration has {len(problems)} problem(s):\n  {listing}",
        key="error.gateway.config_invalid",
        problems=listing,
    )


def _types(files: list[Path], base: Path) -> dict[str, DeviceType]:
    types = {t.name: t for t in builtin_types()}
    for file in files:
        path = file if file.is_absolute() else base / file
        try:
            device_type = load_device_type(path.read_bytes())
        except OSError as exc:
            raise ConfigurationError(f"models: cannot read {path}: {exc}") from exc
        except Exception as exc:  # InvalidInput with the model's own problems
            raise ConfigurationError(f"models: {path}: {exc}") from exc
        types[device_type.name] = device_type
    return types


# Which raw values fit which point types; an int register feeding a float point is fine (it is scaled).
_FITS: dict[DataType, frozenset[DataType]] = {
    DataType.BOOL: frozenset({DataType.BOOL}),
    DataType.INT: frozenset({DataType.INT, DataType.BOOL}),
    DataType.FLOAT: frozenset({DataType.FLOAT, DataType.INT}),
    DataType.STRING: frozenset({DataType.STRING}),
}


def _device(entry: DeviceEntry, types: Mapping[str, DeviceType]) -> tuple[DeviceConfig | None, list[str]]:
    device_type = types.get(entry.type)
    if device_type is None:
        return None, [f"type: {entry.type!r} is not in the data dictionary"]
    if entry.driver not in drivers.MODULES:
        return None, [f"driver: {entry.driver!r} is not one of {', '.join(sorted(drivers.MODULES))}"]
    problems: list[str] = []
    bindings: dict[str, Binding] = {}
    for index, point_entry in enumerate(entry.points):
        point = device_type.point(point_entry.point)
        if point is None:
            problems.append(f"points[{index}].point: {point_entry.point!r} is not a point of {entry.type}")
            continue
        if point_entry.point in bindings:
            problems.append(f"points[{index}].point: {point_entry.point!r} is bound twice")
            continue
        if (point_entry.scale != 1.0 or point_entry.offset != 0.0) and not point.data_type.numeric:
            problems.append(f"points[{index}]: scale and offset apply to numeric points only")
        if point_entry.scale == 0:
            problems.append(f"points[{index}].scale: must not be 0")
        address = dict(point_entry.model_extra or {})
        bindings[point.name] = Binding(point.name, address, point_entry.scale, point_entry.offset)
    for command in entry.commands:
        if not any(c.name == command for c in device_type.commands):
            problems.append(f"commands.{command}: not a command of {entry.type}")
    if problems:
        return None, problems
    spec = DeviceSpec(entry.name, entry.connection, tuple(bindings.values()), entry.commands)
    try:
        driver = drivers.factory(entry.driver)(spec)
    except BindingError as exc:
        return None, [exc.path + ": " + str(exc).split(": ", 1)[-1]]
    for name, binding in bindings.items():
        point = device_type.point(name)
        assert point is not None
        raw = driver.raw_types.get(name)
        if raw is None:
            continue
        fits = _FITS[point.data_type]
        if raw not in fits and not (binding.scale != 1.0 and point.data_type is DataType.INT):
            problems.append(
                f"points.{name}: the driver delivers {raw.value}, the model point is {point.data_type.value}"
            )
    if problems:
        return None, problems
    return (
        DeviceConfig(
            name=entry.name,
            type=device_type,
            driver_name=entry.driver,
            poll_s=entry.poll_ms / 1000,
            spec=spec,
            driver=driver,
            bindings=bindings,
        ),
        [],
    )
