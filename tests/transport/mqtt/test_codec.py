"""The framer over the mqtt5 codec: spec vectors, size limits, truncation and random bytes."""

from __future__ import annotations

import mqtt5
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.transport.mqtt.codec import (
    NEED_DATA,
    Framer,
    MalformedPacket,
    PacketTooLarge,
    ProtocolViolation,
    UnsupportedProtocol,
    frame_length,
)

CONNECT = mqtt5.ConnectPacket("c1", username="dev_x", keep_alive=30).write()


def _connected(limit: int = 1024) -> Framer:
    framer = Framer(limit)
    framer.receive_data(CONNECT)
    assert isinstance(framer.next_packet(), mqtt5.ConnectPacket)
    return framer


def test_frame_length_reads_the_variable_byte_integer() -> None:
    # MQTT 5 spec 1.5.5: 0x7F is one byte, 0x80 0x01 = 128, 0xFF 0xFF 0xFF 0x7F = 268,435,455.
    assert frame_length(b"\x30\x7f") == 2 + 127
    assert frame_length(b"\x30\x80\x01") == 3 + 128
    assert frame_length(b"\x30\xff\xff\xff\x7f") == 5 + 268_435_455
    assert frame_length(b"\x30\x80") is NEED_DATA
    with pytest.raises(MalformedPacket):
        frame_length(b"\x30\xff\xff\xff\xff\x01")


def test_pingreq_vector() -> None:
    framer = _connected()
    framer.receive_data(b"\xc0\x00")
    assert isinstance(framer.next_packet(), mqtt5.PingReqPacket)
    assert framer.next_packet() is NEED_DATA


def test_packet_over_the_limit_is_refused_from_its_header_alone() -> None:
    framer = _connected(limit=100)
    framer.receive_data(b"\x30\xe8\x07")  # a PUBLISH announcing 1000 bytes, none of them sent
    with pytest.raises(PacketTooLarge):
        framer.next_packet()


def test_first_packet_must_be_connect_and_only_once() -> None:
    framer = Framer(1024)
    framer.receive_data(b"\xc0\x00")
    with pytest.raises(MalformedPacket):
        framer.next_packet()
    framer = _connected()
    framer.receive_data(CONNECT)
    with pytest.raises(ProtocolViolation):
        framer.next_packet()


def test_mqtt_31_connect_is_reported_with_its_level() -> None:
    framer = Framer(1024)
    framer.receive_data(b"\x10\x12\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x04abcd")
    with pytest.raises(UnsupportedProtocol) as caught:
        framer.next_packet()
    assert caught.value.level == 3


def test_mqtt_311_connect_selects_the_311_codec() -> None:
    framer = Framer(1024)
    framer.receive_data(b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04abcd\xc0\x00")
    connect = framer.next_packet()
    assert isinstance(connect, mqtt5.ConnectPacket)
    assert (connect.client_id, connect.keep_alive, connect.clean_start) == ("abcd", 60, True)
    assert framer.level == 4
    assert isinstance(framer.next_packet(), mqtt5.PingReqPacket)


@given(
    topic=st.text(min_size=1, max_size=50).filter(
        lambda t: "+" not in t and "#" not in t and "\x00" not in t
    ),
    payload=st.binary(max_size=300),
    packet_id=st.integers(1, 65535),
)
def test_publish_round_trips_through_the_framer_in_any_split(
    topic: str, payload: bytes, packet_id: int
) -> None:
    data = mqtt5.PublishPacket(topic, payload, qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=packet_id).write()
    framer = _connected(limit=4096)
    for cut in range(0, len(data), max(1, len(data) // 4)):
        framer.receive_data(data[cut : cut + max(1, len(data) // 4)])
    packet = framer.next_packet()
    assert isinstance(packet, mqtt5.PublishPacket)
    assert (packet.topic, packet.payload, packet.packet_id) == (topic, payload, packet_id)


@given(data=st.binary(max_size=200))
def test_every_truncation_needs_data_and_never_misparses(data: bytes) -> None:
    whole = mqtt5.PublishPacket(
        "v1/devices/me/telemetry", data, qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=9
    ).write()
    for cut in range(len(whole)):
        framer = _connected(limit=4096)
        framer.receive_data(whole[:cut])
        assert framer.next_packet() is NEED_DATA


@settings(max_examples=500)
@given(data=st.binary(max_size=64))
def test_random_bytes_after_connect_decode_or_raise_a_protocol_violation(data: bytes) -> None:
    framer = _connected()
    framer.receive_data(data)
    try:
        while framer.next_packet() is not NEED_DATA:
            pass
    except ProtocolViolation:
        pass
