"""MQTT JSON: devices that publish JSON documents to a broker of their own (Mosquitto on the line, say).

Connection keys: ``host``, ``port`` (1883), ``topic`` (the default topic filter for every point),
``username``, ``password``, ``timeout_s``, ``keep_alive_s``, ``ts_path`` (where a document carries
its own timestamp: epoch seconds, milliseconds or microseconds, told apart by magnitude; absent, the
receive time is used). Point keys: ``path`` (dotted, list indexes as numbers: ``motor.currents.0``;
absent, the point's name), ``topic`` (a filter of its own, default the connection's), ``type``
(bool|int|float|string, default float), ``write_topic`` (where a write of this point is published,
as the bare JSON value). Commands: ``{topic}``; the params are published as a JSON object.

Values arrive by subscription (MQTT 5, QoS 1). A document that is not JSON, or lacks a path, is
counted as a device error; the rest of the document still counts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from indunet.edge.driver import (
    BindingError,
    DeviceError,
    DeviceSpec,
    Emit,
    PollResult,
    Reading,
    TransportError,
    Value,
)
from indunet.edge.mqtt_client import ConnectionLost, MqttClient
from indunet.platform.models import DataType

MAX_DOCUMENT_BYTES = 1024 * 1024
MAX_PATH_PARTS = 16
_TYPES = {"bool": DataType.BOOL, "int": DataType.INT, "float": DataType.FLOAT, "string": DataType.STRING}


@dataclass(frozen=True, slots=True)
class _Point:
    name: str
    topic: str
    path: tuple[str | int, ...]
    data_type: DataType
    write_topic: str | None


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT topic filter matching (``+`` one level, ``#`` the rest)."""
    levels = topic.split("/")
    for index, part in enumerate(pattern.split("/")):
        if part == "#":
            return True
        if index >= len(levels) or (part != "+" and part != levels[index]):
            return False
    return len(pattern.split("/")) == len(levels)


def extract(document: Any, path: tuple[str | int, ...]) -> Any:
    """The value at ``path`` in a parsed JSON document; KeyError when it is not there."""
    node = document
    for part in path:
        if isinstance(part, int) and isinstance(node, list) and -len(node) <= part < len(node):
            node = node[part]
        elif isinstance(node, dict) and str(part) in node:
            node = node[str(part)]
        else:
            raise KeyError(".".join(str(p) for p in path))
    return node


def coerce(value: Any, data_type: DataType) -> Value:
    """A JSON value as ``data_type``; ValueError when it is not one."""
    if data_type is DataType.STRING:
        if isinstance(value, str):
            return value
        return json.dumps(value)
    if data_type is DataType.BOOL:
        if isinstance(value, bool):
            return value
        if value in (0, 1):
            return bool(value)
        raise ValueError(f"{value!r} is not a boolean")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    if data_type is DataType.INT:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{value!r} is not an integer")
        return int(value)
    return float(value)


