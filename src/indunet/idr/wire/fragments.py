"""UDP fragmentation and reassembly (RFC 3652, 2.2.1 and 2.3.1).

Theory of operation: a UDP datagram carries at most 512 octets. A longer message is sent as several
datagrams, each an envelope followed by the next slice of the octets after the message's own
envelope. Every fragment's envelope repeats the RequestId, sets the TC (truncated) flag, numbers
the fragment in SequenceNumber (from 0) and keeps MessageLength as the length of the *whole*
message, so the receiver knows when it has everything.

:class:`Reassembler` collects fragments per (source, RequestId). It is bounded three ways: a
message may not exceed ``max_message`` octets, at most ``max_pending`` messages are incomplete at
once (the oldest is dropped to make room), and all incomplete messages together hold at most
``max_buffered`` octets. Time is the caller's: every call takes ``now`` (seconds, any monotonic
clock) and incomplete messages older than ``timeout`` are dropped.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Final

from indunet.idr.wire.codes import EnvelopeFlag
from indunet.idr.wire.envelope import ENVELOPE_SIZE, Envelope, decode_envelope, encode_envelope
from indunet.idr.wire.errors import WireError

UDP_MAX_PACKET: Final = 512
"""Largest UDP datagram, envelope included, that RFC 3652 lets a peer send."""
DEFAULT_MAX_UDP_MESSAGE: Final = 256 * 1024


def fragment(message: bytes, max_packet: int = UDP_MAX_PACKET) -> list[bytes]:
    """The datagrams that carry an encoded message (envelope included); one when it fits."""
    if max_packet <= ENVELOPE_SIZE:
        raise ValueError(f"a packet must hold more than the {ENVELOPE_SIZE}-octet envelope")
    if len(message) <= max_packet:
        return [message]
    env = decode_envelope(message)
    payload = memoryview(message)[ENVELOPE_SIZE:]
    if env.message_length != len(payload):
        raise ValueError("message length in the envelope does not match the message")
    chunk = max_packet - ENVELOPE_SIZE
    packets = []
    for seq, start in enumerate(range(0, len(payload), chunk)):
        part = Envelope(
            request_id=env.request_id,
            session_id=env.session_id,
            sequence=seq,
            message_length=env.message_length,
            flags=env.flags | EnvelopeFlag.TC,
            major=env.major,
            minor=env.minor,
        )
        packets.append(encode_envelope(part) + payload[start : start + chunk])
    return packets


@dataclass(slots=True)
class _Pending:
    envelope: Envelope
    started: float
    parts: dict[int, bytes] = field(default_factory=dict)
    size: int = 0


class Reassembler:
    """Turns UDP datagrams into whole messages; see the module docstring for the limits."""

    def __init__(
        self,
        *,
        max_message: int = DEFAULT_MAX_UDP_MESSAGE,
        max_pending: int = 256,
        max_buffered: int = 4 * 1024 * 1024,
        timeout: float = 30.0,
    ) -> None:
        self.max_message = max_message
        self.max_pending = max_pending
        self.max_buffered = max_buffered
        self.timeout = timeout
        self._pending: dict[tuple[Hashable, int], _Pending] = {}
        self._buffered = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def buffered(self) -> int:
        return self._buffered

    def add(self, packet: bytes, *, source: Hashable = None, now: float) -> bytes | None:
        """The whole message once ``packet`` completes one, else None.

        ``source`` tells senders apart (their address), as RequestIds are only unique per sender.
        A datagram that is not a fragment is returned as it is. WireError for a datagram that cannot
        belong to a message; the caller drops it (RFC 3652 gives no way to answer a fragment).
        """
        self.expire(now)
        env = decode_envelope(packet)
        data = packet[ENVELOPE_SIZE:]
        if env.message_length > self.max_message:
            raise WireError(f"message of {env.message_length} octets exceeds the limit of {self.max_message}")
        if EnvelopeFlag.TC not in env.flags and len(data) >= env.message_length:
            return packet
        if not data:
            raise WireError("empty fragment")
        key = (source, env.request_id)
        entry = self._pending.get(key)
        if entry is None:
            entry = self._start(key, env, now)
        elif (entry.envelope.message_length, entry.envelope.session_id) != (
            env.message_length,
            env.session_id,
        ):
            self._drop(key)
            raise WireError("fragments of one request disagree on the message")
        old = entry.parts.get(env.sequence)
        if old is not None:
            if old != data:
                self._drop(key)
                raise WireError("a repeated fragment differs from the first copy")
            return None
        if entry.size + len(data) > env.message_length:
            self._drop(key)
            raise WireError("fragments add up to more than the message length")
        self._make_room(len(data), keep=key)
        entry.parts[env.sequence] = data
        entry.size += len(data)
        self._buffered += len(data)
        if entry.size < env.message_length:
            return None
        self._drop(key)
        try:
            payload = b"".join(entry.parts[i] for i in range(len(entry.parts)))
        except KeyError:
            raise WireError("fragment sequence numbers are not contiguous from 0") from None
        whole = Envelope(
            request_id=env.request_id,
            session_id=env.session_id,
            sequence=0,
            message_length=env.message_length,
            flags=env.flags & ~EnvelopeFlag.TC,
            major=env.major,
            minor=env.minor,
        )
        return encode_envelope(whole) + payload

    def expire(self, now: float) -> int:
        """Drop incomplete messages older than the timeout; how many were dropped."""
        stale = [k for k, e in self._pending.items() if now - e.started > self.timeout]
        for k in stale:
            self._drop(k)
        return len(stale)

    def _start(self, key: tuple[Hashable, int], env: Envelope, now: float) -> _Pending:
        while len(self._pending) >= self.max_pending:
            self._drop(next(iter(self._pending)))
        entry = _Pending(env, now)
        self._pending[key] = entry
        return entry

    def _make_room(self, size: int, keep: tuple[Hashable, int]) -> None:
        if size > self.max_buffered:
            self._drop(keep)
            raise WireError("fragment larger than the reassembly buffer")
        while self._buffered + size > self.max_buffered:
            oldest = next(k for k in self._pending if k != keep) if len(self._pending) > 1 else keep
            self._drop(oldest)
            if oldest == keep:
                raise WireError("message larger than the reassembly buffer")

    def _drop(self, key: tuple[Hashable, int]) -> None:
        entry = self._pending.pop(key, None)
        if entry is not None:
            self._buffered -= entry.size
