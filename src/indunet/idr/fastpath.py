"""Encoded answers to encoded questions: resolution without decoding or encoding anything.

Most resolution traffic repeats: the same identifiers, asked the same way. Once an ordinary request
has been decoded, answered and encoded, its body octets (identifier, index and type filters) map to
the encoded answer after the envelope. The next request with the same body octets is answered by
checking 48 octets of envelope and header, one dictionary lookup and one envelope packed with the
asker's session and request ids.

A plain question without filters asked for the first time is answered here too when the service
answers it with values as they are stored (:class:`EncodedResolution`, a record that is all public):
the header and envelope are packed around them, so a question that reads the store costs one read
and a few packs.

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
from indunet.idr.wire import EncodedResolution, Message, ResolutionRequest
from indunet.idr.wire.codes import PROTOCOL_MAJOR, PROTOCOL_MINOR, OpCode, OpFlag, ResponseCode
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
_SUCCESS: Final = int(ResponseCode.RC_SUCCESS)
_ANSWER_HEADER = struct.Struct(">IIIHBBII")
_U32 = struct.Struct(">I")
_NO_FILTERS: Final = bytes(8)
"""No indexes, no types: the two empty lists that end a plain question's body."""


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
            return self._first(data, body)
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

    def _first(self, data: bytes, body: bytes) -> bytes | None:
        """The answer to a plain question without filters not answered before, when the service
        answers it with values as stored: packed here around them, with nothing decoded."""
        size = len(body)
        if size < 12 or body[-8:] != _NO_FILTERS:
            return None
        (length,) = _U32.unpack_from(body)
        if length + 12 != size:
            return None
        try:
            handle = body[4 : 4 + length].decode()
        except UnicodeDecodeError:
            return None
        started = time.perf_counter()
        service = self._service
        answer = service.resolve(ResolutionRequest(handle))
        if not isinstance(answer, EncodedResolution):
            return None  # an error, a referral or a record with values not for everyone
        found = body[: 4 + length] + answer.values_octets
        payload = (
            _ANSWER_HEADER.pack(_RESOLUTION, _SUCCESS, 0, service.site.serial, 0, 0, 0, len(found))
            + found
            + _NO_CREDENTIAL
        )
        if len(payload) + 20 > UDP_MAX_PACKET:
            return None  # to be fragmented: the ordinary way (which finds the answer cached)
        self._keep(body, normalise(handle), ((), ()), answer, payload)  # valid: it was answered
        service.stats.record(handle.partition("/")[0].lower()[:64], time.perf_counter() - started)
        session, request_id = struct.unpack_from(">II", data, 4)
        return (
            _ENVELOPE.pack(PROTOCOL_MAJOR, PROTOCOL_MINOR, 0, session, request_id, 0, len(payload)) + payload
        )

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
        self._keep(octets, name, key, answer, encoded[20:])

    def _keep(
        self,
        octets: bytes,
        name: str,
        key: tuple[tuple[int, ...], tuple[str, ...]],
        answer: object,
        payload: bytes,
    ) -> None:
        if self._service.cached_answer(name, key) is not answer:
            return  # not the service's cached answer (caching off, or a write raced it)
        if len(self._raw) >= self._max:
            if not self._raw:
                return  # no room at all (caching off)
            self._raw.pop(next(iter(self._raw)))
        self._raw[octets] = (name, key, answer, payload)
