"""TCP framing: splitting a byte stream into whole messages (RFC 3652, 2.3.2).

Theory of operation: on TCP each message is an envelope followed by exactly MessageLength octets.
:class:`StreamDecoder` buffers what :meth:`StreamDecoder.feed` is given and hands back every
complete message (envelope included, ready for :func:`indunet.idr.wire.message.decode`); when the
buffer ends inside a message it returns nothing more, like h11's NEED_DATA. A MessageLength above
the limit raises WireError as soon as the envelope arrives, before anything is buffered for it;
the stream cannot be resynchronised after that, so the decoder stays failed and the caller closes
the connection.
"""

from __future__ import annotations

from typing import Final

from indunet.idr.wire.envelope import ENVELOPE_SIZE, decode_envelope
from indunet.idr.wire.errors import WireError
from indunet.idr.wire.message import DEFAULT_MAX_MESSAGE


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()


class StreamDecoder:
    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self.max_message = max_message
        self._buffer = bytearray()
        self._error: WireError | None = None

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add received octets; every message now complete, in order (often none)."""
        if self._error is not None:
            raise self._error
        self._buffer += data
        out: list[bytes] = []
        while True:
            frame = self.next_frame()
            if frame is NEED_DATA:
                return out
            assert isinstance(frame, bytes)
            out.append(frame)

    def next_frame(self) -> bytes | _NeedData:
        """The next complete message in the buffer, or NEED_DATA."""
        if self._error is not None:
            raise self._error
        if len(self._buffer) < ENVELOPE_SIZE:
            return NEED_DATA
        env = decode_envelope(bytes(self._buffer[:ENVELOPE_SIZE]))
        if env.message_length > self.max_message:
            self._error = WireError(
                f"message of {env.message_length} octets exceeds the limit of {self.max_message}"
            )
            self._buffer.clear()
            raise self._error
        end = ENVELOPE_SIZE + env.message_length
        if len(self._buffer) < end:
            return NEED_DATA
        frame = bytes(self._buffer[:end])
        del self._buffer[:end]
        return frame

    @property
    def at_boundary(self) -> bool:
        """True when no partial message is buffered (a clean place for the peer to close)."""
        return not self._buffer
