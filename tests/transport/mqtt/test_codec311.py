"""The MQTT 3.1.1 codec: byte vectors from the standard, round trips, truncations and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indunet.transport.mqtt import codec311 as c

# CONNECT from the 3.1.1 standard's example (section 3.1.2.10), client id "abcd", user name and password.
CONNECT = b"\x10\x1e\x00\x04MQTT\x04\xc2\x00\x3c\x00\x04abcd\x00\x04user\x00\x06secret"

PACKETS: list[c.Packet] = [
    c.Connect("abcd", True, 60, "user", b"secret"),
    c.Connect("", True, 0, None, None, c.Will("a/b", b"gone", 1, True)),
    c.ConnAck(c.ReturnCode.BAD_USER_NAME_OR_PASSWORD),
    c.ConnAck(c.ReturnCode.ACCEPTED, True),
    c.Publish("v1/devices/me/telemetry", b'{"t":1}', 1, 10),
    c.Publish("a", b"", 0),
    c.Publish("a", b"x", 2, 65535, True, True),
    c.PubAck(7),
    c.Subscribe(3, (("v1/devices/me/rpc/request/+", 1), ("v1/#", 0))),
    c.SubAck(3, (1, 0x80)),
    c.Unsubscribe(4, ("a/b", "c/#")),
    c.UnsubAck(4),
    c.PingReq(),
    c.PingResp(),
    c.Disconnect(),
]


def test_spec_vectors() -> None:
    assert c.read(CONNECT) == (c.Connect("abcd", True, 60, "user", b"secret"), len(CONNECT))
    assert c.Connect("abcd", True, 60, "user", b"secret").write() == CONNECT
    assert c.ConnAck(c.ReturnCode.NOT_AUTHORIZED).write() == b"\x20\x02\x00\x05"
    assert c.PubAck(1).write() == b"\x40\x02\x00\x01"
    assert c.Publish("a/b", b"hi", 1, 2).write() == b"\x32\x09\x00\x03a/b\x00\x02hi"
    assert c.SubAck(1, (0, 1, 0x80)).write() == b"\x90\x05\x00\x01\x00\x01\x80"
    assert c.PingReq().write() == b"\xc0\x00" and c.Disconnect().write() == b"\xe0\x00"


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ],
)
def test_remaining_length_table_from_the_standard(value: int, encoded: bytes) -> None:
    assert c.encode_length(value) == encoded
    assert c.decode_length(b"\x30" + encoded) == (value, 1 + len(encoded))


def test_five_byte_remaining_length_is_malformed() -> None:
    with pytest.raises(c.Malformed):
        c.read(b"\x30\xff\xff\xff\xff\x01")


@pytest.mark.parametrize("packet", PACKETS, ids=lambda p: type(p).__name__)
def test_round_trip_and_every_truncation_needs_data(packet: c.Packet) -> None:
    data = packet.write()
    assert c.read(data) == (packet, len(data))
    assert c.read(data + b"\xc0\x00") == (packet, len(data))
    for cut in range(len(data)):
        assert c.read(data[:cut]) is c.NEED_DATA


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x80\x06\x00\x01\x00\x01a\x00", "SUBSCRIBE must carry flags 0010"),
        (b"\xa0\x05\x00\x01\x00\x01a", "UNSUBSCRIBE must carry flags 0010"),
        (b"\xc1\x00", "PINGREQ flags reserved"),
        (b"\x36\x03\x00\x01a", "QoS 3"),
        (b"\x38\x03\x00\x01a", "DUP at QoS 0"),
        (b"\x32\x05\x00\x01a\x00\x00", "packet id 0"),
        (b"\x30\x03\x00\x01+", "wildcard in a topic name"),
        (b"\x30\x02\x00\x00", "empty topic name"),
        (b"\x30\x04\x00\x02\xc3\x28", "invalid UTF-8"),
        (b"\x30\x03\x00\x01\x00", "U+0000"),
        (b"\x82\x02\x00\x01", "SUBSCRIBE without filters"),
        (b"\x82\x06\x00\x01\x00\x01a\x04", "requested QoS reserved bits"),
        (b"\xa2\x02\x00\x01", "UNSUBSCRIBE without filters"),
        (b"\x10\x10\x00\x04MQTT\x04\x03\x00\x3c\x00\x04abcd", "CONNECT reserved flag"),
        (b"\x10\x10\x00\x04MQTT\x04\x0a\x00\x3c\x00\x04abcd", "will QoS without a will"),
        (b"\x10\x10\x00\x04MQTT\x04\x22\x00\x3c\x00\x04abcd", "will retain without a will"),
        (b"\x10\x12\x00\x04MQTT\x04\x42\x00\x3c\x00\x04abcd\x00\x00", "password without user name"),
        (b"\x10\x10\x00\x04MQTX\x04\x02\x00\x3c\x00\x04abcd", "protocol name"),
        (b"\x10\x11\x00\x04MQTT\x04\x02\x00\x3c\x00\x04abcdX", "bytes after the payload"),
        (b"\x62\x02\x00\x01", "PUBREL: QoS 2 flows refused"),
        (b"\xf0\x00", "type 15 does not exist in 3.1.1"),
        (b"\xe0\x01\x00", "DISCONNECT with a body"),
    ],
)
def test_malformed_packets_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(c.Malformed):
        c.read(data)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x10\x10\x00\x04MQTT\x05\x02\x00\x3c\x00\x04abcd", c.ReturnCode.UNACCEPTABLE_PROTOCOL_VERSION),
        (b"\x10\x0c\x00\x04MQTT\x04\x00\x00\x3c\x00\x00", c.ReturnCode.IDENTIFIER_REJECTED),
        (c.Connect("x" * 300).write(), c.ReturnCode.IDENTIFIER_REJECTED),
    ],
)
def test_connects_answered_with_a_return_code(data: bytes, code: c.ReturnCode) -> None:
    with pytest.raises(c.ConnectRefused) as caught:
        c.read(data)
    assert caught.value.return_code == code


_text = st.text(min_size=1, max_size=40).filter(lambda t: "\x00" not in t)
_topic = _text.filter(lambda t: "+" not in t and "#" not in t)


@given(
    topic=_topic,
    payload=st.binary(max_size=300),
    qos=st.integers(0, 2),
    ident=st.integers(1, 65535),
    retain=st.booleans(),
)
def test_publish_round_trips(topic: str, payload: bytes, qos: int, ident: int, retain: bool) -> None:
    packet = c.Publish(topic, payload, qos, ident if qos else None, retain, dup=bool(qos) and retain)
    assert c.read(packet.write()) == (packet, len(packet.write()))


@given(
    client_id=_text,
    user=st.none() | _text,
    password=st.none() | st.binary(max_size=50),
    keep=st.integers(0, 65535),
    will=st.none() | st.builds(c.Will, _topic, st.binary(max_size=20), st.integers(0, 2), st.booleans()),
)
def test_connect_round_trips(
    client_id: str, user: str | None, password: bytes | None, keep: int, will: c.Will | None
) -> None:
    packet = c.Connect(client_id, True, keep, user, password if user is not None else None, will)
    assert c.read(packet.write())[0] == packet  # type: ignore[index]


@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_malformed(data: bytes) -> None:
    try:
        result = c.read(data)
    except c.Malformed:
        return
    if result is not c.NEED_DATA:
        packet, used = result
        assert 0 < used <= len(data)
        assert packet.write() == data[:used] or isinstance(packet, c.Connect | c.Publish)