def timestamp_us(value: Any) -> int:
    """Epoch seconds, milliseconds or microseconds, told apart by magnitude."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"timestamp {value!r} is not a number")
    if value < 1e11:
        return int(value * 1_000_000)
    if value < 1e14:
        return int(value * 1000)
    return int(value)


def _path(text: Any, where: str) -> tuple[str | int, ...]:
    if not isinstance(text, str) or not text or len(text) > 256:
        raise BindingError(where, "a dotted path of at most 256 characters")
    parts = text.split(".")
    if len(parts) > MAX_PATH_PARTS or any(not p for p in parts):
        raise BindingError(where, f"at most {MAX_PATH_PARTS} non-empty parts")
    return tuple(int(p) if p.lstrip("-").isdigit() else p for p in parts)


class MqttJsonDriver:
    subscribes = True

    def __init__(self, spec: DeviceSpec) -> None:
        connection = dict(spec.connection)
        self.host = str(connection.get("host", "127.0.0.1"))
        try:
            self.port = int(connection.get("port", 1883))
            self.timeout_s = float(connection.get("timeout_s", 10))
            self.keep_alive_s = int(connection.get("keep_alive_s", 30))
        except (TypeError, ValueError):
            raise BindingError("connection", "port, timeout_s and keep_alive_s are numbers") from None
        if not 0 < self.port < 65536:
            raise BindingError("connection.port", "1..65535")
        self.username = str(connection.get("username", ""))
        self.password = connection.get("password")
        default_topic = connection.get("topic")
        self.ts_path = _path(connection["ts_path"], "connection.ts_path") if "ts_path" in connection else None
        self.client_id = str(connection.get("client_id", f"indunet-{spec.name}"))[:64]
        self.points: list[_Point] = []
        for index, binding in enumerate(spec.bindings):
            address = dict(binding.address)
            where = f"points[{index}]"
            topic = address.pop("topic", default_topic)
            if not isinstance(topic, str) or not topic:
                raise BindingError(f"{where}.topic", "a topic filter (or connection.topic)")
            type_name = address.pop("type", "float")
            if type_name not in _TYPES:
                raise BindingError(f"{where}.type", f"one of {', '.join(_TYPES)}")
            path = _path(address.pop("path", binding.point), f"{where}.path")
            write_topic = address.pop("write_topic", None)
            if write_topic is not None and (
                not isinstance(write_topic, str) or set(write_topic) & {"+", "#"}
            ):
                raise BindingError(f"{where}.write_topic", "a topic name without wildcards")
            if address:
                raise BindingError(where, f"unknown keys: {', '.join(sorted(address))}")
            self.points.append(_Point(binding.point, topic, path, _TYPES[type_name], write_topic))
        self.commands: dict[str, str] = {}
        for name, keys in spec.commands.items():
            topic = keys.get("topic")
            if not isinstance(topic, str) or not topic or set(topic) & {"+", "#"}:
                raise BindingError(f"commands.{name}.topic", "a topic name without wildcards")
            self.commands[name] = topic
        self.raw_types: Mapping[str, DataType] = {p.name: p.data_type for p in self.points}
        self._filters = sorted({p.topic for p in self.points})
        self._client: MqttClient | None = None
        self._emit: Emit | None = None
        self._latest: dict[str, Reading] = {}
        self._errors: list[DeviceError] = []

    async def connect(self) -> None:
        client = MqttClient(
            self.host,
            self.port,
            token=self.username,
            password=str(self.password) if self.password else None,
            client_id=self.client_id,
            on_message=self._on_message,
            keep_alive_s=self.keep_alive_s,
            timeout_s=self.timeout_s,
        )
        try:
            await client.connect()
            codes = await client.subscribe(*self._filters)
        except ConnectionLost as exc:
            await client.close()
            raise TransportError(str(exc)) from None
        refused = [f for f, code in zip(self._filters, codes, strict=False) if code >= 0x80]
        if refused:
            await client.close()
            raise TransportError(f"the broker refused the subscription to {', '.join(refused)}")
        self._client = client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def read(self) -> PollResult:
        if self._client is None or not self._client.connected:
            raise TransportError("not connected")
        errors, self._errors = self._errors, []
        return PollResult(list(self._latest.values()), errors)

    async def subscribe(self, emit: Emit) -> None:
        client = self._client
        if client is None:
            raise TransportError("not connected")
        self._emit = emit
        try:
            reason = await client.wait_closed()
        finally:
            self._emit = None
        raise TransportError(reason)

    async def write(self, point: str, raw: Value) -> None:
        target = next((p for p in self.points if p.name == point), None)
        if target is None or target.write_topic is None:
            raise DeviceError(f"point {point!r} has no write_topic")
        await self._publish(target.write_topic, raw)

    async def call(self, command: str, params: Mapping[str, Any]) -> Any:
        topic = self.commands.get(command)
        if topic is None:
            raise DeviceError(f"command {command!r} is not bound")
        await self._publish(topic, dict(params))
        return None

    async def _publish(self, topic: str, value: Any) -> None:
        if self._client is None:
            raise TransportError("not connected")
        try:
            ack = await self._client.publish(topic, json.dumps(value).encode())
        except ConnectionLost as exc:
            raise TransportError(str(exc)) from None
        if not ack.ok:
            raise DeviceError(f"the broker refused the publish: 0x{ack.reason:02x} {ack.message}")

    def _on_message(self, topic: str, payload: bytes) -> None:
        received = int(time.time() * 1_000_000)
        readings, errors = decode_document(self.points, self.ts_path, topic, payload, received)
        self._errors.extend(errors[-100:])
        del self._errors[:-100]
        for reading in readings:
            self._latest[reading.point] = reading
        if readings and self._emit is not None:
            self._emit(readings)


def decode_document(
    points: list[_Point], ts_path: tuple[str | int, ...] | None, topic: str, payload: bytes, received_us: int
) -> tuple[list[Reading], list[DeviceError]]:
    """The readings one message carries for the points whose filter matches its topic (pure)."""
    matching = [p for p in points if topic_matches(p.topic, topic)]
    if not matching:
        return [], []
    if len(payload) > MAX_DOCUMENT_BYTES:
        return [], [DeviceError(f"{topic}: document of {len(payload)} bytes exceeds {MAX_DOCUMENT_BYTES}")]
    try:
        document = json.loads(payload)
    except ValueError as exc:
        return [], [DeviceError(f"{topic}: not JSON: {exc}")]
    ts = received_us
    if ts_path is not None:
        try:
            ts = timestamp_us(extract(document, ts_path))
        except (KeyError, ValueError) as exc:
            return [], [DeviceError(f"{topic}: timestamp: {exc}")]
    readings: list[Reading] = []
    errors: list[DeviceError] = []
    for point in matching:
        try:
            readings.append(Reading(point.name, coerce(extract(document, point.path), point.data_type), ts))
        except KeyError:
            errors.append(DeviceError(f"{topic}: no {'.'.join(str(p) for p in point.path)}"))
        except ValueError as exc:
            errors.append(DeviceError(f"{topic}: {point.name}: {exc}"))
    return readings, errors


def create(spec: DeviceSpec) -> MqttJsonDriver:
    return MqttJsonDriver(spec)
