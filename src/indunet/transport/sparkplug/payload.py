"""Sparkplug B payloads (Eclipse Sparkplug 3.0, ``sparkplug_b.proto``) as bytes in, typed values out.

A hand-written protobuf subset instead of generated code: the host needs one message type, and owning
the decoder lets every malformed input end in one ``PayloadError`` that names what was wrong, with
limits on size and count, rather than whatever a generated module raises. The wire format used::

    Payload  timestamp=1 uint64 · metrics=2 Metric* · seq=3 uint64 · uuid=4 string · body=5 bytes
    Metric   name=1 string · alias=2 uint64 · timestamp=3 uint64 · datatype=4 uint32
             is_historical=5 · is_transient=6 · is_null=7 bool · metadata=8 (skipped)
             properties=9 PropertySet · value oneof: int_value=10 uint32 · long_value=11 uint64
             float_value=12 fixed32 · double_value=13 fixed64 · boolean_value=14 · string_value=15
             bytes_value=16 · dataset=17, template=18, extension=19 (skipped; value stays None)
    PropertySet    keys=1 string* · values=2 PropertyValue*
    PropertyValue  type=1 uint32 · is_null=2 bool · oneof 3..8 as Metric's 10..15 (9..11 skipped)

Signed Sparkplug integers travel as two's complement in the unsigned fields (Int8/16/32 in
``int_value``, Int64 in ``long_value``). Unknown fields are skipped, as protobuf requires, so payloads
from newer edge nodes still decode.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from indunet.core.errors import InvalidInput

MAX_PAYLOAD_BYTES = 1024 * 1024
MAX_METRICS = 10_000
MAX_PROPERTIES = 100

Value = bool | int | float | str | bytes | None


class PayloadError(InvalidInput):
    """A Sparkplug payload that is not valid protobuf, or breaks a limit."""

    def __init__(self, message: str) -> None:
        super().__init__(f"bad Sparkplug payload: {message}", key="error.sparkplug_payload")


class DataType(IntEnum):
    UNKNOWN = 0
    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    BOOLEAN = 11
    STRING = 12
    DATETIME = 13
    TEXT = 14
    UUID = 15
    DATASET = 16
    BYTES = 17
    FILE = 18
    TEMPLATE = 19
    PROPERTY_SET = 20
    PROPERTY_SET_LIST = 21


_SIGNED_BITS: dict[int, int] = {DataType.INT8: 8, DataType.INT16: 16, DataType.INT32: 32, DataType.INT64: 64}
_UNSIGNED_BITS: dict[int, int] = {
    DataType.UINT8: 8,
    DataType.UINT16: 16,
    DataType.UINT32: 32,
    DataType.UINT64: 64,
    DataType.DATETIME: 64,
}
INTEGER_TYPES = frozenset(_SIGNED_BITS) | frozenset(_UNSIGNED_BITS)
FLOAT_TYPES = frozenset({DataType.FLOAT, DataType.DOUBLE})
TEXT_TYPES = frozenset({DataType.STRING, DataType.TEXT, DataType.UUID})
BYTES_TYPES = frozenset({DataType.BYTES, DataType.FILE})
# 64-bit integers live in long_value, every narrower one in int_value (a uint32).
_LONG_TYPES = frozenset({DataType.INT64, DataType.UINT64, DataType.DATETIME})


@dataclass(frozen=True, slots=True)
class Metric:
    name: str | None = None
    alias: int | None = None
    timestamp: int | None = None
    """Milliseconds since the Unix epoch, as Sparkplug sends them."""
    datatype: int = DataType.UNKNOWN
    value: Value = None
    is_historical: bool = False
    is_transient: bool = False
    is_null: bool = False
    properties: Mapping[str, Value] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Payload:
    timestamp: int | None = None
    metrics: tuple[Metric, ...] = ()
    seq: int | None = None
    uuid: str | None = None
    body: bytes | None = None


# -- decoding ----------------------------------------------------------------------------------------


class _Reader:
    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes | memoryview, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def more(self) -> bool:
        return self.pos < self.end

    def varint(self) -> int:
        result = shift = 0
        data, pos = self.data, self.pos
        while True:
            if pos >= self.end:
                raise PayloadError("truncated varint")
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift >= 70:
                raise PayloadError("varint longer than 10 bytes")
        self.pos = pos
        return result & 0xFFFF_FFFF_FFFF_FFFF

    def fixed(self, size: int) -> bytes:
        if self.pos + size > self.end:
            raise PayloadError(f"truncated {size * 8}-bit field")
        chunk = bytes(self.data[self.pos : self.pos + size])
        self.pos += size
        return chunk

    def sub(self) -> _Reader:
        length = self.varint()
        if length > self.end - self.pos:
            raise PayloadError("length-delimited field runs past its end")
        reader = _Reader(self.data, self.pos, self.pos + length)
        self.pos += length
        return reader

    def blob(self) -> bytes:
        reader = self.sub()
        return bytes(reader.data[reader.pos : reader.end])

    def text(self) -> str:
        try:
            return self.blob().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PayloadError(f"string is not UTF-8 ({exc.reason})") from None

    def key(self) -> tuple[int, int]:
        tag = self.varint()
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise PayloadError("field number 0")
        return number, wire

    def skip(self, wire: int) -> None:
        if wire == 0:
            self.varint()
        elif wire == 1:
            self.fixed(8)
        elif wire == 2:
            self.sub()
        elif wire == 5:
            self.fixed(4)
        else:
            raise PayloadError(f"unsupported wire type {wire}")


def _expect(wire: int, wanted: int, what: str) -> None:
    if wire != wanted:
        raise PayloadError(f"{what} has wire type {wire}, expected {wanted}")


def _signed(raw: int, bits: int) -> int:
    raw &= (1 << bits) - 1
    return raw - (1 << bits) if raw >> (bits - 1) else raw


def _typed_value(datatype: int, number: int, raw: int | float | bool | str | bytes) -> Value:
    """A scalar oneof member (field numbers as in Metric: 10..16) as the value its datatype means."""
    if number in (10, 11) and isinstance(raw, int):
        bits = _SIGNED_BITS.get(datatype)
        if bits is not None:
            return _signed(raw, bits)
        if datatype == DataType.BOOLEAN:
            return bool(raw)
        return raw
    return raw


def retype(value: Value, datatype: int) -> Value:
    """An integer read again with a signed type; data messages may omit the datatype their birth gave."""
    bits = _SIGNED_BITS.get(datatype)
    if bits is not None and isinstance(value, int) and not isinstance(value, bool):
        return _signed(value, bits)
    return value


def _scalar(reader: _Reader, number: int, wire: int) -> int | float | bool | str | bytes:
    """Reads the value oneof member ``number`` (Metric numbering 10..16)."""
    if number in (10, 11):
        _expect(wire, 0, "integer value")
        raw = reader.varint()
        return raw & 0xFFFF_FFFF if number == 10 else raw
    if number == 12:
        _expect(wire, 5, "float value")
        return float(struct.unpack("<f", reader.fixed(4))[0])
    if number == 13:
        _expect(wire, 1, "double value")
        return float(struct.unpack("<d", reader.fixed(8))[0])
    if number == 14:
        _expect(wire, 0, "boolean value")
        return reader.varint() != 0
    if number == 15:
        _expect(wire, 2, "string value")
        return reader.text()
    _expect(wire, 2, "bytes value")
    return reader.blob()


def _property_value(reader: _Reader) -> Value:
    datatype, is_null = DataType.UNKNOWN.value, False
    value: int | float | bool | str | bytes | None = None
    number_seen = 0
    while reader.more():
        number, wire = reader.key()
        if number == 1:
            _expect(wire, 0, "property type")
            datatype = reader.varint()
        elif number == 2:
            _expect(wire, 0, "property is_null")
            is_null = reader.varint() != 0
        elif 3 <= number <= 8:
            # PropertyValue numbers its scalars 3..8 where Metric uses 10..15.
            value = _scalar(reader, number + 7, wire)
            number_seen = number + 7
        else:
            reader.skip(wire)
    if is_null or value is None:
        return None
    return _typed_value(datatype, number_seen, value)


def _property_set(reader: _Reader) -> dict[str, Value]:
    keys: list[str] = []
    values: list[Value] = []
    while reader.more():
        number, wire = reader.key()
        if number == 1:
            _expect(wire, 2, "property key")
            keys.append(reader.text())
        elif number == 2:
            _expect(wire, 2, "property value")
            values.append(_property_value(reader.sub()))
        else:
            reader.skip(wire)
        if len(keys) > MAX_PROPERTIES or len(values) > MAX_PROPERTIES:
            raise PayloadError(f"more than {MAX_PROPERTIES} properties on one metric")
    if len(keys) != len(values):
        raise PayloadError(f"property set has {len(keys)} keys but {len(values)} values")
    return dict(zip(keys, values, strict=True))


def _metric(reader: _Reader) -> Metric:
    name: str | None = None
    alias: int | None = None
    timestamp: int | None = None
    datatype = DataType.UNKNOWN.value
    flags = [False, False, False]
    properties: dict[str, Value] = {}
    value: int | float | bool | str | bytes | None = None
    value_number = 0
    while reader.more():
        number, wire = reader.key()
        if number == 1:
            _expect(wire, 2, "metric name")
            name = reader.text()
        elif number in (2, 3, 4):
            _expect(wire, 0, "metric alias/timestamp/datatype")
            raw = reader.varint()
            if number == 2:
                alias = raw
            elif number == 3:
                timestamp = raw
            else:
                datatype = raw & 0xFFFF_FFFF
        elif number in (5, 6, 7):
            _expect(wire, 0, "metric flag")
            flags[number - 5] = reader.varint() != 0
        elif number == 9:
            _expect(wire, 2, "metric properties")
            properties = _property_set(reader.sub())
        elif 10 <= number <= 16:
            value = _scalar(reader, number, wire)
            value_number = number
        else:
            reader.skip(wire)
    typed = None if flags[2] or value is None else _typed_value(datatype, value_number, value)
    return Metric(name, alias, timestamp, datatype, typed, flags[0], flags[1], flags[2], properties)


def decode_payload(data: bytes | bytearray | memoryview, max_bytes: int = MAX_PAYLOAD_BYTES) -> Payload:
    """Decodes a Sparkplug B payload; raises ``PayloadError`` for anything malformed or too large."""
    if len(data) > max_bytes:
        raise PayloadError(f"{len(data)} bytes, more than the limit of {max_bytes}")
    reader = _Reader(memoryview(data))
    timestamp: int | None = None
    seq: int | None = None
    uuid: str | None = None
    body: bytes | None = None
    metrics: list[Metric] = []
    while reader.more():
        number, wire = reader.key()
        if number == 1:
            _expect(wire, 0, "payload timestamp")
            timestamp = reader.varint()
        elif number == 2:
            _expect(wire, 2, "metric")
            if len(metrics) >= MAX_METRICS:
                raise PayloadError(f"more than {MAX_METRICS} metrics")
            metrics.append(_metric(reader.sub()))
        elif number == 3:
            _expect(wire, 0, "payload seq")
            seq = reader.varint()
        elif number == 4:
            _expect(wire, 2, "payload uuid")
            uuid = reader.text()
        elif number == 5:
            _expect(wire, 2, "payload body")
            body = reader.blob()
        else:
            reader.skip(wire)
    return Payload(timestamp, tuple(metrics), seq, uuid, body)


# -- encoding ----------------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    value &= 0xFFFF_FFFF_FFFF_FFFF
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _len(number: int, chunk: bytes) -> bytes:
    return _key(number, 2) + _varint(len(chunk)) + chunk


def _encode_value(datatype: int, value: Value, base: int) -> bytes:
    """The oneof member for ``value``; ``base`` is the number of int_value (10 in Metric, 3 in properties)."""
    if isinstance(value, bool):
        return _key(base + 4, 0) + _varint(int(value))
    if isinstance(value, int):
        if datatype in _LONG_TYPES:
            return _key(base + 1, 0) + _varint(value & 0xFFFF_FFFF_FFFF_FFFF)
        return _key(base, 0) + _varint(value & 0xFFFF_FFFF)
    if isinstance(value, float):
        if datatype == DataType.FLOAT:
            return _key(base + 2, 5) + struct.pack("<f", value)
        return _key(base + 3, 1) + struct.pack("<d", value)
    if isinstance(value, str):
        return _len(base + 5, value.encode("utf-8"))
    if isinstance(value, bytes):
        if base != 10:
            raise PayloadError("properties cannot hold bytes")
        return _len(base + 6, value)
    return b""


def _encode_properties(properties: Mapping[str, Value]) -> bytes:
    out = bytearray()
    for key in properties:
        out += _len(1, key.encode("utf-8"))
    for value in properties.values():
        datatype = _natural_type(value)
        item = _key(1, 0) + _varint(datatype)
        item += _key(2, 0) + _varint(1) if value is None else _encode_value(datatype, value, 3)
        out += _len(2, item)
    return bytes(out)


def _natural_type(value: Value) -> int:
    if isinstance(value, bool):
        return DataType.BOOLEAN
    if isinstance(value, int):
        return DataType.INT64
    if isinstance(value, float):
        return DataType.DOUBLE
    if isinstance(value, bytes):
        return DataType.BYTES
    return DataType.STRING


def encode_metric(metric: Metric) -> bytes:
    out = bytearray()
    if metric.name is not None:
        out += _len(1, metric.name.encode("utf-8"))
    if metric.alias is not None:
        out += _key(2, 0) + _varint(metric.alias)
    if metric.timestamp is not None:
        out += _key(3, 0) + _varint(metric.timestamp)
    out += _key(4, 0) + _varint(metric.datatype)
    for number, flag in ((5, metric.is_historical), (6, metric.is_transient), (7, metric.is_null)):
        if flag:
            out += _key(number, 0) + _varint(1)
    if metric.properties:
        out += _len(9, _encode_properties(metric.properties))
    if not metric.is_null:
        out += _encode_value(metric.datatype, metric.value, 10)
    return bytes(out)


def encode_payload(payload: Payload) -> bytes:
    out = bytearray()
    if payload.timestamp is not None:
        out += _key(1, 0) + _varint(payload.timestamp)
    for metric in payload.metrics:
        out += _len(2, encode_metric(metric))
    if payload.seq is not None:
        out += _key(3, 0) + _varint(payload.seq)
    if payload.uuid is not None:
        out += _len(4, payload.uuid.encode("utf-8"))
    if payload.body is not None:
        out += _len(5, payload.body)
    return bytes(out)
