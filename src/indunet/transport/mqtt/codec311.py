"""Sans-I/O codec for MQTT 3.1.1 (protocol level 4), the packets a device endpoint needs.

``read(buffer)`` returns ``(packet, bytes used)`` or ``NEED_DATA``; each packet's ``write()`` returns its
bytes. Validation follows the OASIS MQTT 3.1.1 standard: reserved fixed-header flags, the
remaining-length variable byte integer (at most four bytes), UTF-8 strings without U+0000, packet
identifiers other than 0, CONNECT flag rules ([MQTT-3.1.2-3], -11, -13, -15, -22) and client identifier
rules ([MQTT-3.1.3-8]). QoS 1/2 exchanges beyond PUBACK (PUBREC/PUBREL/PUBCOMP) are outside this
codec: the endpoint never grants QoS 2, so they are refused as unsupported.

Errors: ``Malformed`` (the bytes break the standard; the connection must close) and its subclass
``ConnectRefused`` (a CONNECT the standard answers with a CONNACK return code before closing).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

MAX_REMAINING = 268_435_455
MAX_CLIENT_ID_CHARS = 256
PROTOCOL_LEVEL = 4


class NeedData(enum.Enum):
    NEED_DATA = "need data"


NEED_DATA: Final = NeedData.NEED_DATA


class ReturnCode(enum.IntEnum):
    """CONNACK return codes (3.1.1 section 3.2.2.3)."""

    ACCEPTED = 0
    UNACCEPTABLE_PROTOCOL_VERSION = 1
    IDENTIFIER_REJECTED = 2
    SERVER_UNAVAILABLE = 3
    BAD_USER_NAME_OR_PASSWORD = 4
    NOT_AUTHORIZED = 5


SUBACK_FAILURE = 0x80


class Malformed(ValueError):
    """Bytes that break the MQTT 3.1.1 standard; the receiver closes the connection."""


class ConnectRefused(Malformed):
    """A CONNECT answered with CONNACK ``return_code`` before the connection closes."""

    def __init__(self, return_code: ReturnCode, message: str) -> None:
        super().__init__(message)
        self.return_code = return_code


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


@dataclass(frozen=True, slots=True)
class Connect:
    client_id: str
    clean_session: bool = True
    keep_alive: int = 0
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None

    def write(self) -> bytes:
        flags = (0x02 if self.clean_session else 0) | (0x80 if self.username is not None else 0)
        flags |= 0x40 if self.password is not None else 0
        body = _string("MQTT") + bytes([PROTOCOL_LEVEL])
        tail = _string(self.client_id)
        if self.will is not None:
            flags |= 0x04 | (self.will.qos << 3) | (0x20 if self.will.retain else 0)
            tail += _string(self.will.topic) + _binary(self.will.payload)
        if self.username is not None:
            tail += _string(self.username)
        if self.password is not None:
            tail += _binary(self.password)
        return _frame(0x10, body + bytes([flags]) + self.keep_alive.to_bytes(2, "big") + tail)


@dataclass(frozen=True, slots=True)
class ConnAck:
    return_code: ReturnCode = ReturnCode.ACCEPTED
    session_present: bool = False

    def write(self) -> bytes:
        return bytes([0x20, 2, int(self.session_present), self.return_code])


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int = 0
    packet_id: int | None = None
    retain: bool = False
    dup: bool = False

    def write(self) -> bytes:
        first = 0x30 | (0x08 if self.dup else 0) | (self.qos << 1) | (0x01 if self.retain else 0)
        ident = b"" if self.qos == 0 else (self.packet_id or 0).to_bytes(2, "big")
        return _frame(first, _string(self.topic) + ident + self.payload)


@dataclass(frozen=True, slots=True)
class PubAck:
    packet_id: int

    def write(self) -> bytes:
        return _frame(0x40, self.packet_id.to_bytes(2, "big"))


@dataclass(frozen=True, slots=True)
class Subscribe:
    packet_id: int
    filters: tuple[tuple[str, int], ...]

    def write(self) -> bytes:
        body = b"".join(_string(pattern) + bytes([qos]) for pattern, qos in self.filters)
        return _frame(0x82, self.packet_id.to_bytes(2, "big") + body)


@dataclass(frozen=True, slots=True)
class SubAck:
    packet_id: int
    return_codes: tuple[int, ...]

    def write(self) -> bytes:
        return _frame(0x90, self.packet_id.to_bytes(2, "big") + bytes(self.return_codes))


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    packet_id: int
    filters: tuple[str, ...]

    def write(self) -> bytes:
        return _frame(0xA2, self.packet_id.to_bytes(2, "big") + b"".join(map(_string, self.filters)))


@dataclass(frozen=True, slots=True)
class UnsubAck:
    packet_id: int

    def write(self) -> bytes:
        return _frame(0xB0, self.packet_id.to_bytes(2, "big"))


@dataclass(frozen=True, slots=True)
class PingReq:
    def write(self) -> bytes:
        return b"\xc0\x00"


@dataclass(frozen=True, slots=True)
class PingResp:
    def write(self) -> bytes:
        return b"\xd0\x00"


@dataclass(frozen=True, slots=True)
class Disconnect:
    def write(self) -> bytes:
        return b"\xe0\x00"


Packet = (
    Connect
    | ConnAck
    | Publish
    | PubAck
    | Subscribe
    | SubAck
    | Unsubscribe
    | UnsubAck
    | PingReq
    | PingResp
    | Disconnect
)


# -- encoding helpers ---------------------------------------------------------------------------------
def encode_length(value: int) -> bytes:
    if not 0 <= value <= MAX_REMAINING:
        raise ValueError(f"remaining length {value} outside 0..{MAX_REMAINING}")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _frame(first: int, body: bytes) -> bytes:
    return bytes([first]) + encode_length(len(body)) + body


def _binary(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise ValueError("field longer than 65535 bytes")
    return len(data).to_bytes(2, "big") + data


def _string(text: str) -> bytes:
    return _binary(text.encode())


# -- decoding -----------------------------------------------------------------------------------------
class _Reader:
    """Cursor over one packet's variable header and payload; running past the end is malformed."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, count: int) -> bytes:
        if count > self.left:
            raise Malformed("packet ends inside a field")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def packet_id(self) -> int:
        value = self.u16()
        if value == 0:
            raise Malformed("packet identifier 0 is not allowed")
        return value

    def binary(self) -> bytes:
        return self.take(self.u16())

    def string(self) -> str:
        try:
            text = self.binary().decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("string is not well-formed UTF-8") from None
        if "\x00" in text:
            raise Malformed("string contains U+0000")
        return text

    def end(self) -> None:
        if self.left:
            raise Malformed("unexpected bytes after the packet's fields")


