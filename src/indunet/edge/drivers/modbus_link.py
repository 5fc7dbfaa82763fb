"""One Modbus TCP connection: requests out, responses matched by transaction id, a timeout each.

A thin asyncio Protocol over ``modbus_frames``: it moves bytes and futures, nothing else. One request
is outstanding at a time (many devices and serial gateways accept no more), so a late response to a
request that timed out is recognised by its transaction id and dropped. A malformed frame, a closed
socket or a timeout fails the request with ``LinkError``; the driver then drops the connection,
because after a lost or garbled reply the stream can no longer be trusted.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import cast

from indunet.edge.drivers.modbus_frames import FrameError, FrameReader, Response


class LinkError(Exception):
    """The connection failed; ``str()`` says how."""


class ModbusLink(asyncio.Protocol):
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._transport: asyncio.Transport | None = None
        self._reader = FrameReader()
        self._pending: asyncio.Future[Response] | None = None
        self._pending_id = -1
        self._timer: asyncio.TimerHandle | None = None
        self._next_id = 0
        self.closed_reason: str | None = None

    @classmethod
    async def open(cls, host: str, port: int, timeout_s: float) -> ModbusLink:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout_s):
                _, protocol = await loop.create_connection(lambda: cls(timeout_s), host, port)
        except (OSError, TimeoutError) as exc:
            raise LinkError(f"cannot connect to {host}:{port}: {exc or 'timed out'}") from None
        return protocol

    @property
    def open_(self) -> bool:
        return self._transport is not None and self.closed_reason is None

    def next_id(self) -> int:
        self._next_id = (self._next_id + 1) & 0xFFFF
        return self._next_id

    async def request(self, transaction: int, frame: bytes) -> Response:
        """Send ``frame`` (built with ``transaction``) and wait for its response."""
        if self._transport is None or self.closed_reason is not None:
            raise LinkError(self.closed_reason or "not connected")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Response] = loop.create_future()
        self._pending, self._pending_id = future, transaction
        self._timer = loop.call_later(self.timeout_s, self._timed_out, future)
        self._transport.write(frame)
        try:
            return await future
        finally:
            self._pending = None
            self._timer.cancel()

    def close(self) -> None:
        self._fail("closed")
        if self._transport is not None:
            with contextlib.suppress(Exception):
                self._transport.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but they are stream transports.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            responses = self._reader.feed(data)
        except FrameError as exc:
            self._fail(f"malformed frame: {exc}")
            if self._transport is not None:
                self._transport.abort()
            return
        for response in responses:
            future = self._pending
            # A response to a request that already timed out has an old transaction id: dropped.
            if future is not None and not future.done() and response.transaction == self._pending_id:
                future.set_result(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc}" if exc else "connection closed by the device")

    def _timed_out(self, future: asyncio.Future[Response]) -> None:
        if not future.done():
            future.set_exception(LinkError(f"no reply within {self.timeout_s:g} s"))
        # The reply may still come, or never: either way this stream is no longer trusted.
        self._fail(f"no reply within {self.timeout_s:g} s")
        if self._transport is not None:
            self._transport.abort()

    def _fail(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
        future = self._pending
        if future is not None and not future.done():
            future.set_exception(LinkError(reason))
