"""UDP fragmentation and reassembly, and TCP stream framing."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.idr.wire.wire_strategies import messages

from indunet.idr import wire
from indunet.idr.model import HandleValue

PROPS = settings(max_examples=100, deadline=None)


def big_message(request_id: int = 5, size: int = 3000) -> bytes:
    values = tuple(HandleValue(i, "URL", bytes([i % 256]) * 100) for i in range(size // 130))
    return wire.encode(wire.Message(wire.ResolutionResponse("88.100.1/big", values), request_id=request_id))


def test_fragments_are_at_most_512_octets_and_share_the_request() -> None:
    data = big_message()
    packets = wire.fragment(data)
    assert len(packets) > 1
    assert all(len(p) <= wire.UDP_MAX_PACKET for p in packets)
    envs = [wire.decode_envelope(p) for p in packets]
    assert {e.request_id for e in envs} == {5}
    assert [e.sequence for e in envs] == list(range(len(packets)))
    assert all(wire.EnvelopeFlag.TC in e.flags for e in envs)
    assert {e.message_length for e in envs} == {len(data) - wire.ENVELOPE_SIZE}


def test_small_message_is_one_unchanged_packet() -> None:
    data = wire.encode(wire.Message(wire.ResolutionRequest("88/x")))
    assert wire.fragment(data) == [data]
    assert wire.Reassembler().add(data, now=0) == data


@PROPS
@given(st.data(), st.integers(40, 600))
def test_reassembly_with_shuffled_and_duplicated_packets(data: st.DataObject, max_packet: int) -> None:
    msg = data.draw(messages())
    encoded = wire.encode(msg)
    packets = wire.fragment(encoded, max_packet)
    sent = packets + data.draw(st.lists(st.sampled_from(packets), max_size=4))
    sent = data.draw(st.permutations(sent))
    r = wire.Reassembler()
    results = [r.add(p, source="peer", now=0) for p in sent]
    complete = [x for x in results if x is not None]
    # Once complete, a late duplicate starts a new incomplete message rather than a second copy.
    assert complete[0] is not None
    # Fragments number themselves in SequenceNumber, so a reassembled message has sequence 0.
    expected = msg if len(packets) == 1 else dataclasses.replace(msg, sequence=0)
    assert wire.decode(complete[0]) == expected
    if len(packets) > 1:
        assert wire.EnvelopeFlag.TC not in wire.decode_envelope(complete[0]).flags


def test_interleaved_requests_from_two_sources() -> None:
    a, b = big_message(1), big_message(1, 2000)
    pa, pb = wire.fragment(a), wire.fragment(b)
    r = wire.Reassembler()
    out = []
    for i in range(max(len(pa), len(pb))):
        for src, packets in (("a", pa), ("b", pb)):
            if i < len(packets):
                res = r.add(packets[i], source=src, now=0)
                if res is not None:
                    out.append((src, res))
    assert sorted(out) == sorted([("a", a), ("b", b)])
    assert r.pending == 0 and r.buffered == 0


def test_incomplete_messages_expire_with_the_callers_clock() -> None:
    r = wire.Reassembler(timeout=10)
    packets = wire.fragment(big_message())
    r.add(packets[0], now=100)
    assert r.pending == 1
    assert r.expire(105) == 0
    assert r.expire(111) == 1
    assert r.pending == 0 and r.buffered == 0


def test_pending_limit_drops_the_oldest() -> None:
    r = wire.Reassembler(max_pending=2)
    for rid in (1, 2, 3):
        r.add(wire.fragment(big_message(rid))[0], now=0)
    assert r.pending == 2
    rest = wire.fragment(big_message(1))[1:]
    assert all(r.add(p, now=0) is None for p in rest)  # request 1 was dropped: never completes


def test_buffer_limit_and_message_limit() -> None:
    r = wire.Reassembler(max_buffered=1000)
    p = wire.fragment(big_message(1))
    r.add(p[0], now=0)
    r.add(p[1], now=0)
    assert r.buffered <= 1000
    with pytest.raises(wire.WireError):
        for packet in p[2:]:
            r.add(packet, now=0)
    assert r.buffered <= 1000
    small = wire.Reassembler(max_message=1000)
    with pytest.raises(wire.WireError, match="exceeds"):
        small.add(p[0], now=0)


def test_inconsistent_fragments_are_refused() -> None:
    p = wire.fragment(big_message())
    r = wire.Reassembler()
    r.add(p[1], now=0)
    tampered = p[1][:-1] + bytes([p[1][-1] ^ 1])
    with pytest.raises(wire.WireError, match="differs"):
        r.add(tampered, now=0)
    assert r.pending == 0


@PROPS
@given(st.lists(messages(), min_size=1, max_size=4), st.data())
def test_stream_decoder_with_arbitrary_chunking(msgs: list[wire.Message], data: st.DataObject) -> None:
    stream = b"".join(wire.encode(m) for m in msgs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    dec = wire.StreamDecoder()
    frames = []
    for chunk in chunks:
        frames += dec.feed(chunk)
    assert [wire.decode(f) for f in frames] == msgs
    assert dec.at_boundary
    assert dec.next_frame() is wire.NEED_DATA


def test_stream_decoder_refuses_oversized_message_from_its_envelope() -> None:
    dec = wire.StreamDecoder(max_message=1000)
    env = wire.encode_envelope(wire.Envelope(message_length=1001))
    assert dec.feed(env[:10]) == []
    with pytest.raises(wire.WireError, match="exceeds"):
        dec.feed(env[10:])
    with pytest.raises(wire.WireError):
        dec.feed(b"more")  # the stream cannot be resynchronised


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_stream_and_reassembler_on_garbage_raise_only_wire_error(chunks: list[bytes]) -> None:
    dec = wire.StreamDecoder(max_message=4096)
    r = wire.Reassembler(max_message=4096)
    for chunk in chunks:
        try:
            for frame in dec.feed(chunk):
                with contextlib.suppress(wire.WireError):
                    wire.decode(frame)
        except wire.WireError:
            dec = wire.StreamDecoder(max_message=4096)
        with contextlib.suppress(wire.WireError):
            r.add(chunk, now=0)
