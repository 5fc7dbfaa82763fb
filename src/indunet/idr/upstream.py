"""Questions to other nodes over UDP, many in flight on one socket.

A recursive node asks many servers at once; one socket per question would cost a system call pair
and a file descriptor each. Answers are matched to questions by request id and by the address they
came from: request ids are random (31 bits), so an off-path sender cannot guess one to poison the
cache, and an answer from an address that was not asked is dropped.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import time
from typing import Any

from indunet.idr.sites import Endpoint
from indunet.idr.wire import Body, Message, Reassembler, WireError, decode, encode, fragment


class Unreachable(Exception):
    """No answer came from the endpoint in time."""


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, owner: UdpUpstream) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.owner.received(data, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP unreachable for one endpoint: that question times out, the others go on


class UdpUpstream:
    """Send requests to endpoints and await their answers; :meth:`close` when done."""

    def __init__(self) -> None:
        # Per address family, with the loop it belongs to: a platform's window on the federation may be
        # used from more than one loop over its life (tests, a restarted server).
        self._transports: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.DatagramTransport]] = {}
        self._pending: dict[int, tuple[tuple[str, int], asyncio.Future[Message]]] = {}
        self._reassembler = Reassembler()

    async def _transport(self, family: int) -> asyncio.DatagramTransport:
        loop = asyncio.get_running_loop()
        known = self._transports.get(family)
        if known is not None and known[0] is loop and not known[1].is_closing():
            return known[1]
        if known is not None:
            self._close(*known)
        # Answers come back to the address the question left from, whichever interface that is.
        local = ("0.0.0.0", 0) if family == 4 else ("::", 0)  # noqa: S104
        made, _ = await loop.create_datagram_endpoint(lambda: _Receiver(self), local_addr=local)
        self._transports[family] = (loop, made)
        return made

    @staticmethod
    def _close(loop: asyncio.AbstractEventLoop, transport: asyncio.DatagramTransport) -> None:
        if not loop.is_closed():
            transport.close()
        # else: its loop is gone, and with it any way to close it cleanly; the socket is freed with
        # the transport object.

    async def ask(self, endpoint: Endpoint, body: Body, timeout_s: float) -> Message:
        """The answer of ``endpoint`` to ``body``; Unreachable when none comes within ``timeout_s``."""
        family = ipaddress.ip_address(endpoint.host).version
        transport = await self._transport(family)
        request_id = secrets.randbits(31) or 1
        while request_id in self._pending:
            request_id = secrets.randbits(31) or 1
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        address = (endpoint.host, endpoint.port)
        self._pending[request_id] = (address, future)
        try:
            for packet in fragment(encode(Message(body, request_id=request_id))):
                transport.sendto(packet, address)
            async with asyncio.timeout(timeout_s):
                return await future
        except TimeoutError:
            raise Unreachable(f"no answer from {endpoint} within {timeout_s:g} s") from None
        finally:
            self._pending.pop(request_id, None)

    def received(self, data: bytes, addr: Any) -> None:
        try:
            whole = self._reassembler.add(data, source=addr, now=time.monotonic())
            if whole is None:
                return
            message = decode(whole)
        except WireError:
            return  # garbage is not an answer; the question times out and fails over
        waiting = self._pending.get(message.request_id)
        if waiting is None or message.is_request:
            return
        expected, future = waiting
        if (str(addr[0]), int(addr[1])) != expected or future.done():
            return
        future.set_result(message)

    def close(self) -> None:
        for loop, transport in self._transports.values():
            self._close(loop, transport)
        self._transports.clear()
