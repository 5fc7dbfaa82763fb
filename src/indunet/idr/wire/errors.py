"""The one exception the codec raises for input it cannot accept."""

from __future__ import annotations

from indunet.idr.wire.codes import ResponseCode


class WireError(Exception):
    """Malformed or unacceptable protocol input.

    ``code`` is the response code to answer the peer with (RFC 3652 uses RC_PROTOCOL_ERROR for
    messages that cannot be parsed); ``str()`` says what was wrong, for logs.
    """

    def __init__(self, message: str, code: ResponseCode = ResponseCode.RC_PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.code = code
