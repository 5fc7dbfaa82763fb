"""A small asyncio MQTT 5 client over the ``mqtt5`` packet codec, for the gateway's uplink.

Just what the uplink needs: connect with the gateway's token as user name, subscribe, publish at
QoS 1 and await each PUBACK with its reason code (the platform acknowledges after the samples are
committed, so a PUBACK is the receipt the queue waits for), receive the server's publishes, and
keep the connection alive with PINGREQs. In-flight publishes are capped by the smaller of our window
and the server's receive maximum. Any fault ends the connection: pending publishes fail with
``ConnectionLost`` and the caller reconnects; nothing is retried here, because the queue already
holds everything that was not acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import mqtt5

log = logging.getLogger(__name__)

MAX_INCOMING_BYTES = 4 * 1024 * 1024
MAX_PACKET_SIZE = 268_435_455
"""The protocol's own limit, when the server names none in its CONNACK."""

T = TypeVar("T")


class ConnectionLost(Exception):
    """The connection failed or closed; ``str()`` says why."""


class ConnectRefused(ConnectionLost):
    """The server answered CONNECT with an error (a bad token: do not hammer it)."""

    def __init__(self, reason: mqtt5.ConnAckReasonCode, message: str) -> None:
        super().__init__(f"{reason.name}: {message}" if message else reason.name)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PubAck:
    reason: int
    message: str

    @property
    def ok(self) -> bool:
        return self.reason < 0x80


OnMessage = Callable[[str, bytes], None]