def decode_length(buffer: bytes | bytearray | memoryview) -> tuple[int, int] | NeedData:
    """(remaining length, bytes the fixed header takes) of the frame at the start of ``buffer``."""
    value = 0
    for index in range(1, 5):
        if index >= len(buffer):
            return NEED_DATA
        byte = buffer[index]
        value |= (byte & 0x7F) << (7 * (index - 1))
        if not byte & 0x80:
            return value, index + 1
    raise Malformed("remaining length longer than four bytes")


def read(buffer: bytes | bytearray | memoryview) -> tuple[Packet, int] | NeedData:
    """The packet at the start of ``buffer`` and the bytes it used, or ``NEED_DATA``."""
    header = decode_length(buffer)
    if header is NEED_DATA:
        return NEED_DATA
    length, start = header
    if len(buffer) < start + length:
        return NEED_DATA
    first = buffer[0]
    body = _Reader(bytes(buffer[start : start + length]))
    return _decode(first >> 4, first & 0x0F, body), start + length


def _flags(kind: str, flags: int, expected: int) -> None:
    if flags != expected:
        raise Malformed(f"{kind} with reserved fixed-header flags {flags:#x}")


def _decode(kind: int, flags: int, body: _Reader) -> Packet:
    packet: Packet
    if kind == 3:
        return _publish(flags, body)
    if kind == 1:
        _flags("CONNECT", flags, 0)
        return _connect(body)
    if kind == 8:
        _flags("SUBSCRIBE", flags, 2)
        return _subscribe(body)
    if kind == 10:
        _flags("UNSUBSCRIBE", flags, 2)
        ident = body.packet_id()
        filters: list[str] = []
        while body.left:
            filters.append(_filter(body.string()))
        if not filters:
            raise Malformed("UNSUBSCRIBE without a topic filter")
        return Unsubscribe(ident, tuple(filters))
    if kind == 2:
        _flags("CONNACK", flags, 0)
        ack_flags, code = body.byte(), body.byte()
        if ack_flags & 0xFE or code > ReturnCode.NOT_AUTHORIZED:
            raise Malformed("CONNACK with reserved flags or an unknown return code")
        packet = ConnAck(ReturnCode(code), bool(ack_flags))
    elif kind == 4:
        _flags("PUBACK", flags, 0)
        packet = PubAck(body.packet_id())
    elif kind == 9:
        _flags("SUBACK", flags, 0)
        ident = body.packet_id()
        codes = tuple(body.take(body.left))
        if not codes or any(code not in (0, 1, 2, SUBACK_FAILURE) for code in codes):
            raise Malformed("SUBACK without return codes or with an unknown one")
        packet = SubAck(ident, codes)
    elif kind == 11:
        _flags("UNSUBACK", flags, 0)
        packet = UnsubAck(body.packet_id())
    elif kind in (12, 13, 14):
        _flags("PINGREQ/PINGRESP/DISCONNECT", flags, 0)
        packet = PingReq() if kind == 12 else PingResp() if kind == 13 else Disconnect()
    elif kind in (5, 6, 7):
        raise Malformed("QoS 2 flows (PUBREC/PUBREL/PUBCOMP) are not supported")
    else:
        raise Malformed(f"packet type {kind} does not exist in MQTT 3.1.1")
    body.end()
    return packet


