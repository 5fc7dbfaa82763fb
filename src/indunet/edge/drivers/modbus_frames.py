"""Modbus TCP frames without I/O: requests to bytes, bytes to responses.

Theory of operation. Every Modbus TCP frame is an MBAP header and a PDU (Modbus Application
Protocol V1.1b3, section 4.1, and Modbus Messaging on TCP/IP V1.0b, section 3.1.3):

    transaction id  2 bytes   echoed by the server; matches a response to its request
    protocol id     2 bytes   always 0
    length          2 bytes   bytes that follow: unit id + PDU (2..254)
    unit id         1 byte
    PDU             function code (1 byte) + data; function | 0x80 and one exception code on error

``FrameReader.feed`` takes bytes as they arrive and returns the complete responses among them; a
frame that breaks these rules raises ``FrameError`` (the stream can no longer be trusted: the caller
drops the connection). A response whose body does not match its function is malformed too. Only the
functions the driver sends are decoded: read coils/discrete inputs/holding/input registers (1-4)
and the four writes (5, 6, 15, 16); any other function in a response is a ``FrameError``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

READ_COILS: Final = 1
READ_DISCRETE_INPUTS: Final = 2
READ_HOLDING_REGISTERS: Final = 3
READ_INPUT_REGISTERS: Final = 4
WRITE_SINGLE_COIL: Final = 5
WRITE_SINGLE_REGISTER: Final = 6
WRITE_MULTIPLE_COILS: Final = 15
WRITE_MULTIPLE_REGISTERS: Final = 16

MAX_READ_REGISTERS: Final = 125
MAX_READ_BITS: Final = 2000
MAX_WRITE_REGISTERS: Final = 123
MAX_WRITE_BITS: Final = 1968
MAX_FRAME: Final = 260

_HEADER = struct.Struct(">HHHB")
_READ = struct.Struct(">HHHBBHH")


class FrameError(ValueError):
    """The byte stream is not Modbus TCP (or not a response to what we sent)."""


@dataclass(frozen=True, slots=True)
class Response:
    transaction: int
    unit: int
    function: int
    exception: int | None = None
    registers: tuple[int, ...] = ()
    bits: tuple[bool, ...] = ()
    """All the bits the server sent (a multiple of 8): the caller keeps the ones it asked for."""


def read_request(transaction: int, unit: int, function: int, start: int, count: int) -> bytes:
    if function not in (READ_COILS, READ_DISCRETE_INPUTS, READ_HOLDING_REGISTERS, READ_INPUT_REGISTERS):
        raise ValueError(f"function {function} is not a read")
    limit = MAX_READ_BITS if function <= READ_DISCRETE_INPUTS else MAX_READ_REGISTERS
    _check(start, count, limit)
    return _READ.pack(transaction & 0xFFFF, 0, 6, unit, function, start, count)


def write_coil_request(transaction: int, unit: int, address: int, value: bool) -> bytes:
    _check(address, 1, 1)
    return _READ.pack(transaction & 0xFFFF, 0, 6, unit, WRITE_SINGLE_COIL, address, 0xFF00 if value else 0)


def write_register_request(transaction: int, unit: int, address: int, value: int) -> bytes:
    _check(address, 1, 1)
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"register value {value} is not 16-bit")
    return _READ.pack(transaction & 0xFFFF, 0, 6, unit, WRITE_SINGLE_REGISTER, address, value)


def write_registers_request(transaction: int, unit: int, address: int, values: list[int]) -> bytes:
    _check(address, len(values), MAX_WRITE_REGISTERS)
    if any(not 0 <= v <= 0xFFFF for v in values):
        raise ValueError("register values are 16-bit")
    body = struct.pack(
        f">BHHB{len(values)}H", WRITE_MULTIPLE_REGISTERS, address, len(values), 2 * len(values), *values
    )
    return _HEADER.pack(transaction & 0xFFFF, 0, 1 + len(body), unit) + body


def write_coils_request(transaction: int, unit: int, address: int, values: list[bool]) -> bytes:
    _check(address, len(values), MAX_WRITE_BITS)
    packed = bytearray((len(values) + 7) // 8)
    for i, value in enumerate(values):
        if value:
            packed[i // 8] |= 1 << (i % 8)
    body = struct.pack(">BHHB", WRITE_MULTIPLE_COILS, address, len(values), len(packed)) + bytes(packed)
    return _HEADER.pack(transaction & 0xFFFF, 0, 1 + len(body), unit) + body


def _check(start: int, count: int, limit: int) -> None:
    if not 1 <= count <= limit:
        raise ValueError(f"count {count} is outside 1..{limit}")
    if not start >= 0 or start + count > 0x10000:
        raise ValueError(f"addresses {start}..{start + count - 1} are outside 0..65535")


class FrameReader:
    """Reassembles responses from a TCP byte stream; holds at most one partial frame."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Response]:
        buffer = self._buffer
        buffer += data
        out: list[Response] = []
        while len(buffer) >= 7:
            transaction, protocol, length, unit = _HEADER.unpack_from(buffer)
            if protocol != 0:
                raise FrameError(f"protocol id {protocol} is not Modbus (0)")
            if not 2 <= length <= 254:
                raise FrameError(f"MBAP length {length} is outside 2..254")
            end = 6 + length
            if len(buffer) < end:
                break
            out.append(parse_pdu(transaction, unit, bytes(buffer[7:end])))
            del buffer[:end]
        return out


def parse_pdu(transaction: int, unit: int, pdu: bytes) -> Response:
    """The response carried by ``pdu`` (function code and data); FrameError when it is malformed."""
    function = pdu[0]
    if function & 0x80:
        if len(pdu) != 2:
            raise FrameError(f"exception response of {len(pdu)} bytes")
        return Response(transaction, unit, function & 0x7F, exception=pdu[1])
    if function in (READ_HOLDING_REGISTERS, READ_INPUT_REGISTERS):
        if len(pdu) < 2 or pdu[1] % 2 or len(pdu) != 2 + pdu[1]:
            raise FrameError(f"function {function}: byte count does not match the frame")
        registers = struct.unpack_from(f">{pdu[1] // 2}H", pdu, 2)
        return Response(transaction, unit, function, registers=registers)
    if function in (READ_COILS, READ_DISCRETE_INPUTS):
        if len(pdu) < 2 or len(pdu) != 2 + pdu[1]:
            raise FrameError(f"function {function}: byte count does not match the frame")
        bits = tuple(bool(byte >> i & 1) for byte in pdu[2:] for i in range(8))
        return Response(transaction, unit, function, bits=bits)
    if function in (WRITE_SINGLE_COIL, WRITE_SINGLE_REGISTER, WRITE_MULTIPLE_COILS, WRITE_MULTIPLE_REGISTERS):
        if len(pdu) != 5:
            raise FrameError(f"function {function}: a write echo is 5 bytes, not {len(pdu)}")
        return Response(transaction, unit, function)
    raise FrameError(f"function {function} was never requested")