class MqttClient:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        token: str,
        client_id: str,
        password: str | None = None,
        on_message: OnMessage,
        tls: ssl.SSLContext | None = None,
        keep_alive_s: int = 30,
        timeout_s: float = 10.0,
        window: int = 16,
    ) -> None:
        self.host, self.port = host, port
        self.token, self.client_id = token, client_id
        self.password = password
        self.on_message = on_message
        self.tls = tls
        self.keep_alive_s = keep_alive_s
        self.timeout_s = timeout_s
        self.window = window
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[PubAck]] = {}
        self._suback: dict[int, asyncio.Future[list[int]]] = {}
        self._next_id = 0
        self._slots = asyncio.Semaphore(window)
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = asyncio.Event()
        self._error = "not connected"
        self._last_rx = 0.0
        self.max_packet_size = MAX_PACKET_SIZE

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._closed.is_set()

    async def connect(self) -> None:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, ssl=self.tls), self.timeout_s
            )
            self._reader, self._writer = reader, writer
            writer.write(
                mqtt5.ConnectPacket(
                    self.client_id,
                    username=self.token or None,
                    password=self.password.encode() if self.password else None,
                    clean_start=True,
                    keep_alive=self.keep_alive_s,
                    receive_max=1000,
                ).write()
            )
            packet = await asyncio.wait_for(self._read_packet(), self.timeout_s)
        except (OSError, TimeoutError, ConnectionLost, asyncio.IncompleteReadError) as exc:
            await self.close()
            raise ConnectionLost(f"connect to {self.host}:{self.port}: {exc or type(exc).__name__}") from None
        if not isinstance(packet, mqtt5.ConnAckPacket):
            await self.close()
            raise ConnectionLost(f"expected CONNACK, got {type(packet).__name__}")
        if packet.reason_code != mqtt5.ConnAckReasonCode.SUCCESS:
            await self.close()
            raise ConnectRefused(packet.reason_code, packet.reason_str or "")
        self.max_packet_size = packet.max_packet_size or MAX_PACKET_SIZE
        limit = min(self.window, packet.receive_max or 65535)
        self._slots = asyncio.Semaphore(limit)
        self._closed.clear()
        loop = asyncio.get_running_loop()
        self._last_rx = loop.time()
        self._tasks = [
            asyncio.create_task(self._receive(), name="mqtt-receive"),
            asyncio.create_task(self._keep_alive(), name="mqtt-ping"),
        ]

    async def subscribe(self, *patterns: str) -> list[int]:
        packet_id = self._packet_id()
        future: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._suback[packet_id] = future
        filters = [mqtt5.TopicFilter(p, max_qos=mqtt5.QoS.AT_LEAST_ONCE) for p in patterns]
        self._send(mqtt5.SubscribePacket(packet_id, filters).write())
        return await self._wait(future)

    async def publish(self, topic: str, payload: bytes) -> PubAck:
        """Publish at QoS 1 and wait for the PUBACK (ConnectionLost if the connection ends first)."""
        await self._slots.acquire()
        try:
            packet_id = self._packet_id()
            future: asyncio.Future[PubAck] = asyncio.get_running_loop().create_future()
            self._pending[packet_id] = future
            self._send(
                mqtt5.PublishPacket(topic, payload, qos=mqtt5.QoS.AT_LEAST_ONCE, packet_id=packet_id).write()
            )
            return await self._wait(future)
        finally:
            self._slots.release()

    async def publish_qos0(self, topic: str, payload: bytes) -> None:
        self._send(mqtt5.PublishPacket(topic, payload, qos=mqtt5.QoS.AT_MOST_ONCE).write())
        if self._writer is not None:
            await self._writer.drain()

    async def wait_closed(self) -> str:
        await self._closed.wait()
        return self._error

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        self._fail("closed")
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.write(mqtt5.DisconnectPacket().write())
                writer.close()
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    def _send(self, data: bytes) -> None:
        if self._writer is None or self._closed.is_set():
            raise ConnectionLost(self._error)
        self._writer.write(data)

    async def _wait(self, future: asyncio.Future[T]) -> T:
        closed: asyncio.Future[object] = asyncio.ensure_future(self._closed.wait())
        waiters: set[asyncio.Future[object]] = {future, closed}  # type: ignore[arg-type]
        try:
            done, _ = await asyncio.wait(waiters, timeout=self.timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
        if future.done():
            return future.result()
        if not done:
            self._fail(f"no answer within {self.timeout_s:g} s")
            await self.close()
        future.cancel()
        raise ConnectionLost(self._error)

    def _packet_id(self) -> int:
        for _ in range(65535):
            self._next_id = self._next_id % 65535 + 1
            if self._next_id not in self._pending and self._next_id not in self._suback:
                return self._next_id
        raise ConnectionLost("no free packet id")

    async def _read_packet(self) -> mqtt5.Packet:
        assert self._reader is not None
        header = await self._reader.readexactly(1)
        length = 0
        multiplier = 1
        raw_length = b""
        for _ in range(4):
            byte = await self._reader.readexactly(1)
            raw_length += byte
            length += (byte[0] & 0x7F) * multiplier
            if byte[0] < 0x80:
                break
            multiplier *= 128
        else:
            raise ConnectionLost("malformed remaining length")
        if length > MAX_INCOMING_BYTES:
            raise ConnectionLost(f"packet of {length} bytes exceeds {MAX_INCOMING_BYTES}")
        body = await self._reader.readexactly(length)
        try:
            packet, _ = mqtt5.read(memoryview(header + raw_length + body))
        except Exception as exc:  # the codec raises assorted errors on malformed input
            raise ConnectionLost(f"malformed packet from the server: {exc}") from None
        return packet

    async def _receive(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                packet = await self._read_packet()
                self._last_rx = loop.time()
                if isinstance(packet, mqtt5.PubAckPacket):
                    future = self._pending.pop(packet.packet_id, None)
                    if future is not None and not future.done():
                        future.set_result(PubAck(int(packet.reason_code), packet.reason_str or ""))
                elif isinstance(packet, mqtt5.PublishPacket):
                    if packet.qos == mqtt5.QoS.AT_LEAST_ONCE and packet.packet_id is not None:
                        self._send(mqtt5.PubAckPacket(packet.packet_id).write())
                    try:
                        self.on_message(packet.topic, packet.payload)
                    except Exception:
                        log.exception("handling %s failed", packet.topic)
                elif isinstance(packet, mqtt5.SubAckPacket):
                    sub = self._suback.pop(packet.packet_id, None)
                    if sub is not None and not sub.done():
                        sub.set_result([int(code) for code in packet.reason_codes])
                elif isinstance(packet, mqtt5.DisconnectPacket):
                    self._fail(f"server disconnected: {packet.reason_code.name} {packet.reason_str or ''}")
                    break
        except (asyncio.IncompleteReadError, OSError) as exc:
            self._fail(f"connection lost: {exc or type(exc).__name__}")
        except ConnectionLost as exc:
            self._fail(str(exc))
        finally:
            self._fail(self._error if self._closed.is_set() else "connection closed")
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    async def _keep_alive(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.keep_alive_s / 2
        while not self._closed.is_set():
            await asyncio.sleep(interval)
            if loop.time() - self._last_rx > self.keep_alive_s * 1.5:
                self._fail("no traffic from the server within 1.5 keep-alive periods")
                if self._writer is not None:
                    self._writer.close()
                return
            with contextlib.suppress(ConnectionLost):
                self._send(mqtt5.PingReqPacket().write())

    def _fail(self, reason: str) -> None:
        if self._closed.is_set():
            return
        self._error = reason
        self._closed.set()
        futures: list[asyncio.Future[PubAck] | asyncio.Future[list[int]]] = [
            *self._pending.values(),
            *self._suback.values(),
        ]
        for future in futures:
            if not future.done():
                future.set_exception(ConnectionLost(reason))
                # Whoever awaits it still gets the error; a publish cancelled meanwhile has nobody to
                # retrieve it, and asyncio would log every such future at shutdown.
                future.exception()
        self._pending.clear()
        self._suback.clear()
