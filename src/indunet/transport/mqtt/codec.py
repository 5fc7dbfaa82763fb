"""Sans-I/O framing of the MQTT byte stream over the ``mqtt5`` packet codec.

Theory of operation: bytes go in with ``receive_data``; ``next_packet`` returns one decoded packet or
``NEED_DATA``. The fixed header (type byte plus a variable byte integer of at most four bytes) is read
here first, so a frame above the size limit is refused from its header, before its body is buffered.
The first packet must be a CONNECT. Level 5 selects the ``mqtt5`` codec; level 4 (MQTT 3.1.1)
selects ``codec311`` and each 3.1.1 packet is handed on as its ``mqtt5`` equivalent (``v311.to_v5``), so
the connection logic has one packet model. Any other level is reported as ``UnsupportedProtocol`` so
the server can answer in that level's own CONNACK format.
"""

from __future__ import annotations

import enum
from typing import Final

import mqtt5

from indunet.transport.mqtt import codec311, v311


class NeedData(enum.Enum):
    NEED_DATA = "need data"


NEED_DATA: Final = NeedData.NEED_DATA

_CONNECT = 0x10


class ProtocolViolation(Exception):
    """The peer broke the protocol; ``reason`` is the DISCONNECT reason code that says which rule."""

    reason: mqtt5.DisconnectReasonCode = mqtt5.DisconnectReasonCode.PROTOCOL_ERROR


class MalformedPacket(ProtocolViolation):
    reason = mqtt5.DisconnectReasonCode.MALFORMED_PACKET


class PacketTooLarge(ProtocolViolation):
    reason = mqtt5.DisconnectReasonCode.PACKET_TOO_LARGE


class ConnectRefused311(ProtocolViolation):
    """A 3.1.1 CONNECT the standard answers with a CONNACK ``return_code`` (e.g. a client id rejected)."""

    def __init__(self, return_code: codec311.ReturnCode, message: str) -> None:
        super().__init__(message)
        self.return_code = return_code


class UnsupportedProtocol(ProtocolViolation):
    """A CONNECT for a protocol level other than 5 (3 = MQTT 3.1, 4 = MQTT 3.1.1)."""

    reason = mqtt5.DisconnectReasonCode.PROTOCOL_ERROR

    def __init__(self, level: int) -> None:
        super().__init__(f"protocol level {level} is not supported; use MQTT 5")
        self.level = level


def frame_length(buffer: bytes | bytearray | memoryview) -> int | NeedData:
    """Total length of the frame at the start of ``buffer`` (fixed header included), from its header."""
    multiplier = 1
    remaining = 0
    for index in range(1, 5):
        if index >= len(buffer):
            return NEED_DATA
        byte = buffer[index]
        remaining += (byte & 0x7F) * multiplier
        if not byte & 0x80:
            return 1 + index + remaining
        multiplier *= 128
    raise MalformedPacket("remaining length longer than four bytes")


def connect_level(frame: bytes | bytearray | memoryview) -> int | None:
    """The protocol level byte of a CONNECT frame, or None when the frame is too short to hold one."""
    if frame_length(frame) is NEED_DATA:
        return None
    start = 1 + _varint_size(frame)
    if len(frame) < start + 2:
        return None
    name_len = int.from_bytes(frame[start : start + 2], "big")
    level_at = start + 2 + name_len
    if name_len > 6 or len(frame) <= level_at:
        return None
    return int(frame[level_at])


def _varint_size(frame: bytes | bytearray | memoryview) -> int:
    size = 1
    while frame[size] & 0x80:
        size += 1
    return size


class Framer:
    """Splits the inbound stream into packets, enforcing the maximum packet size before decoding."""

    def __init__(self, max_packet_bytes: int) -> None:
        self.max_packet_bytes = max_packet_bytes
        self._buffer = bytearray()
        self._connected = False
        self.level = 5

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def receive_data(self, data: bytes) -> None:
        self._buffer += data

    def next_packet(self) -> mqtt5.Packet | NeedData:
        if not self._buffer:
            return NEED_DATA
        length = frame_length(self._buffer)
        if length is NEED_DATA:
            return NEED_DATA
        if length > self.max_packet_bytes:
            raise PacketTooLarge(f"packet of {length} bytes exceeds the limit of {self.max_packet_bytes}")
        if len(self._buffer) < length:
            return NEED_DATA
        frame = bytes(self._buffer[:length])
        del self._buffer[:length]
        if not self._connected:
            if frame[0] != _CONNECT:
                raise MalformedPacket("the first packet must be CONNECT")
            level = connect_level(frame)
            if level == codec311.PROTOCOL_LEVEL:
                self.level = level
            elif level is not None and level != 5:
                raise UnsupportedProtocol(level)
        if self.level == codec311.PROTOCOL_LEVEL:
            packet = _read_311(frame)
            if isinstance(packet, mqtt5.ConnectPacket) and self._connected:
                raise ProtocolViolation("a second CONNECT")
            self._connected = True
            return packet
        try:
            packet, used = mqtt5.read(memoryview(frame))
        except (ValueError, IndexError) as exc:
            raise MalformedPacket(str(exc) or "malformed packet") from None
        if used != length:
            raise MalformedPacket("packet length disagrees with its contents")
        if isinstance(packet, mqtt5.ConnectPacket):
            if self._connected:
                raise ProtocolViolation("a second CONNECT")
            self._connected = True
        return packet


def _read_311(frame: bytes) -> mqtt5.Packet:
    try:
        decoded = codec311.read(frame)
        assert decoded is not codec311.NEED_DATA  # the frame is complete: its length was checked
        packet, used = decoded
        if used != len(frame):
            raise codec311.Malformed("packet length disagrees with its contents")
        translated = v311.to_v5(packet)
    except codec311.ConnectRefused as exc:
        raise ConnectRefused311(exc.return_code, str(exc)) from None
    except codec311.Malformed as exc:
        raise MalformedPacket(str(exc)) from None
    return translated
