"""Encoded answers to encoded questions: resolution without decoding or encoding anything.

Most resolution traffic repeats: the same identifiers, asked the same way. Once an ordinary request
has been decoded, answered and encoded, its body octets (identifier, index and type filters) map to
the encoded answer after the envelope. The next request with the same body octets is answered by
checking 48 octets of envelope and header, one dictionary lookup and one envelope packed with the
asker's session and request ids.

Only plain questions take this path: protocol 2, one whole datagram or frame, no envelope flags, a
resolution with no credential and none of the flags that make an answer depend on the request octets
(RD: digest of the request; CT: signed; ENC: encrypted). Answers longer than one UDP packet go the
ordinary way (they are fragmented).

An entry is only as good as the service's own answer cache: it remembers which decoded answer it
was made from, and is used only while the service still holds that very answer. A write drops the
service's answer, so it drops the encoded one with it, from any thread, with no lock.
"""

from __future__ import annotations

import struct
import time
from typing import TYPE_CHECKING, Final

from indunet.idr.model import InvalidHandle, normalise
from indunet.idr.wire import Message, ResolutionRequest
from indunet.idr.wire.codes import PROTOCOL_MAJOR, PROTOCOL_MINOR, OpCode, OpFlag
from indunet.idr.wire.fragments import UDP_MAX_PACKET

if TYPE_CHECKING:
    from indunet.idr.service import Service

_HEAD = struct.Struct(">BBHIIIIIIIHBBII")
"""Envelope (20 octets) and header (24 octets) together."""
_ENVELOPE = struct.Struct(">BBHIIII")
_BODY_AT: Final = 44
_NO_CREDENTIAL: Final = bytes(4)
_UNSAFE_FLAGS: Final = int(OpFlag.RD | OpFlag.CT | OpFlag.ENC)
_RESOLUTION: Final = int(OpCode.OC_RESOLUTION)


class RawAnswers:
    def __init__(self, service: Service, max_entries: int) -> None:
        self._service = service
        self._max = max_entries
        self._raw: dict[bytes, tuple[str, tuple[tuple[int, ...], tuple[str, ...]], object, bytes]] = {}
        self.hits = 0

    @staticmethod
    def _body_of(data: bytes) -> bytes | None:
        """The body octets of a plain resolution request, or None when it is not one."""
        if len(data) < _BODY_AT + 4:
            return None
        major, _minor, eflags, _s, _r, sequence, length, opcode, code, flags, _ser, _rec, _z, _exp, size = (
            _HEAD.unpack_from(data)
        )
        end = _BODY_AT + size
        if (
            opcode != _RESOLUTION
            or code
            or eflags
            or sequence
            or major != PROTOCOL_MAJOR
            or flags & _UNSAFE_FLAGS
            or length != len(data) - 20
            or len(data) != end + 4
            or data[end:] != _NO_CREDENTIAL
        ):
            return None
        return data[_BODY_AT:end]

    def lookup(self, data: bytes) -> bytes | None:
        """The whole answer to ``data`` when it is a plain resolution answered before."""
        body = self._body_of(data)
        if body is None:
            return None
        entry = self._raw.get(body)
        if entry is None:
            return None
        started = time.perf_counter()
        name, key, answer, payload = entry
        if self._service.cached_answer(name, key) is not answer:
            self._raw.pop(body, None)  # the record changed since: ask the service again
            return None
        session, request_id = struct.unpack_from(">II", data, 4)
        out = (
            _ENVELOPE.pack(PROTOCOL_MAJOR, PROTOCOL_MINOR, 0, session, request_id, 0, len(payload)) + payload
        )
        self._service.stats.record(name.partition("/")[0], time.perf_counter() - started)
        self.hits += 1
        return out

    def learn(self, data: bytes, request: Message, encoded: bytes) -> None:
        """Remember ``encoded``, the answer to ``data``, when the next such request may reuse it."""
        body = request.body
        if not isinstance(body, ResolutionRequest) or len(encoded) > UDP_MAX_PACKET:
            return
        octets = self._body_of(data)
        if octets is None:
            return
        try:
            name = normalise(body.handle)
        except InvalidHandle:
            return
        key = (body.indexes, body.types)
        answer = self._service.cached_answer(name, key)
        if answer is None:
            return  # not cached (raced a write): nothing to tie the encoded answer to
        if len(self._raw) >= self._max:
            if not self._raw:
                return  # no room at all (caching off)
            self._raw.pop(next(iter(self._raw)))
        self._raw[octets] = (name, key, answer, encoded[20:])
