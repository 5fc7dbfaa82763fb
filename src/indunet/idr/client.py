"""A Handle protocol client for one server: resolution over UDP (falling back to TCP for large or
lost answers) and administration over TCP with secret-key challenge-response.

Used by ``indunet resolve`` and the tests; the recursive node will use the same calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import time
from typing import Any

from indunet.idr.model import HS_PUBKEY, HS_SECKEY, HandleValue
from indunet.idr.pubkey import PrivateKey, sign
from indunet.idr.service import challenge_answer
from indunet.idr.wire import (
    AuthChallenge,
    Body,
    ChallengeAnswerRequest,
    ErrorResponse,
    Message,
    Reassembler,
    ResolutionRequest,
    ResolutionResponse,
    StreamDecoder,
    WireError,
    decode,
    digest_request,
    encode,
    fragment,
)

_ids = itertools.count(secrets.randbelow(1 << 30) + 1)


class ClientError(Exception):
    """The server answered with an error (``code``) or did not answer."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def _next_id() -> int:
    return next(_ids) & 0x7FFFFFFF


async def request_udp(host: str, port: int, message: Message, timeout_s: float = 2.0) -> Message:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Message] = loop.create_future()
    reassembler = Reassembler()

    class _Proto(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            try:
                whole = reassembler.add(data, source=addr, now=time.monotonic())
                if whole is not None and not done.done():
                    response = decode(whole)
                    if response.request_id == message.request_id:
                        done.set_result(response)
            except WireError as exc:
                if not done.done():
                    done.set_exception(ClientError(f"malformed answer: {exc}"))

    transport, _ = await loop.create_datagram_endpoint(_Proto, remote_addr=(host, port))
    try:
        for packet in fragment(encode(message)):
            transport.sendto(packet)
        async with asyncio.timeout(timeout_s):
            return await done
    except TimeoutError:
        raise ClientError(f"no answer from {host}:{port} over UDP within {timeout_s:g} s") from None
    finally:
        transport.close()


class TcpConnection:
    """One TCP connection to a server, for a sequence of requests (answers come in order)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout_s: float) -> None:
        self.reader, self.writer, self.timeout_s = reader, writer, timeout_s
        self.decoder = StreamDecoder()
        self.frames: list[bytes] = []

    @classmethod
    async def open(cls, host: str, port: int, timeout_s: float = 5.0) -> TcpConnection:
        try:
            async with asyncio.timeout(timeout_s):
                reader, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError) as exc:
            raise ClientError(f"cannot connect to {host}:{port}: {exc or 'timed out'}") from None
        return cls(reader, writer, timeout_s)

    async def request(self, message: Message) -> tuple[Message, bytes]:
        """Send ``message``; its answer and the octets it was sent as."""
        raw = encode(message)
        self.writer.write(raw)
        try:
            async with asyncio.timeout(self.timeout_s):
                while not self.frames:
                    data = await self.reader.read(65536)
                    if not data:
                        raise ClientError("the server closed the connection")
                    self.frames.extend(self.decoder.feed(data))
        except TimeoutError:
            raise ClientError(f"no answer within {self.timeout_s:g} s") from None
        except WireError as exc:
            raise ClientError(f"malformed answer: {exc}") from None
        try:
            return decode(self.frames.pop(0)), raw
        except WireError as exc:
            raise ClientError(f"malformed answer: {exc}") from None

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


def _check(response: Message) -> Body:
    body = response.body
    if isinstance(body, ErrorResponse):
        raise ClientError(body.message or f"response code {body.response_code}", body.response_code)
    return body


async def resolve(
    host: str,
    port: int,
    handle: str,
    *,
    indexes: tuple[int, ...] = (),
    types: tuple[str, ...] = (),
    tcp: bool = False,
    timeout_s: float = 2.0,
) -> tuple[HandleValue, ...]:
    """The values of ``handle`` at the server (UDP unless ``tcp``); ClientError with the code on failure."""
    message = Message(ResolutionRequest(handle, indexes, types), request_id=_next_id())
    if tcp:
        connection = await TcpConnection.open(host, port, timeout_s)
        try:
            response, _ = await connection.request(message)
        finally:
            await connection.close()
    else:
        response = await request_udp(host, port, message, timeout_s)
    body = _check(response)
    if not isinstance(body, ResolutionResponse):
        raise ClientError(f"unexpected answer {type(body).__name__}", body.response_code)
    return body.values


async def administer(
    host: str,
    port: int,
    body: Body,
    admin: tuple[str, int],
    secret: bytes | None = None,
    timeout_s: float = 5.0,
    *,
    private_key: PrivateKey | None = None,
) -> Body:
    """Carry out an administrative request as ``admin`` (handle, index), proving it with the secret
    key at that index or, with ``private_key``, by signing with the key pair whose public half is there."""
    if (secret is None) == (private_key is None):
        raise ValueError("give either secret or private_key")
    connection = await TcpConnection.open(host, port, timeout_s)
    try:
        message = Message(body, request_id=_next_id())
        response, raw = await connection.request(message)
        challenge = response.body
        if isinstance(challenge, AuthChallenge):
            digest = digest_request(raw).digest
            if private_key is not None:
                kind, answer = HS_PUBKEY, sign(private_key, challenge.nonce + digest)
            else:
                assert secret is not None
                kind, answer = HS_SECKEY, challenge_answer(secret, challenge.nonce, digest)
            follow_up = Message(
                ChallengeAnswerRequest(kind, admin[0], admin[1], answer), request_id=_next_id()
            )
            response, _ = await connection.request(follow_up)
        return _check(response)
    finally:
        await connection.close()