def _connect(body: _Reader) -> Connect:
    name = body.string()
    level = body.byte()
    if name != "MQTT":
        raise Malformed(f"protocol name {name!r} is not MQTT")
    if level != PROTOCOL_LEVEL:
        raise ConnectRefused(ReturnCode.UNACCEPTABLE_PROTOCOL_VERSION, f"protocol level {level}")
    flags = body.byte()
    if flags & 0x01:
        raise Malformed("CONNECT reserved flag is set")  # [MQTT-3.1.2-3]
    has_will, will_qos, will_retain = bool(flags & 0x04), (flags >> 3) & 0x03, bool(flags & 0x20)
    if not has_will and (will_qos or will_retain):
        raise Malformed("will QoS or retain set without a will")  # [MQTT-3.1.2-11], -13, -15
    if will_qos == 3:
        raise Malformed("will QoS 3")  # [MQTT-3.1.2-14]
    has_user, has_password = bool(flags & 0x80), bool(flags & 0x40)
    if has_password and not has_user:
        raise Malformed("password without a user name")  # [MQTT-3.1.2-22]
    clean = bool(flags & 0x02)
    keep_alive = body.u16()
    client_id = body.string()
    if not client_id and not clean:
        # [MQTT-3.1.3-8]: a zero-byte client id needs a clean session.
        raise ConnectRefused(ReturnCode.IDENTIFIER_REJECTED, "empty client id needs clean session")
    if len(client_id) > MAX_CLIENT_ID_CHARS:
        raise ConnectRefused(ReturnCode.IDENTIFIER_REJECTED, "client id too long")
    will = None
    if has_will:
        topic = _topic(body.string())
        will = Will(topic, body.binary(), will_qos, will_retain)
    username = body.string() if has_user else None
    password = body.binary() if has_password else None
    body.end()
    return Connect(client_id, clean, keep_alive, username, password, will)


def _publish(flags: int, body: _Reader) -> Publish:
    dup, qos, retain = bool(flags & 0x08), (flags >> 1) & 0x03, bool(flags & 0x01)
    if qos == 3:
        raise Malformed("PUBLISH with QoS 3")  # [MQTT-3.3.1-4]
    if dup and qos == 0:
        raise Malformed("PUBLISH with DUP at QoS 0")  # [MQTT-3.3.1-2]
    topic = _topic(body.string())
    ident = body.packet_id() if qos else None
    return Publish(topic, body.take(body.left), qos, ident, retain, dup)


def _subscribe(body: _Reader) -> Subscribe:
    ident = body.packet_id()
    filters: list[tuple[str, int]] = []
    while body.left:
        pattern = _filter(body.string())
        qos = body.byte()
        if qos > 2:
            raise Malformed("SUBSCRIBE requested QoS with reserved bits or QoS 3")  # [MQTT-3.8.3-4]
        filters.append((pattern, qos))
    if not filters:
        raise Malformed("SUBSCRIBE without a topic filter")  # [MQTT-3.8.3-3]
    return Subscribe(ident, tuple(filters))


def _topic(topic: str) -> str:
    if not topic or "+" in topic or "#" in topic:
        raise Malformed("topic names are non-empty and hold no wildcards")  # [MQTT-3.3.2-2]
    return topic


def _filter(pattern: str) -> str:
    if not pattern:
        raise Malformed("empty topic filter")  # [MQTT-4.7.3-1]
    return pattern
