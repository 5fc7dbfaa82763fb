"""The common data encodings of RFC 3652 (2.1.4): integers, UTF8-Strings, byte arrays and lists.

Theory of operation: every integer is big-endian and unsigned; a UTF8-String and a byte array are a
4-octet length followed by that many octets; a list is a 4-octet count followed by the elements.
``Reader`` checks each length against the bytes that remain, and each count against the smallest
size its elements can have, *before* it allocates anything — so a forged length or count in a
small message can never make the decoder allocate more than the message itself.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import TypeVar

from indunet.idr.wire.errors import WireError

T = TypeVar("T")

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


class Reader:
    """Consumes a buffer from the front; every read raises WireError when the buffer is too short."""

    __slots__ = ("_data", "_end", "_pos")

    def __init__(self, data: bytes | memoryview, start: int = 0, end: int | None = None) -> None:
        self._data = memoryview(data)
        self._pos = start
        self._end = len(self._data) if end is None else end

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    @property
    def position(self) -> int:
        return self._pos

    def _need(self, size: int, what: str) -> None:
        if size > self.remaining:
            raise WireError(f"{what} needs {size} octets, {self.remaining} left")

    def u8(self, what: str = "octet") -> int:
        self._need(1, what)
        value = self._data[self._pos]
        self._pos += 1
        return value

    def u16(self, what: str = "16-bit integer") -> int:
        self._need(2, what)
        (value,) = _U16.unpack_from(self._data, self._pos)
        self._pos += 2
        return int(value)

    def u32(self, what: str = "32-bit integer") -> int:
        self._need(4, what)
        (value,) = _U32.unpack_from(self._data, self._pos)
        self._pos += 4
        return int(value)

    def fields(self, layout: struct.Struct, what: str) -> tuple[int, ...]:
        """Several fixed-size integers at once (one unpack instead of one call per field)."""
        self._need(layout.size, what)
        values = layout.unpack_from(self._data, self._pos)
        self._pos += layout.size
        return values

    def raw(self, size: int, what: str = "octets") -> bytes:
        self._need(size, what)
        value = bytes(self._data[self._pos : self._pos + size])
        self._pos += size
        return value

    def byte_array(self, what: str = "byte array") -> bytes:
        size = self.u32(f"length of {what}")
        return self.raw(size, what)

    def string(self, what: str = "UTF8-String") -> str:
        data = self.byte_array(what)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise WireError(f"{what} is not UTF-8") from e

    def count(self, min_element_size: int, what: str) -> int:
        """A list's element count, refused when even the smallest elements could not fit."""
        n = self.u32(f"count of {what}")
        if n * min_element_size > self.remaining:
            raise WireError(f"{n} {what} cannot fit in the {self.remaining} octets left")
        return n

    def items(self, min_element_size: int, what: str, read: Callable[[Reader], T]) -> tuple[T, ...]:
        return tuple(read(self) for _ in range(self.count(min_element_size, what)))

    def int_list(self, what: str = "indexes") -> tuple[int, ...]:
        n = self.count(4, what)
        values = struct.unpack_from(f">{n}I", self._data, self._pos)
        self._pos += 4 * n
        return tuple(int(v) for v in values)

    def string_list(self, what: str = "strings") -> tuple[str, ...]:
        return self.items(4, what, lambda r: r.string(what))

    def rest(self) -> bytes:
        value = bytes(self._data[self._pos : self._end])
        self._pos = self._end
        return value


class Writer:
    """Appends encodings to a growing buffer; values out of range raise ValueError."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, value: int) -> Writer:
        _check(value, 0xFF)
        self._parts.append(bytes((value,)))
        return self

    def u16(self, value: int) -> Writer:
        _check(value, 0xFFFF)
        self._parts.append(_U16.pack(value))
        return self

    def u32(self, value: int) -> Writer:
        _check(value, 0xFFFF_FFFF)
        self._parts.append(_U32.pack(value))
        return self

    def raw(self, data: bytes) -> Writer:
        self._parts.append(bytes(data))
        return self

    def fields(self, layout: struct.Struct, *values: int) -> Writer:
        """Several fixed-size integers at once; ValueError when one does not fit its field."""
        try:
            self._parts.append(layout.pack(*values))
        except struct.error as e:
            raise ValueError(f"a field does not fit: {e}") from e
        return self

    def byte_array(self, data: bytes) -> Writer:
        return self.u32(len(data)).raw(data)

    def string(self, text: str) -> Writer:
        return self.byte_array(text.encode("utf-8"))

    def int_list(self, values: Iterable[int]) -> Writer:
        values = tuple(values)
        self.u32(len(values))
        for v in values:
            self.u32(v)
        return self

    def string_list(self, values: Iterable[str]) -> Writer:
        values = tuple(values)
        self.u32(len(values))
        for v in values:
            self.string(v)
        return self

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


def _check(value: int, limit: int) -> None:
    if not 0 <= value <= limit:
        raise ValueError(f"{value} does not fit an unsigned field (max {limit})")
