"""The Handle protocol over HTTP: one encoded message in a POST body, its answer in the response.

For clients behind firewalls that let only HTTP out (RFC 3651 lists HTTP among a site's service
interfaces). ``POST /`` with ``Content-Type: application/x-hdl-message`` (the media type Handle.Net
uses, as far as can be told without its source) carries one whole message, exactly the octets of a TCP
frame; the answer is the encoded response with the same type. A body that is not a message is answered
with RC_PROTOCOL_ERROR when its request id can be read, else HTTP 400. Bodies are bounded.

Answered by the node's own handler, so the same cache, statistics and rules apply as over UDP/TCP.
"""

from __future__ import annotations

import inspect
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from indunet.idr.server import refusal_for
from indunet.idr.wire import Message, WireError, decode, encode

MEDIA_TYPE: Final = "application/x-hdl-message"
MAX_MESSAGE_BYTES: Final = 1024 * 1024


def route(handler: Any, path: str = "/") -> Route:
    """The POST route answering Handle messages with ``handler`` (a Service or a Recursor)."""

    async def answer(request: Request) -> Response:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in (MEDIA_TYPE, "application/octet-stream"):
            return Response(f"send one Handle message as {MEDIA_TYPE}\n", 415, media_type="text/plain")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_MESSAGE_BYTES:
                return Response("message too large\n", 413, media_type="text/plain")
        try:
            message = decode(body)
        except WireError as exc:
            refusal = refusal_for(body, exc)  # the same refusal as over TCP
            if refusal is None:
                return Response("not a Handle message\n", 400, media_type="text/plain")
            return Response(refusal, 200, media_type=MEDIA_TYPE)
        if not message.is_request:
            return Response("a response is not a request\n", 400, media_type="text/plain")
        client = request.client.host if request.client else None
        result = handler.answer(message, body, (client, 0))
        if inspect.isawaitable(result):
            result = await result
        assert isinstance(result, Message)
        return Response(encode(result), 200, media_type=MEDIA_TYPE)

    return Route(path, answer, methods=["POST"])
