"""Whole messages: envelope, header, body and credential (RFC 3652, 2.2), as one typed value.

``encode(msg)`` gives the octets to send on TCP, or to pass to
:func:`indunet.idr.wire.fragments.fragment` for UDP; ``decode(data)`` takes one complete message
(a TCP frame from :class:`~indunet.idr.wire.stream.StreamDecoder`, a UDP datagram, or the output of
:class:`~indunet.idr.wire.fragments.Reassembler`) and raises only :class:`WireError`.

Compressed (CP) and encrypted (EC) messages are refused with WireError: RFC 3652 does not define
the compression, and decryption needs session state a pure codec does not hold (a session layer
can decrypt the octets after the envelope and call :func:`decode_payload`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from indunet.idr.wire.body import Body, RequestDigest, decode_body, encode_body
from indunet.idr.wire.codes import (
    NO_ENVELOPE_FLAGS,
    NO_OP_FLAGS,
    PROTOCOL_MAJOR,
    PROTOCOL_MINOR,
    DigestAlgorithm,
    EnvelopeFlag,
    OpFlag,
    ResponseCode,
)
from indunet.idr.wire.credential import Credential, decode_credential, encode_credential
from indunet.idr.wire.envelope import ENVELOPE_SIZE, Envelope, decode_envelope, encode_envelope
from indunet.idr.wire.errors import WireError
from indunet.idr.wire.header import HEADER_SIZE, Header, decode_header, encode_header
from indunet.idr.wire.primitives import Reader

DEFAULT_MAX_MESSAGE: Final = 1024 * 1024
"""Largest message (octets after the envelope) accepted by default."""


@dataclass(frozen=True, slots=True)
class Message:
    body: Body
    request_id: int = 0
    session_id: int = 0
    flags: OpFlag = NO_OP_FLAGS
    site_info_serial: int = 0
    recursion_count: int = 0
    expiration: int = 0
    """Seconds since the epoch after which the message is stale; 0 for none."""
    request_digest: RequestDigest | None = None
    """Responses only: set when the request had RD set (the RD flag is then set on encode)."""
    credential: Credential | None = None
    sequence: int = 0
    envelope_flags: EnvelopeFlag = NO_ENVELOPE_FLAGS
    major: int = PROTOCOL_MAJOR
    minor: int = PROTOCOL_MINOR

    @property
    def opcode(self) -> int:
        return self.body.opcode

    @property
    def response_code(self) -> int:
        return self.body.response_code

    @property
    def is_request(self) -> bool:
        return self.body.response_code == ResponseCode.RC_RESERVED


def encode_payload(msg: Message) -> bytes:
    """Header, body and credential: the octets after the envelope."""
    flags = msg.flags
    if msg.request_digest is not None:
        if msg.is_request:
            raise ValueError("only a response carries a request digest")
        flags |= OpFlag.RD
    elif OpFlag.RD in flags and not msg.is_request:
        raise ValueError("a response with the RD flag needs its request_digest")
    body = encode_body(msg.body, msg.request_digest)
    header = Header(
        opcode=msg.opcode,
        response_code=msg.response_code,
        flags=flags,
        site_info_serial=msg.site_info_serial,
        recursion_count=msg.recursion_count,
        expiration=msg.expiration,
        body_length=len(body),
    )
    return encode_header(header) + body + encode_credential(msg.credential)


def encode(msg: Message) -> bytes:
    payload = encode_payload(msg)
    flags = msg.envelope_flags & ~(EnvelopeFlag.CP | EnvelopeFlag.EC | EnvelopeFlag.TC)
    env = Envelope(
        request_id=msg.request_id,
        session_id=msg.session_id,
        sequence=msg.sequence,
        message_length=len(payload),
        flags=EnvelopeFlag(flags),
        major=msg.major,
        minor=msg.minor,
    )
    return encode_envelope(env) + payload


def check_envelope(env: Envelope, available: int, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
    """WireError unless a message with this envelope can be decoded from ``available`` octets."""
    if env.major != PROTOCOL_MAJOR:
        raise WireError(f"protocol version {env.major}.{env.minor} is not {PROTOCOL_MAJOR}.x")
    if env.flags & (EnvelopeFlag.CP | EnvelopeFlag.EC):
        raise WireError("compressed or encrypted messages are not supported")
    if env.message_length > max_message:
        raise WireError(f"message of {env.message_length} octets exceeds the limit of {max_message}")
    if env.message_length < HEADER_SIZE:
        raise WireError(f"message length {env.message_length} is shorter than a header")
    if available < env.message_length:
        raise WireError(f"message length {env.message_length} but {available} octets follow the envelope")


def decode(data: bytes | memoryview, *, max_message: int = DEFAULT_MAX_MESSAGE) -> Message:
    """One whole message; octets after ``MessageLength`` are ignored."""
    env = decode_envelope(data)
    check_envelope(env, len(data) - ENVELOPE_SIZE, max_message)
    view = memoryview(data)[ENVELOPE_SIZE : ENVELOPE_SIZE + env.message_length]
    return decode_payload(env, view)


def decode_payload(env: Envelope, payload: bytes | memoryview) -> Message:
    header = decode_header(payload)
    if header.body_length > len(payload) - HEADER_SIZE:
        raise WireError(f"body length {header.body_length} exceeds the message")
    body_end = HEADER_SIZE + header.body_length
    digest, body = decode_body(
        header.opcode,
        header.response_code,
        memoryview(payload)[HEADER_SIZE:body_end],
        has_digest=OpFlag.RD in header.flags,
    )
    credential = decode_credential(Reader(payload, body_end))
    return Message(
        body=body,
        request_id=env.request_id,
        session_id=env.session_id,
        flags=header.flags,
        site_info_serial=header.site_info_serial,
        recursion_count=header.recursion_count,
        expiration=header.expiration,
        request_digest=digest,
        credential=credential,
        sequence=env.sequence,
        envelope_flags=env.flags,
        major=env.major,
        minor=env.minor,
    )


def signed_part(data: bytes | memoryview) -> bytes:
    """The header and body octets of an encoded message: what a Message Credential signs."""
    env = decode_envelope(data)
    check_envelope(env, len(data) - ENVELOPE_SIZE, max(env.message_length, HEADER_SIZE))
    header = decode_header(data, ENVELOPE_SIZE)
    end = ENVELOPE_SIZE + HEADER_SIZE + header.body_length
    if end > ENVELOPE_SIZE + env.message_length:
        raise WireError(f"body length {header.body_length} exceeds the message")
    return bytes(memoryview(data)[ENVELOPE_SIZE:end])


def digest_request(
    data: bytes | memoryview, algorithm: DigestAlgorithm = DigestAlgorithm.SHA1
) -> RequestDigest:
    """The RequestDigest a response carries for the encoded request ``data``.

    It digests the request's header and body (:func:`signed_part`), leaving out the envelope, which
    changes per UDP fragment, and the credential.
    """
    h = hashlib.new(algorithm.hashlib_name, signed_part(data), usedforsecurity=False)
    return RequestDigest(algorithm, h.digest())


def response_to(
    request: Message,
    body: Body,
    raw_request: bytes | None = None,
    *,
    flags: OpFlag = NO_OP_FLAGS,
    algorithm: DigestAlgorithm = DigestAlgorithm.SHA1,
    site_info_serial: int = 0,
    expiration: int = 0,
    credential: Credential | None = None,
) -> Message:
    """A response to ``request``: same RequestId and SessionId, and the request digest when the
    request set RD (which needs the request's octets, ``raw_request``)."""
    digest = None
    if OpFlag.RD in request.flags:
        if raw_request is None:
            raise ValueError("the request asked for a digest (RD); pass raw_request")
        digest = digest_request(raw_request, algorithm)
    return Message(
        body,
        request_id=request.request_id,
        session_id=request.session_id,
        flags=flags | (OpFlag.RD if digest else NO_OP_FLAGS),
        site_info_serial=site_info_serial,
        expiration=expiration,
        request_digest=digest,
        credential=credential,
    )
