"""Modbus data model without I/O: where a point lives, how its registers encode a value, which reads
fetch a set of points.

Theory of operation. Modbus has four tables of 65 536 entries each, addressed from 0 in the PDU
(the "40001" notation of manuals is documentation, not protocol: holding 40001 is address 0 here):

    coil       1 bit,  read/write   (FC 1, 5, 15)
    discrete   1 bit,  read only    (FC 2)
    input      16 bit, read only    (FC 4)
    holding    16 bit, read/write   (FC 3, 6, 16)

Modbus itself only knows 16-bit registers, so wider values are a device convention. A value is
turned into big-endian bytes, cut into 16-bit words (most significant first), and then
``word_order: little`` reverses the words (CDAB for a float32) and ``byte_order: little`` swaps the
two bytes inside each word (BADC); both little gives DCBA. Strings pack two characters per register,
first character in the high byte unless ``byte_order`` is little; they are NUL-padded on write and
cut at the first NUL on read. A ``bool`` in a register table is one ``bit`` (0 = least significant)
of one register.

``plan_reads`` merges the points of one device into as few requests as the protocol allows: points
of one table are sorted by address and a request grows while the next point starts at most
``max_gap`` entries after the current end and the request stays within 125 registers or 2000 bits.
Each point is then decoded out of its block's registers by a decoder compiled once per point
(``block_decoder``).
"""

from __future__ import annotations

import math
import operator
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from indunet.edge.drivers.floats import fits_float32, float32
from indunet.platform.models import DataType

Value = bool | int | float | str

MAX_ADDRESS = 0xFFFF
MAX_READ_REGISTERS = 125
MAX_READ_BITS = 2000
MAX_WRITE_REGISTERS = 123
MAX_GAP = 100
# A string must fit one read (and one write) request.
MAX_STRING_REGISTERS = MAX_WRITE_REGISTERS


class Table(StrEnum):
    COIL = "coil"
    DISCRETE = "discrete"
    INPUT = "input"
    HOLDING = "holding"

    @property
    def bits(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE)

    @property
    def writable(self) -> bool:
        return self in (Table.COIL, Table.HOLDING)

    @property
    def read_limit(self) -> int:
        return MAX_READ_BITS if self.bits else MAX_READ_REGISTERS


class Kind(StrEnum):
    BOOL = "bool"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"


class Order(StrEnum):
    BIG = "big"
    LITTLE = "little"


class Encoding(StrEnum):
    ASCII = "ascii"
    UTF8 = "utf-8"


# struct format and register count of each fixed-width numeric kind.
_NUMERIC: dict[Kind, tuple[str, int]] = {
    Kind.INT16: (">h", 1),
    Kind.UINT16: (">H", 1),
    Kind.INT32: (">i", 2),
    Kind.UINT32: (">I", 2),
    Kind.FLOAT32: (">f", 2),
    Kind.FLOAT64: (">d", 4),
}
_INT_RANGES: dict[Kind, tuple[int, int]] = {
    Kind.INT16: (-(2**15), 2**15 - 1),
    Kind.UINT16: (0, 2**16 - 1),
    Kind.INT32: (-(2**31), 2**31 - 1),
    Kind.UINT32: (0, 2**32 - 1),
}

_E = TypeVar("_E", bound=StrEnum)

_KEYS = frozenset({"table", "address", "type", "byte_order", "word_order", "bit", "length", "encoding"})


