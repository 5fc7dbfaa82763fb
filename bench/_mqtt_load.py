"""An MQTT 5 load generator for thousands of device connections, cheap enough to share a 2-core machine.

Each device is an asyncio ``Protocol`` with its packets pre-encoded, so the generator spends a few
microseconds per message and leaves the CPU to the server under test. Two ways to drive it:

- ``closed_loop``: every device keeps ``window`` QoS 1 messages in flight and sends the next on each
  PUBACK; the PUBACK rate is the server's throughput.
- ``open_loop``: messages go out at a fixed total rate spread over all devices whatever the server
  does (as real devices publish on their own clock); latency is send -> PUBACK per message.

Every PUBACK's reason code is counted, so a refusal (0x97 quota exceeded) is told from success, and
a message never answered shows up as ``unanswered``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import mqtt5

CONNECTS_IN_FLIGHT = 200
"""Connections being set up at once: a ramp, as a fleet reconnecting after an outage would be paced."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _publish(topic: bytes, packet_id: int, payload: bytes) -> bytes:
    body_len = 2 + len(topic) + 2 + 1 + len(payload)
    return b"".join(
        (
            b"\x32",
            _varint(body_len),
            len(topic).to_bytes(2, "big"),
            topic,
            packet_id.to_bytes(2, "big"),
            b"\x00",
            payload,
        )
    )


@dataclass
class Stats:
    sent: int = 0
    acked: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    disconnects: Counter[int] = field(default_factory=Counter)
    held_back: int = 0

    @property
    def answered(self) -> int:
        return sum(self.acked.values())

    def p(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Device(asyncio.Protocol):
    def __init__(self, load: Load, username: str | None, topic: str, payload: Callable[[int], bytes]) -> None:
        self.load = load
        self.username = username
        self.topic = topic.encode()
        self.payload = payload
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.connected: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.in_flight: dict[int, float] = {}
        self.next_id = 0
        self.seq = 0
        self.receive_max = 65535

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport is no subclass
        transport.write(
            mqtt5.ConnectPacket(
                f"load-{secrets.token_hex(6)}", username=self.username, clean_start=True, keep_alive=300
            ).write()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.connected.done():
            self.connected.set_exception(ConnectionError("closed before CONNACK"))
        self.transport = None

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        pos = 0
        end = len(buf)
        while end - pos >= 2:
            length = 0
            shift = 0
            i = pos + 1
            while i < end:
                byte = buf[i]
                length |= (byte & 0x7F) << shift
                shift += 7
                i += 1
                if not byte & 0x80:
                    break
            else:
                break
            if end - i < length:
                break
            kind = buf[pos] >> 4
            if kind == 4:  # PUBACK: packet id, then the reason code when the length says there is one
                packet_id = int.from_bytes(buf[i : i + 2], "big")
                self.load.on_ack(self, packet_id, buf[i + 2] if length > 2 else 0)
            elif kind == 2:  # CONNACK
                packet, _ = mqtt5.read(memoryview(bytes(buf[pos : i + length])))
                assert isinstance(packet, mqtt5.ConnAckPacket)
                self.receive_max = packet.receive_max
                if not self.connected.done():
                    self.connected.set_result(packet.reason_code)
            elif kind == 14:  # DISCONNECT
                self.load.stats.disconnects[buf[i] if length else 0] += 1
            pos = i + length
        del buf[:pos]

    def send(self) -> float | None:
        """Publish the next message; its send time, or None when the window is full or the link down."""
        if self.transport is None or len(self.in_flight) >= self.receive_max:
            return None
        self.next_id = self.next_id % 65535 + 1
        self.seq += 1
        self.in_flight[self.next_id] = sent_at = time.perf_counter()
        self.transport.write(_publish(self.topic, self.next_id, self.payload(self.seq)))
        return sent_at

    def close(self) -> None:
        if self.transport is not None:
            self.transport.write(b"\xe0\x00")
            self.transport.close()


class Load:
    def __init__(self, port: int) -> None:
        self.port = port
        self.devices: list[Device] = []
        self.connect_s = 0.0
        self.started = 0.0
        """When the last phase began sending (connections were all up by then)."""
        self.alive_at_close = 0
        self.results: list[Stats] = []
        self.stats = Stats()
        self.total_acked: Counter[int] = Counter()
        """Every PUBACK since connecting, by reason code, in the measured windows or not."""
        self._refill = False
        self._by_send_time = False
        self._window = (0.0, 0.0)

    async def connect(self, jobs: list[tuple[str | None, str, Callable[[int], bytes]]]) -> float:
        """Connect every device (at most ``CONNECTS_IN_FLIGHT`` at once); returns the seconds it took."""
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(CONNECTS_IN_FLIGHT)
        start = time.perf_counter()

        async def one(username: str | None, topic: str, payload: Callable[[int], bytes]) -> None:
            async with gate:
                _, device = await loop.create_connection(
                    lambda: Device(self, username, topic, payload), "127.0.0.1", self.port
                )
                code = await asyncio.wait_for(device.connected, 120)
                if code != 0:
                    raise ConnectionError(f"CONNACK reason {code:#x}")
                self.devices.append(device)

        await asyncio.gather(*(one(*job) for job in jobs))
        return time.perf_counter() - start

    def on_ack(self, device: Device, packet_id: int, reason: int) -> None:
        sent_at = device.in_flight.pop(packet_id, None)
        if sent_at is None:
            return
        self.total_acked[reason] += 1
        now = time.perf_counter()
        start, end = self._window
        if start <= (sent_at if self._by_send_time else now) < end:
            self.stats.acked[reason] += 1
            self.stats.latencies.append(now - sent_at)
        if self._refill:
            device.send()

    async def _drain(self, timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while any(d.in_flight for d in self.devices) and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)

    async def closed_loop(self, seconds: float, window: int = 1, warmup: float = 2.0) -> Stats:
        """Each device keeps ``window`` messages in flight; PUBACKs received in the window count."""
        self.stats = Stats()
        self._by_send_time = False
        self.started = time.perf_counter()
        start = self.started + warmup
        self._window = (start, start + seconds)
        self._refill = True
        for device in self.devices:
            for _ in range(window):
                device.send()
        await asyncio.sleep(warmup + seconds)
        self._refill = False
        await self._drain(30)
        return self.stats

    async def open_loop(self, rate: float, seconds: float, warmup: float = 2.0) -> Stats:
        """``rate`` messages/s in all, round robin over the devices, on the clock whatever the server
        does; every message sent in the window counts, answered or not."""
        self.stats = Stats()
        self._by_send_time = True
        self._refill = False
        begin = self.started = time.perf_counter()
        self._window = (begin + warmup, begin + warmup + seconds)
        devices = self.devices
        start, end = self._window
        cursor = issued = sent = 0
        while (now := time.perf_counter()) < end:
            due = int(rate * (now - begin))
            while issued < due:
                issued += 1
                device = devices[cursor]
                cursor = (cursor + 1) % len(devices)
                sent_at = device.send()
                # In or out of the window by the very timestamp its answer is matched by.
                if sent_at is None:
                    self.stats.held_back += start <= time.perf_counter() < end
                elif start <= sent_at < end:
                    sent += 1
            await asyncio.sleep(0.005)
        await self._drain(30)
        self.stats.sent = sent
        return self.stats

    @property
    def alive(self) -> int:
        """Devices still connected."""
        return sum(device.transport is not None for device in self.devices)

    def close(self) -> None:
        self.alive_at_close = self.alive
        for device in self.devices:
            device.close()
        self.devices.clear()
