"""S7 addresses, values and read planning as pure functions over bytes (no sockets).

Addresses use the Siemens notation most tools share (STEP 7, ThingsBoard, Node-RED):

    DB1.DBX0.3   bit 3 of byte 0 in DB1      M10.1 / MX10.1   marker bit      I0.0 / Q0.0   input / output bit
    DB1.DBB2     byte 2                      MB10             marker byte     IB0  / QB0
    DB1.DBW4     word at byte 4              MW20             marker word     IW0  / QW0
    DB1.DBD8     double word at byte 8       MD24             marker dword    ID0  / QD0

German mnemonics ``E`` (Eingang) and ``A`` (Ausgang) are accepted for ``I`` and ``Q``. The size letter
gives the width at the address; ``type`` says how to read the bytes there: ``bool`` (X), ``byte`` (B),
``int``/``word`` (W), ``dint``/``dword``/``real`` (D), and ``lreal`` (8 bytes) or ``string`` (S7 STRING:
max-length byte, actual-length byte, then ``length`` characters), which start at any B/W/D address.
Every value is big-endian, as the S7 CPUs store them.

Reads are planned, not issued one per point: ``plan`` sorts the points by area and DB and merges
neighbours into blocks, tolerating a gap of ``max_gap`` unused bytes when one request for the gap is
cheaper than a second round trip, and never exceeding the bytes one response PDU can carry
(``max_read_bytes(pdu)``, 462 for the usual 480-byte PDU).
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from indunet.edge.drivers.floats import fits_float32, float32

Value = bool | int | float | str

# Area codes of the S7 protocol's address specification (S7 "area" byte).
AREA_CODES = {"I": 0x81, "Q": 0x82, "M": 0x83, "DB": 0x84}
_AREA_ALIASES = {"I": "I", "E": "I", "Q": "Q", "A": "Q", "M": "M"}

TYPES = ("bool", "byte", "int", "word", "dint", "dword", "real", "lreal", "string")
_WIDTH = {"bool": 1, "byte": 1, "int": 2, "word": 2, "dint": 4, "dword": 4, "real": 4, "lreal": 8}
_LETTER_WIDTH = {"X": 1, "B": 1, "W": 2, "D": 4}
_DEFAULT_TYPE = {"X": "bool", "B": "byte", "W": "int", "D": "real"}
_INT_RANGES = {
    "byte": (0, 0xFF),
    "int": (-(2**15), 2**15 - 1),
    "word": (0, 0xFFFF),
    "dint": (-(2**31), 2**31 - 1),
    "dword": (0, 0xFFFF_FFFF),
}
_INT_FORMATS = {"byte": ">B", "int": ">h", "word": ">H", "dint": ">i", "dword": ">I"}

MAX_DB = 65_535
MAX_OFFSET = 65_535  # S7 byte addresses are 16-bit in the classic protocol's address field
MAX_STRING = 254
DEFAULT_STRING = 254
# 12-byte S7 header + 2 parameter bytes + 4-byte item header take that much of every read response.
READ_OVERHEAD = 18
MAX_ADDRESS_TEXT = 64

_DB_RE = re.compile(r"DB(\d{1,5})\.DB([XBWD])(\d{1,5})(?:\.(\d))?")
_AREA_RE = re.compile(r"([IEQAM])([XBWD]?)(\d{1,5})(?:\.(\d))?")


@dataclass(frozen=True, slots=True)
class Address:
    """One point's location and encoding in the PLC memory."""

    area: str  # "DB", "M", "I" or "Q"
    db: int  # DB number; 0 outside DBs
    start: int  # first byte
    bit: int  # bit 0..7 for bool, else 0
    type: str
    length: int = 0  # string: max characters

    @property
    def size(self) -> int:
        """Bytes the value occupies."""
        return self.length + 2 if self.type == "string" else _WIDTH[self.type]

    @property
    def area_code(self) -> int:
        return AREA_CODES[self.area]

    def __str__(self) -> str:
        prefix = f"DB{self.db}.DB" if self.area == "DB" else self.area
        if self.type == "bool":
            return f"{prefix}X{self.start}.{self.bit}"
        letter = {1: "B", 2: "W", 4: "D"}.get(self.size, "B")
        return f"{prefix}{letter}{self.start}"