class AddressError(ValueError):
    """A point's Modbus keys are invalid; ``key`` names the offending key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True, slots=True)
class PointAddress:
    table: Table
    address: int
    kind: Kind
    byte_order: Order = Order.BIG
    word_order: Order = Order.BIG
    bit: int | None = None
    length: int = 1
    encoding: Encoding = Encoding.ASCII

    @property
    def count(self) -> int:
        """Entries of the table the point spans (bits for bit tables, else registers)."""
        if self.table.bits or self.kind is Kind.BOOL:
            return 1
        if self.kind is Kind.STRING:
            return self.length
        return _NUMERIC[self.kind][1]

    @property
    def end(self) -> int:
        """One past the last entry."""
        return self.address + self.count

    @property
    def raw_type(self) -> DataType:
        if self.kind is Kind.BOOL:
            return DataType.BOOL
        if self.kind is Kind.STRING:
            return DataType.STRING
        if self.kind in (Kind.FLOAT32, Kind.FLOAT64):
            return DataType.FLOAT
        return DataType.INT

    def decode(self, words: Sequence[int]) -> Value:
        """The value held by ``words`` (``count`` registers, or one bit for bit tables).

        Total over all register contents: any 16-bit words give a value (strings replace bytes
        that are not valid text), so garbage from a device never raises here.
        """
        if len(words) != self.count:
            raise ValueError(f"expected {self.count} values, got {len(words)}")
        if self.table.bits:
            return bool(words[0])
        if self.kind is Kind.BOOL:
            assert self.bit is not None
            return bool((words[0] >> self.bit) & 1)
        data = _words_to_bytes(words, self.byte_order)
        if self.kind is Kind.STRING:
            text = data.split(b"\x00", 1)[0]
            return text.decode(self.encoding.value, errors="replace")
        if self.word_order is Order.LITTLE:
            data = _reverse_words(data)
        if self.kind is Kind.FLOAT32:
            return float32(data)
        fmt = _NUMERIC[self.kind][0]
        value: int | float = struct.unpack(fmt, data)[0]
        return value

    def encode(self, value: Value) -> list[int]:
        """The registers (or the single bit, as 0/1) that hold ``value``; ValueError when the type
        cannot hold it. A bit of a register encodes as a mask-free 0/1: the caller merges it."""
        if self.kind is Kind.BOOL:
            if not isinstance(value, bool):
                raise ValueError(f"{self.kind.value} needs a bool, not {type(value).__name__}")
            return [int(value)]
        if self.kind is Kind.STRING:
            return self._encode_string(value)
        if self.kind in (Kind.FLOAT32, Kind.FLOAT64):
            number = _as_float(value)
            if self.kind is Kind.FLOAT32 and math.isfinite(number) and not fits_float32(number):
                raise ValueError(f"{number!r} is out of the float32 range")
            data = struct.pack(_NUMERIC[self.kind][0], number)
        else:
            integer = _as_int(value)
            low, high = _INT_RANGES[self.kind]
            if not low <= integer <= high:
                raise ValueError(f"{integer} is out of the {self.kind.value} range {low}..{high}")
            data = struct.pack(_NUMERIC[self.kind][0], integer)
        if self.word_order is Order.LITTLE:
            data = _reverse_words(data)
        return _bytes_to_words(data, self.byte_order)

    def _encode_string(self, value: Value) -> list[int]:
        if not isinstance(value, str):
            raise ValueError(f"string needs a str, not {type(value).__name__}")
        try:
            data = value.encode(self.encoding.value)
        except UnicodeEncodeError:
            raise ValueError(f"text is not {self.encoding.value}") from None
        if b"\x00" in data:
            raise ValueError("text contains NUL, which ends a Modbus string")
        if len(data) > 2 * self.length:
            raise ValueError(f"text of {len(data)} bytes does not fit {self.length} registers")
        return _bytes_to_words(data.ljust(2 * self.length, b"\x00"), self.byte_order)


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request and the indices (into the planned points) of the points it carries."""

    table: Table
    start: int
    count: int
    members: tuple[int, ...]

    def slice(self, values: Sequence[int], point: PointAddress) -> Sequence[int]:
        """The part of this block's result that belongs to ``point``."""
        offset = point.address - self.start
        return values[offset : offset + point.count]


BlockDecoder = Callable[[Sequence[int], bytes], Value]
"""Decodes one point out of a block's registers and the same registers as big-endian bytes."""


def block_decoder(point: PointAddress, offset: int) -> BlockDecoder:
    """A decoder of ``point`` at ``offset`` registers into a block, specialised once so that a poll
    costs one struct call per point; any layout without a fast path falls back to ``decode``."""
    count = point.count
    if point.table.bits:
        return lambda words, _data: bool(words[offset])
    if point.kind is Kind.BOOL:
        bit = point.bit or 0
        return lambda words, _data: bool((words[offset] >> bit) & 1)
    start, end = 2 * offset, 2 * (offset + count)
    if point.kind is Kind.STRING:
        if point.byte_order is not Order.BIG:
            return lambda words, _data: point.decode(words[offset : offset + count])
        encoding = point.encoding.value
        return lambda _words, data: data[start:end].split(b"\x00", 1)[0].decode(encoding, errors="replace")
    if point.byte_order is Order.BIG and point.word_order is Order.BIG:
        if point.kind is Kind.FLOAT32:
            return lambda _words, data: float32(data[start:end])
        unpack = struct.Struct(_NUMERIC[point.kind][0]).unpack_from
        return lambda _words, data: unpack(data, start)[0]
    # Swapped words and/or bytes: gather the bytes in big-endian order with one C call, then unpack.
    order = _byte_order(count, point.byte_order, point.word_order)
    gather = operator.itemgetter(*(start + i for i in order))
    if point.kind is Kind.FLOAT32:
        return lambda _words, data: float32(bytes(gather(data)))
    unpack_bytes = struct.Struct(_NUMERIC[point.kind][0]).unpack
    return lambda _words, data: unpack_bytes(bytes(gather(data)))[0]


def _byte_order(count: int, byte_order: Order, word_order: Order) -> list[int]:
    """Where each big-endian byte of a value sits among its registers' bytes as they arrive."""
    words = list(range(count))
    if word_order is Order.LITTLE:
        words.reverse()
    inner = (1, 0) if byte_order is Order.LITTLE else (0, 1)
    return [2 * w + b for w in words for b in inner]


def block_bytes(words: Sequence[int]) -> bytes:
    """The registers of a block as big-endian bytes, the input of the fast decoders."""
    try:
        return struct.pack(f">{len(words)}H", *words)
    except struct.error:  # a library handing out values beyond 16 bits: keep the low 16, as decode does
        return struct.pack(f">{len(words)}H", *(w & 0xFFFF for w in words))


