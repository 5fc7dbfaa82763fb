"""A node's Handle protocol servers: UDP and TCP on one port (2641 by default), over ``idr.wire``.

UDP: each datagram goes through a ``Reassembler`` keyed by the sender (messages above 512 octets
arrive in fragments); a complete request is answered and the answer fragmented back. TCP: a
``StreamDecoder`` per connection; requests on one connection are answered in order. A malformed
message is answered with RC_PROTOCOL_ERROR when its envelope can be read (so the request id is
known), else dropped (UDP) or the connection closed (TCP): a client never waits for nothing it could
have been told, and the server never crashes on input. Store access runs on the event loop: SQLite
reads of one record take tens of microseconds, and a thread hop would cost more than the query.

The handler behind the listeners is a :class:`Handler`: an authoritative node's ``Service`` answers
at once; a recursive node answers from its cache at once or later, after asking other nodes (an
awaitable). Over TCP, answers keep the order of their requests either way. A client sending faster
than its rate limit is answered RC_SERVER_BUSY without the handler being asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast

from indunet.idr.fastpath import RawAnswers
from indunet.idr.limits import RateLimiter
from indunet.idr.wire import (
    ErrorResponse,
    Message,
    Reassembler,
    ResponseCode,
    StreamDecoder,
    WireError,
    decode,
    decode_envelope,
    encode,
    fragment,
)

log = logging.getLogger(__name__)

TICK_S = 0.25
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024
MAX_TCP_CONNECTIONS = 10_000
TCP_IDLE_S = 60.0


class Handler(Protocol):
    def answer(self, request: Message, raw: bytes, peer: Any) -> Message | Awaitable[Message]: ...

    def tick(self, final: bool = False) -> None:
        """Housekeeping, every :data:`TICK_S` seconds and once more at stop (``final``)."""


def _busy(request: Message) -> Message:
    body = ErrorResponse(
        request.body.opcode, int(ResponseCode.RC_SERVER_BUSY), "rate limit exceeded; slow down"
    )
    return Message(body, request_id=request.request_id, session_id=request.session_id)


def _client(peer: Any) -> Any:
    return peer[0] if isinstance(peer, tuple) and peer else peer


def refusal_for(data: bytes, exc: WireError) -> bytes | None:
    """The protocol error answering undecodable ``data``, when its envelope names a request id (also
    used by the HTTP interface)."""
    try:
        envelope = decode_envelope(data)
    except WireError:
        return None
    message = Message(ErrorResponse(0, int(exc.code), str(exc)[:200]), request_id=envelope.request_id)
    return encode(message)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: IdrServer) -> None:
        self.server = server
        self.reassembler = Reassembler()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        fast = self.server.fast
        allowed = self.server.limiter.allow(_client(addr))
        if fast is not None and allowed:
            answer = fast.lookup(data)
            if answer is not None:
                assert self.transport is not None
                self.transport.sendto(answer, addr)
                return
        try:
            whole = self.reassembler.add(data, source=addr, now=time.monotonic())
        except WireError as exc:
            self._send(refusal_for(data, exc), addr)
            return
        if whole is None:
            return
        try:
            request = decode(whole)
        except WireError as exc:
            self._send(refusal_for(whole, exc), addr)
            return
        if not request.is_request:
            return  # a response sent to a server: nothing to answer
        response = self.server.answer(request, whole, addr, allowed=allowed)
        if isinstance(response, Message):
            self._send(self.server.encoded(whole, request, response), addr)
        else:
            self.server.later(response, lambda message: self._send(encode(message), addr))

    def _send(self, message: bytes | None, addr: Any) -> None:
        if message is None or self.transport is None:
            return
        for packet in fragment(message):
            self.transport.sendto(packet, addr)


class _Tcp(asyncio.Protocol):
    def __init__(self, server: IdrServer) -> None:
        self.server = server
        self.decoder = StreamDecoder()
        self.transport: asyncio.Transport | None = None
        self.peer: Any = None
        self._idle: asyncio.TimerHandle | None = None
        self._waiting: list[bytes | asyncio.Future[Message]] = []
        """Answers not yet written, in request order; futures may still be coming."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.peer = transport.get_extra_info("peername")
        if len(self.server.connections) >= MAX_TCP_CONNECTIONS:
            self.transport.abort()
            return
        self.server.connections.add(self)
        self._touch()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        if self._idle is not None:
            self._idle.cancel()

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self._touch()
        try:
            frames = self.decoder.feed(data)
        except WireError:
            self.transport.close()  # the stream is out of step: nothing after this can be framed
            return
        fast = self.server.fast
        for frame in frames:
            allowed = self.server.limiter.allow(_client(self.peer))
            known = fast.lookup(frame) if fast is not None and allowed else None
            if known is not None:
                self._waiting.append(known)
                continue
            try:
                request = decode(frame)
            except WireError as exc:
                refusal = refusal_for(frame, exc)
                if refusal is not None:
                    self._waiting.append(refusal)
                continue
            if request.is_request:
                answer = self.server.answer(request, frame, self.peer, allowed=allowed)
                if isinstance(answer, Message):
                    self._waiting.append(self.server.encoded(frame, request, answer))
                else:
                    self._waiting.append(self.server.later(answer, lambda _message: self._flush()))
        self._flush()

    def _flush(self) -> None:
        while self._waiting and self.transport is not None and not self.transport.is_closing():
            head = self._waiting[0]
            if isinstance(head, asyncio.Future):
                if not head.done():
                    return
                if head.cancelled() or head.exception() is not None:
                    self.transport.close()  # the answer is lost: the client must not wait for it
                    return
                head = encode(head.result())
            self._waiting.pop(0)
            self.transport.write(head)

    def _touch(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        loop = asyncio.get_running_loop()
        self._idle = loop.call_later(TCP_IDLE_S, self._expire)

    def _expire(self) -> None:
        if self.transport is not None:
            self.transport.close()


class IdrServer:
    """UDP and TCP listeners of one node; ``port`` 0 picks a free one (the same for both)."""

    def __init__(
        self,
        service: Handler,
        host: str = "127.0.0.1",
        port: int = 2641,
        *,
        limiter: RateLimiter | None = None,
        reuse_port: bool = False,
    ) -> None:
        self.service = service
        self.reuse_port = reuse_port
        self.host = host
        self.port = port
        self.limiter = limiter or RateLimiter(0)
        self.connections: set[_Tcp] = set()
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Future[Message]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self.fast: RawAnswers | None = getattr(service, "raw_answers", None)

    def encoded(self, raw: bytes, request: Message, answer: Message) -> bytes:
        """``answer`` encoded, and remembered for the fast path when it may be reused."""
        octets = encode(answer)
        if self.fast is not None:
            self.fast.learn(raw, request, octets)
        return octets

    def answer(
        self, request: Message, raw: bytes, peer: Any, *, allowed: bool
    ) -> Message | Awaitable[Message]:
        """The handler's answer, or RC_SERVER_BUSY when the client is over its rate (``allowed``,
        counted by the caller per datagram or frame)."""
        if not allowed:
            return _busy(request)
        return self.service.answer(request, raw, peer)

    def later(self, answer: Awaitable[Message], send: Callable[[Message], None]) -> asyncio.Future[Message]:
        """Call ``send`` with ``answer`` when it is ready (handlers answer errors themselves; one that
        raises is a bug, logged, and its request goes unanswered)."""
        task = asyncio.ensure_future(answer)
        self._tasks.add(task)

        def done(finished: asyncio.Future[Message]) -> None:
            self._tasks.discard(finished)
            if finished.cancelled():
                return
            if finished.exception() is not None:
                log.error("answering failed", exc_info=finished.exception())
            else:
                send(finished.result())

        task.add_done_callback(done)
        return task

    async def start(self) -> IdrServer:
        loop = asyncio.get_running_loop()
        self._tcp = await loop.create_server(
            lambda: _Tcp(self), self.host, self.port, reuse_port=self.reuse_port or None, backlog=1024
        )
        self.port = int(self._tcp.sockets[0].getsockname()[1])
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=(self.host, self.port), reuse_port=self.reuse_port or None
        )
        self._udp = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Bursts of requests queue in the kernel while the loop works; the default buffer (about
            # 200 requests) drops the rest. The kernel caps this at net.core.rmem_max.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        self._ticker = asyncio.create_task(self._tick_every(TICK_S))
        log.info("identifier node listening on %s:%d (UDP and TCP)", self.host, self.port)
        return self

    async def _tick_every(self, period_s: float) -> None:
        while True:
            await asyncio.sleep(period_s)
            self._tick()

    def _tick(self, final: bool = False) -> None:
        try:
            self.service.tick(final)
        except Exception:
            log.exception("identifier node housekeeping failed; retried next period")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
            self._tick(final=True)
        for task in list(self._tasks):
            task.cancel()
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            for connection in list(self.connections):
                if connection.transport is not None:
                    connection.transport.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 5)
