"""``indunet gateway``: device workers -> queue -> uplink, commands back down, health reported.

Data flows one way: each device worker turns readings into samples and hands them to the gateway's
buffer; a flusher commits the buffer to the queue every ``FLUSH_S`` (one fsync for every device's
samples of that moment) and wakes the uplink, which drains the queue to the platform. Samples the
buffer holds are not yet durable: a power loss costs at most one flush interval of readings, which
the devices themselves would not have kept either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from typing import Any

from indunet.edge.config import GatewayConfig
from indunet.edge.downlink import Downlink
from indunet.edge.health import ProcessMeter
from indunet.edge.queue import Sample, SampleQueue
from indunet.edge.uplink import Uplink
from indunet.edge.worker import DeviceWorker

log = logging.getLogger(__name__)

FLUSH_S = 0.05
MAX_BUFFERED = 500_000
"""Samples held in memory while the disk is slower than the devices; beyond it the oldest go (counted)."""


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.queue = SampleQueue(config.queue.path, config.queue.max_bytes)
        self.workers = {d.name: DeviceWorker(d, self._accept) for d in config.devices}
        self.uplink = Uplink(
            config.uplink,
            config.name,
            self.queue,
            [(d.name, d.type.name) for d in config.devices],
            self._on_message,
        )
        self.uplink.on_connected = self.report_devices
        self.downlink = Downlink(self.workers, self.queue, self.uplink.reply)
        self._buffer: list[Sample] = []
        self._dropped_in_memory = 0
        self._meter = ProcessMeter()
        self._points_mark = (time.monotonic(), 0)

    def _accept(self, samples: list[Sample]) -> None:
        self._buffer.extend(samples)
        if len(self._buffer) > MAX_BUFFERED:
            excess = len(self._buffer) - MAX_BUFFERED
            del self._buffer[:excess]
            self._dropped_in_memory += excess

    def _on_message(self, topic: str, payload: bytes) -> None:
        self.downlink.on_message(topic, payload)

    async def run(self, stop: asyncio.Event) -> None:
        log.info("gateway %s: %d devices, queue %s", self.config.name, len(self.workers), self.queue.path)
        tasks = [
            asyncio.create_task(worker.run(stop), name=f"device-{name}")
            for name, worker in self.workers.items()
        ]
        tasks.append(asyncio.create_task(self.uplink.run(stop), name="uplink"))
        tasks.append(asyncio.create_task(self._health(stop), name="health"))
        try:
            await self._flush_loop(stop)
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.downlink.close()
            await self._flush()
            self.queue.close()

    async def _flush_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), FLUSH_S)

    async def _flush(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        dropped = await asyncio.to_thread(self.queue.put, batch)
        if dropped:
            log.warning("queue full: dropped the %d oldest samples", dropped)
        self.uplink.wakeup.set()

    async def _health(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.config.health_interval_s)
            if stop.is_set():
                break
            self._accept([Sample(self.config.name, int(time.time() * 1000), await self.vitals())])
            await self.report_devices()

    async def report_devices(self) -> None:
        """Each device's connection state and counters, as its client attributes (when connected)."""
        await self.uplink.publish_attributes({n: w.health.attributes() for n, w in self.workers.items()})

    async def vitals(self) -> dict[str, Any]:
        """The gateway's own telemetry (points of the ``edge_gateway`` model)."""
        stats = await asyncio.to_thread(self.queue.stats)
        cpu, rss = self._meter.sample()
        now = time.monotonic()
        points = sum(w.health.points for w in self.workers.values())
        since, before = self._points_mark
        self._points_mark = (now, points)
        oldest = 0.0 if stats.oldest_ts_ms is None else max(0.0, time.time() - stats.oldest_ts_ms / 1000)
        return {
            "queue_depth": stats.depth,
            "queue_bytes": stats.bytes,
            "queue_oldest_age": round(oldest, 3),
            "samples_dropped": stats.dropped + self._dropped_in_memory,
            "samples_rejected": stats.rejected,
            "samples_sent": self.uplink.sent,
            "uplink_connected": self.uplink.connected,
            "uplink_mode": self.uplink.mode,
            "devices_total": len(self.workers),
            "devices_connected": sum(w.health.state == "connected" for w in self.workers.values()),
            "device_errors": sum(w.health.device_errors for w in self.workers.values()),
            "points_per_s": round((points - before) / max(now - since, 1e-6), 2),
            "cpu_percent": cpu,
            "rss_mb": rss,
        }


def run_gateway(config: GatewayConfig) -> int:
    """Run until SIGINT/SIGTERM; the queue is flushed and closed on the way out."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Gateway(config).run(stop)

    try:
        import uvloop  # with uvicorn[standard] on Linux: cheaper sockets and timers for many devices
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
    return 0