def parse_address(keys: Mapping[str, Any]) -> PointAddress:
    """Check and parse a point's Modbus keys (``table``, ``address``, ``type`` and options)."""
    unknown = sorted(set(keys) - _KEYS)
    if unknown:
        raise AddressError(unknown[0], f"unknown key (Modbus points take {', '.join(sorted(_KEYS))})")
    table = _enum(Table, keys, "table", None)
    address = _int(keys, "address", 0, MAX_ADDRESS, None)
    bit = _int(keys, "bit", 0, 15, None) if keys.get("bit") is not None else None
    default_kind = Kind.BOOL if table.bits or bit is not None else Kind.UINT16
    kind = _enum(Kind, keys, "type", default_kind)
    if table.bits and kind is not Kind.BOOL:
        raise AddressError("type", f"a {table.value} is a single bit: type must be bool")
    if table.bits and bit is not None:
        raise AddressError("bit", f"bit applies to registers, not to a {table.value}")
    if not table.bits and kind is Kind.BOOL and bit is None:
        raise AddressError("bit", "a bool in a register needs bit: 0..15")
    if bit is not None and kind is not Kind.BOOL:
        raise AddressError("bit", "bit needs type bool")
    if "length" in keys and kind is not Kind.STRING:
        raise AddressError("length", "length applies to strings only")
    if "encoding" in keys and kind is not Kind.STRING:
        raise AddressError("encoding", "encoding applies to strings only")
    length = _int(keys, "length", 1, MAX_STRING_REGISTERS, None) if kind is Kind.STRING else 1
    point = PointAddress(
        table=table,
        address=address,
        kind=kind,
        byte_order=_enum(Order, keys, "byte_order", Order.BIG),
        word_order=_enum(Order, keys, "word_order", Order.BIG),
        bit=bit,
        length=length,
        encoding=_enum(Encoding, keys, "encoding", Encoding.ASCII),
    )
    if point.end - 1 > MAX_ADDRESS:
        raise AddressError("address", f"{kind.value} at {address} runs past the last address {MAX_ADDRESS}")
    return point


def plan_reads(points: Sequence[PointAddress], max_gap: int = 0) -> list[ReadBlock]:
    """The fewest read requests (within protocol limits) that cover every point exactly once.

    Points that overlap (bits of one register, two views of one value) share a block. ``max_gap``
    trades a few unused registers for fewer round trips.
    """
    if not 0 <= max_gap <= MAX_GAP:
        raise ValueError(f"max_gap must be 0..{MAX_GAP}")
    blocks: list[ReadBlock] = []
    for table in Table:
        indices = sorted(
            (i for i, p in enumerate(points) if p.table is table),
            key=lambda i: (points[i].address, points[i].end),
        )
        start = end = -1
        members: list[int] = []
        for i in indices:
            point = points[i]
            fits = max(end, point.end) - start <= table.read_limit
            if members and point.address <= end + max_gap and fits:
                end = max(end, point.end)
                members.append(i)
                continue
            if members:
                blocks.append(ReadBlock(table, start, end - start, tuple(members)))
            start, end, members = point.address, point.end, [i]
        if members:
            blocks.append(ReadBlock(table, start, end - start, tuple(members)))
    return blocks


def _words_to_bytes(words: Sequence[int], byte_order: Order) -> bytes:
    data = b"".join((w & 0xFFFF).to_bytes(2, "big") for w in words)
    return _swap_bytes(data) if byte_order is Order.LITTLE else data


def _bytes_to_words(data: bytes, byte_order: Order) -> list[int]:
    if byte_order is Order.LITTLE:
        data = _swap_bytes(data)
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _swap_bytes(data: bytes) -> bytes:
    swapped = bytearray(data)
    swapped[0::2], swapped[1::2] = data[1::2], data[0::2]
    return bytes(swapped)


def _reverse_words(data: bytes) -> bytes:
    return b"".join(data[i : i + 2] for i in range(len(data) - 2, -1, -2))


def _as_int(value: Value) -> int:
    # bool is an int subclass in Python but never a number on the wire.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"an integer type needs a number, not {type(value).__name__}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        return int(value)
    return value


def _as_float(value: Value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"a float type needs a number, not {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{value} is out of the float range") from None


def _enum(cls: type[_E], keys: Mapping[str, Any], key: str, default: _E | None) -> _E:
    raw = keys.get(key)
    if raw is None:
        if default is None:
            raise AddressError(key, "missing")
        return default
    try:
        return cls(raw)
    except ValueError:
        allowed = " | ".join(m.value for m in cls)
        raise AddressError(key, f"{raw!r} is not one of {allowed}") from None


def _int(keys: Mapping[str, Any], key: str, low: int, high: int, default: int | None) -> int:
    raw = keys.get(key)
    if raw is None:
        if default is None:
            raise AddressError(key, "missing")
        return default
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise AddressError(key, f"{raw!r} is not an integer")
    if not low <= raw <= high:
        raise AddressError(key, f"{raw} is out of range {low}..{high}")
    return raw
