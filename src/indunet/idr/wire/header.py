"""The 24-octet Message Header (RFC 3652, 2.2.2).

OpCode (4), ResponseCode (4), OpFlag (4), SiteInfoSerialNumber (2), RecursionCount (1), a reserved
octet, ExpirationTime (4, seconds since the epoch) and BodyLength (4). OpCode and ResponseCode stay
plain integers here so that a message with a code this codec does not know still decodes and can be
answered (RC_OPERATION_DENIED, say) rather than dropped.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from indunet.idr.wire.codes import NO_OP_FLAGS, OpFlag
from indunet.idr.wire.errors import WireError

HEADER_SIZE: Final = 24
_FORMAT = struct.Struct(">IIIHBBII")


@dataclass(frozen=True, slots=True)
class Header:
    opcode: int
    response_code: int = 0
    flags: OpFlag = NO_OP_FLAGS
    site_info_serial: int = 0
    recursion_count: int = 0
    expiration: int = 0
    body_length: int = 0


def encode_header(h: Header) -> bytes:
    try:
        return _FORMAT.pack(
            h.opcode,
            h.response_code,
            int(h.flags),
            h.site_info_serial,
            h.recursion_count,
            0,
            h.expiration,
            h.body_length,
        )
    except struct.error as e:
        raise ValueError(f"header field out of range: {e}") from e


def decode_header(data: bytes | memoryview, offset: int = 0) -> Header:
    if len(data) - offset < HEADER_SIZE:
        raise WireError(f"a message header is {HEADER_SIZE} octets, got {max(0, len(data) - offset)}")
    opcode, rc, flags, serial, recursion, _reserved, expiration, body_length = _FORMAT.unpack_from(
        data, offset
    )
    return Header(
        opcode=opcode,
        response_code=rc,
        flags=OpFlag(flags),
        site_info_serial=serial,
        recursion_count=recursion,
        expiration=expiration,
        body_length=body_length,
    )
