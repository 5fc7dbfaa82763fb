"""Hostile input: arbitrary and mutated octets give WireError and nothing else, quickly."""

from __future__ import annotations

import contextlib
import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.idr.wire.wire_strategies import messages, value_lists

from indunet.idr import wire
from indunet.idr.model import HandleValue
from indunet.idr.wire.primitives import Reader, Writer
from indunet.idr.wire.values import read_values

FUZZ = settings(max_examples=300, deadline=None)


def _decode_or_wire_error(data: bytes) -> None:
    try:
        wire.decode(data)
    except wire.WireError as e:
        assert isinstance(e.code, wire.ResponseCode)


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_octets(data: bytes) -> None:
    _decode_or_wire_error(data)


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_octets_after_a_valid_envelope(tail: bytes) -> None:
    env = wire.encode_envelope(wire.Envelope(request_id=1, message_length=len(tail)))
    _decode_or_wire_error(env + tail)


@FUZZ
@given(st.binary(max_size=200), st.sampled_from(list(wire.OpCode)), st.sampled_from(list(wire.ResponseCode)))
def test_arbitrary_body_for_every_opcode_and_code(body: bytes, opcode: int, code: int) -> None:
    for rd in (wire.OpFlag(0), wire.OpFlag.RD):
        header = wire.encode_header(wire.Header(opcode, code, rd, body_length=len(body)))
        payload = header + body
        env = wire.encode_envelope(wire.Envelope(message_length=len(payload)))
        _decode_or_wire_error(env + payload)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(wire.encode(draw(messages())))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "length"]))
        if kind == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[draw(st.integers(0, len(data))) :]
        elif kind == "insert":
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif len(data) >= 4:
            # Overwrite some 4-octet field with a huge or off-by-a-little length.
            i = draw(st.integers(0, len(data) - 4))
            data[i : i + 4] = struct.pack(">I", draw(st.sampled_from([0xFFFF_FFFF, 0x7FFF_FFFF, 1 << 20, 3])))
    return bytes(data)


@FUZZ
@given(mutated())
def test_mutated_valid_messages(data: bytes) -> None:
    _decode_or_wire_error(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_value_decoders_accept_only_wire_errors(data: bytes) -> None:
    for decoder in (wire.decode_value, wire.decode_admin, wire.decode_site, wire.decode_vlist):
        with contextlib.suppress(wire.WireError):
            decoder(data)


def test_huge_count_is_refused_before_allocating() -> None:
    # A resolution response claiming 2**32-1 values in a 40-octet body.
    body = Writer().string("a/b").u32(0xFFFF_FFFF).raw(bytes(20)).getvalue()
    header = wire.encode_header(wire.Header(wire.OpCode.OC_RESOLUTION, 1, body_length=len(body)))
    env = wire.encode_envelope(wire.Envelope(message_length=len(header) + len(body)))
    try:
        wire.decode(env + header + body)
    except wire.WireError as e:
        assert "cannot fit" in str(e)
    else:
        raise AssertionError("expected WireError")


def _careful(data: bytes) -> tuple[object, ...] | str:
    try:
        return read_values(Reader(data))
    except wire.WireError:
        return "refused"


def _quick(data: bytes) -> tuple[object, ...] | str:
    try:
        return wire.decode_values(data)
    except wire.WireError:
        return "refused"


@FUZZ
@given(value_lists, st.data())
def test_value_lists_decode_as_the_careful_reader_does_even_when_damaged(
    listed: tuple[HandleValue, ...], data: st.DataObject
) -> None:
    """Stored records are decoded the quick way; damaged or not, the result is the reader's."""
    octets = bytearray(wire.encode_values(listed))
    if octets and data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(octets) - 1))
        octets[at] = data.draw(st.integers(0, 255))
    cut = bytes(octets[: data.draw(st.integers(0, len(octets)))])
    for sample in (bytes(octets), cut):
        assert _quick(sample) == _careful(sample)