def parse_address(text: str, type_: str | None = None, length: int | None = None) -> Address:
    """Parse ``text`` with an optional ``type`` (default from the size letter); ValueError when invalid."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("address must be a non-empty string such as DB1.DBD0")
    if len(text) > MAX_ADDRESS_TEXT:
        raise ValueError(f"address longer than {MAX_ADDRESS_TEXT} characters")
    spec = text.strip().upper().replace(" ", "")
    if match := _DB_RE.fullmatch(spec):
        area, db = "DB", int(match.group(1))
        letter, start, bit_text = match.group(2), int(match.group(3)), match.group(4)
        if not 1 <= db <= MAX_DB:
            raise ValueError(f"DB number {db} out of range 1..{MAX_DB}")
    elif match := _AREA_RE.fullmatch(spec):
        area, db = _AREA_ALIASES[match.group(1)], 0
        start, bit_text = int(match.group(3)), match.group(4)
        # A bare area with a bit (M10.1) is a bit address; with no size letter and no bit, a byte.
        letter = match.group(2) or ("X" if bit_text is not None else "B")
    else:
        raise ValueError(f"{text!r} is not an S7 address (examples: DB1.DBD0, DB1.DBX4.2, MW10, I0.1)")
    if start > MAX_OFFSET:
        raise ValueError(f"byte offset {start} out of range 0..{MAX_OFFSET}")
    if letter == "X":
        if bit_text is None:
            raise ValueError(f"{text!r}: a bit address needs a bit number, e.g. DB1.DBX0.3")
        bit = int(bit_text)
        if bit > 7:
            raise ValueError(f"{text!r}: bit {bit} out of range 0..7")
    elif bit_text is not None:
        raise ValueError(f"{text!r}: only X (bit) addresses take a bit number")
    else:
        bit = 0
    kind = _DEFAULT_TYPE[letter] if type_ is None else str(type_).lower()
    if kind not in TYPES:
        raise ValueError(f"unknown type {type_!r} (one of {', '.join(TYPES)})")
    _check_width(text, letter, kind)
    if kind == "string":
        chars = DEFAULT_STRING if length is None else length
        if isinstance(chars, bool) or not isinstance(chars, int) or not 1 <= chars <= MAX_STRING:
            raise ValueError(f"string length must be an integer 1..{MAX_STRING}")
    elif length is not None:
        raise ValueError("length applies to type string only")
    else:
        chars = 0
    address = Address(area, db, start, bit, kind, chars)
    if start + address.size - 1 > MAX_OFFSET:
        raise ValueError(f"{text!r}: value runs past byte {MAX_OFFSET}")
    return address


def _check_width(text: str, letter: str, kind: str) -> None:
    if (letter == "X") != (kind == "bool"):
        raise ValueError(f"{text!r}: type bool needs a bit address (X) and a bit address needs type bool")
    if kind in ("lreal", "string"):
        return
    if _LETTER_WIDTH[letter] != _WIDTH[kind]:
        need = {1: "B", 2: "W", 4: "D"}[_WIDTH[kind]]
        raise ValueError(
            f"{text!r} addresses {_LETTER_WIDTH[letter]} byte(s) but type {kind} needs {_WIDTH[kind]} ({need})"
        )


def raw_kind(kind: str) -> str:
    """The gateway data type (bool/int/float/string) an S7 type decodes to."""
    if kind == "bool":
        return "bool"
    if kind in ("real", "lreal"):
        return "float"
    if kind == "string":
        return "string"
    return "int"


def decode(address: Address, data: bytes) -> Value:
    """The value stored in ``data`` (exactly ``address.size`` bytes, from ``address.start``)."""
    if len(data) != address.size:
        raise ValueError(f"{address}: expected {address.size} bytes, got {len(data)}")
    kind = address.type
    if kind == "bool":
        return bool(data[0] >> address.bit & 1)
    if kind in _INT_FORMATS:
        value: int = struct.unpack(_INT_FORMATS[kind], data)[0]
        return value
    if kind == "real":
        return float32(data)
    if kind == "lreal":
        lreal: float = struct.unpack(">d", data)[0]
        return lreal
    # A PLC may hold a header larger than the configured buffer: trust only the bytes actually read.
    count = min(data[1], data[0], len(data) - 2)
    return data[2 : 2 + count].decode("latin-1")


def encode(address: Address, value: Value, current: bytes = b"\x00") -> bytes:
    """The ``address.size`` bytes that store ``value``; ValueError when it does not fit the type.

    For a bool, ``current`` is the byte now in the PLC: the result is that byte with one bit changed,
    since the smallest unit S7 writes here is a byte.
    """
    kind = address.type
    if kind == "bool":
        if not isinstance(value, bool) and value not in (0, 1):
            raise ValueError(f"{address}: bool expected, got {value!r}")
        if len(current) != 1:
            raise ValueError("current must be the one byte holding the bit")
        mask = 1 << address.bit
        return bytes([current[0] | mask if value else current[0] & ~mask & 0xFF])
    if kind in _INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ValueError(f"{address}: integer expected for {kind}, got {value!r}")
        low, high = _INT_RANGES[kind]
        if not low <= value <= high:
            raise ValueError(f"{address}: {value} out of range {low}..{high} for {kind}")
        return struct.pack(_INT_FORMATS[kind], value)
    if kind in ("real", "lreal"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{address}: number expected for {kind}, got {value!r}")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{address}: {number} is not a finite number")
        if kind == "real":
            if not fits_float32(number):
                raise ValueError(f"{address}: {number} exceeds the REAL range")
            return struct.pack(">f", number)
        return struct.pack(">d", number)
    if not isinstance(value, str):
        raise ValueError(f"{address}: text expected for string, got {value!r}")
    try:
        text = value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"{address}: S7 STRING holds Latin-1 characters only") from None
    if len(text) > address.length:
        raise ValueError(f"{address}: {len(text)} characters exceed the STRING[{address.length}]")
    return bytes([address.length, len(text)]) + text.ljust(address.length, b"\x00")


def max_read_bytes(pdu_length: int) -> int:
    """Payload bytes one read response can carry for a negotiated PDU length."""
    return max(1, pdu_length - READ_OVERHEAD)


@dataclass(frozen=True, slots=True)
class Block:
    """One contiguous read request and the points (indices into the planned list) it serves."""

    area: str
    db: int
    start: int
    size: int
    members: tuple[int, ...]

    @property
    def area_code(self) -> int:
        return AREA_CODES[self.area]

    def __str__(self) -> str:
        where = f"DB{self.db}" if self.area == "DB" else self.area
        return f"{where} bytes {self.start}..{self.start + self.size - 1}"

    def slice(self, address: Address, data: bytes) -> bytes:
        """The bytes of ``address`` within ``data`` read for this block."""
        offset = address.start - self.start
        return data[offset : offset + address.size]


def plan(addresses: Sequence[Address], max_bytes: int = 462, max_gap: int = 16) -> list[Block]:
    """Merge the addresses into as few blocks as possible, each at most ``max_bytes`` long.

    A value larger than ``max_bytes`` gets a block of its own (read in several requests by the caller).
    """
    if max_bytes < 1:
        raise ValueError("max_bytes must be positive")
    if max_gap < 0:
        raise ValueError("max_gap must not be negative")
    order = sorted(range(len(addresses)), key=lambda i: _sort_key(addresses[i]))
    blocks: list[Block] = []
    current: list[int] = []
    start = end = 0
    for index in order:
        address = addresses[index]
        a_end = address.start + address.size
        if current:
            head = addresses[current[0]]
            same_area = (head.area, head.db) == (address.area, address.db)
            fits = max(end, a_end) - start <= max_bytes
            if same_area and address.start - end <= max_gap and fits:
                current.append(index)
                end = max(end, a_end)
                continue
            blocks.append(_block(addresses, current, start, end))
        current, start, end = [index], address.start, a_end
    if current:
        blocks.append(_block(addresses, current, start, end))
    return blocks


def _sort_key(address: Address) -> tuple[int, int, int, int]:
    return (address.area_code, address.db, address.start, -address.size)


def _block(addresses: Sequence[Address], members: list[int], start: int, end: int) -> Block:
    head = addresses[members[0]]
    return Block(head.area, head.db, start, end - start, tuple(sorted(members)))


def pack(blocks: Sequence[Block], pdu_length: int, max_items: int = 20) -> list[list[Block]]:
    """Group blocks into multi-item read requests that fit one PDU each way.

    A request carries 12 bytes per item after 12 header and 2 parameter bytes; the response 4 bytes of
    item header per block plus its data, padded to an even length between items.
    """
    groups: list[list[Block]] = []
    group: list[Block] = []
    request = response = 0
    budget = pdu_length - 14
    for block in blocks:
        item_request = 12
        item_response = 4 + block.size + (block.size & 1)
        if group and (
            len(group) >= max_items or request + item_request > budget or response + item_response > budget
        ):
            groups.append(group)
            group, request, response = [], 0, 0
        group.append(block)
        request += item_request
        response += item_response
    if group:
        groups.append(group)
    return groups
