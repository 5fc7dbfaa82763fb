"""The 20-octet Message Envelope (RFC 3652, 2.2.1) that precedes every message and UDP fragment.

``message_length`` counts the octets after the envelope (header, body and credential). In a UDP
fragment it still counts the whole message, so a receiver knows how much to reassemble.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from indunet.idr.wire.codes import NO_ENVELOPE_FLAGS, PROTOCOL_MAJOR, PROTOCOL_MINOR, EnvelopeFlag
from indunet.idr.wire.errors import WireError

ENVELOPE_SIZE: Final = 20
_FORMAT = struct.Struct(">BBHIIII")


@dataclass(frozen=True, slots=True)
class Envelope:
    request_id: int = 0
    session_id: int = 0
    sequence: int = 0
    message_length: int = 0
    flags: EnvelopeFlag = NO_ENVELOPE_FLAGS
    major: int = PROTOCOL_MAJOR
    minor: int = PROTOCOL_MINOR


def encode_envelope(env: Envelope) -> bytes:
    try:
        return _FORMAT.pack(
            env.major,
            env.minor,
            int(env.flags),
            env.session_id,
            env.request_id,
            env.sequence,
            env.message_length,
        )
    except struct.error as e:
        raise ValueError(f"envelope field out of range: {e}") from e


def decode_envelope(data: bytes | memoryview) -> Envelope:
    """The envelope at the start of ``data``; WireError when there are fewer than 20 octets.

    The version is not checked here: a server answers a version it does not speak with
    RC_PROTOCOL_ERROR, and needs the request id from the envelope to do so.
    """
    if len(data) < ENVELOPE_SIZE:
        raise WireError(f"a message envelope is {ENVELOPE_SIZE} octets, got {len(data)}")
    major, minor, flags, session_id, request_id, sequence, length = _FORMAT.unpack_from(data, 0)
    return Envelope(
        request_id=request_id,
        session_id=session_id,
        sequence=sequence,
        message_length=length,
        flags=EnvelopeFlag(flags),
        major=major,
        minor=minor,
    )
