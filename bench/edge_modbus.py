"""Modbus polling throughput of the edge gateway: 100 pump stations (one Modbus TCP server per port,
``indunet.sim.modbus_plc.serve_many`` in a simulator process of its own), every device polled for all
its registers (input 0-26, holding 0, coil 0: 3 requests, 29 registers and coils, 13 model points).

indunet: an in-process ``Gateway`` with ``poll_ms`` 10 (faster than the simulators can answer, so it
polls flat out), one worker per device, each poll decoded, mapped to model points and committed to
the fsync'd SQLite queue; the uplink is down (nothing listens on its port), so this is the polling
path alone, as during an outage. Throughput is counted from the workers' own health (polls x 29) over
a fixed window after a warm-up; the process's CPU time over the same window gives its cost per 1,000
points/s. Peer, in the same run against the same simulator process: a bare pymodbus
``AsyncModbusTcpClient`` per device (one task each) sending the same three requests back to back as
fast as it can, nothing decoded or stored. A third, informational run adds the uplink over MQTT 5 to an
``indunet serve`` process on the same two cores.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pymodbus.client import AsyncModbusTcpClient

from _common import free_port, record, write_results
from _edge import GATEWAY, Platform, Simulators, idle_s, platform, process_cpu_s, simulators, stored_points
from indunet.edge import config as gateway_config
from indunet.edge.gateway import Gateway

NAME = "edge_modbus"
DEVICES = 100
REGISTERS_PER_POLL = 27 + 1 + 1
POINTS_PER_POLL = 13
POLL_MS = 10
WARMUP_S = 3.0


def _pump(name: str, port: int) -> dict[str, Any]:
    """Every point of the pump's register map (``indunet.sim.modbus_plc``), input registers 0-26 whole."""
    ir = [
        ("flow", 0, "float32"),
        ("discharge_pressure", 2, "float32"),
        ("suction_pressure", 4, "float32"),
        ("motor_current", 6, "float32"),
        ("speed", 8, "float32"),
        ("bearing_temperature", 10, "float32"),
        ("vibration", 12, "float32"),
        ("fault_code", 14, "uint16"),
        ("operating_hours", 15, "float32"),
    ]
    return {
        "name": name,
        "type": "centrifugal_pump",
        "driver": "modbus",
        "connection": {"host": "127.0.0.1", "port": port, "unit": 1, "timeout_s": 2},
        "poll_ms": POLL_MS,
        "points": [
            *({"point": p, "table": "input", "address": a, "type": t} for p, a, t in ir),
            {"point": "energy", "table": "input", "address": 17, "type": "uint32", "word_order": "little"},
            {"point": "tag", "table": "input", "address": 19, "type": "string", "length": 8},
            {"point": "speed_setpoint", "table": "holding", "address": 0, "type": "uint16"},
            {"point": "running", "table": "coil", "address": 0},
        ],
    }


class Window:
    """Counters and CPU time (this process, the simulators, the platform, the machine's idle time) at
    the start and end of the measured window."""

    def __init__(self, seconds: float, points_per_count: float = 1.0) -> None:
        self.seconds = seconds
        self.points_per_count = points_per_count

    async def measure(self, count: Any, sims: Simulators, server: Platform | None = None) -> None:
        def snapshot() -> tuple[float, ...]:
            serve_cpu = process_cpu_s(server.process.pid) if server is not None else 0.0
            return (count(), time.process_time(), sims.cpu_s(), serve_cpu, idle_s(), time.perf_counter())

        start = snapshot()
        await asyncio.sleep(self.seconds)
        end = snapshot()
        self.count, self.cpu_s, self.sim_cpu_s, self.serve_cpu_s, idle, self.wall_s = (
            b - a for a, b in zip(start, end, strict=True)
        )
        self.idle_share = idle / self.wall_s / (os.cpu_count() or 1)

    def shares(self) -> str:
        return (
            f"CPU: this process {self.cpu_s / self.wall_s:.0%}, simulators {self.sim_cpu_s / self.wall_s:.0%}, "
            f"platform {self.serve_cpu_s / self.wall_s:.0%} of a core; machine {self.idle_share:.0%} idle"
        )

    @property
    def rate(self) -> float:
        return self.count / self.wall_s

    def cpu_per_1k_points(self) -> float:
        """Percent of one core per 1,000 points/s."""
        points_per_s = self.count * self.points_per_count / self.wall_s
        return 100 * self.cpu_s / self.wall_s / (points_per_s / 1000)


async def _gateway(
    server: Platform | None, sims: Simulators, queue: Path, seconds: float
) -> tuple[Window, int]:
    """The gateway polling every device; with ``server`` None the uplink is down (nothing listens on
    its port) and every sample stays in the fsync'd queue, as in an outage."""
    uplink = (
        {"mqtt": f"mqtt://127.0.0.1:{server.mqtt_port}", "token": server.token}
        if server is not None
        else {"mqtt": f"mqtt://127.0.0.1:{free_port()}", "token": "outage"}
    )
    config = gateway_config.parse(
        {
            "name": GATEWAY,
            "uplink": uplink,
            "queue": {"path": str(queue)},
            "health_interval_s": 5,
            "devices": [_pump(f"pump-{i:03d}", port) for i, port in enumerate(sims.ports)],
        }
    )
    gateway = Gateway(config)
    stop = asyncio.Event()
    running = asyncio.create_task(gateway.run(stop))
    workers = list(gateway.workers.values())
    try:
        deadline = time.monotonic() + 60
        while not (
            (server is None or gateway.uplink.mode == "mqtt")
            and all(w.health.state == "connected" for w in workers)
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway did not connect to every device and the platform")
            await asyncio.sleep(0.1)
        await asyncio.sleep(WARMUP_S)
        window = Window(seconds, POINTS_PER_POLL / REGISTERS_PER_POLL)
        errors = sum(w.health.device_errors + w.health.transport_errors for w in workers)
        await window.measure(lambda: sum(w.health.polls for w in workers) * REGISTERS_PER_POLL, sims, server)
        errors = sum(w.health.device_errors + w.health.transport_errors for w in workers) - errors
        if errors:
            raise RuntimeError(f"{errors} device errors during the window")
        depth = (await asyncio.to_thread(gateway.queue.stats)).depth
    finally:
        stop.set()
        await running
    return window, depth


async def _peer(sims: Simulators, seconds: float) -> Window:
    polls = [0]
    stop = asyncio.Event()

    async def device(port: int, connected: asyncio.Event) -> None:
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0, reconnect_delay=0)
        if not await client.connect():
            raise RuntimeError(f"peer cannot connect to {port}")
        connected.set()
        try:
            while not stop.is_set():
                ir = await client.read_input_registers(0, count=27, slave=1)
                hr = await client.read_holding_registers(0, count=1, slave=1)
                coil = await client.read_coils(0, count=1, slave=1)
                if ir.isError() or hr.isError() or coil.isError():
                    raise RuntimeError(f"peer: exception reply from {port}")
                polls[0] += 1
        finally:
            client.close()

    events = [asyncio.Event() for _ in sims.ports]
    tasks = [asyncio.create_task(device(p, e)) for p, e in zip(sims.ports, events, strict=True)]
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 60)
        await asyncio.sleep(WARMUP_S)
        window = Window(seconds, POINTS_PER_POLL / REGISTERS_PER_POLL)
        await window.measure(lambda: polls[0] * REGISTERS_PER_POLL, sims)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    return window


def run(quick: bool = False) -> list[dict[str, Any]]:
    seconds = 5.0 if quick else 20.0
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, simulators("modbus", str(DEVICES)) as sims:
        polling, _ = asyncio.run(_gateway(None, sims, Path(tmp) / "outage.db", seconds))
        peer = asyncio.run(_peer(sims, seconds))
        data_dir = Path(tmp) / "platform"
        data_dir.mkdir()
        with platform(data_dir) as server:
            full, left = asyncio.run(_gateway(server, sims, Path(tmp) / "queue.db", seconds))
            time.sleep(1)
        stored = stored_points(data_dir)
    print(
        f"   polling run: {polling.shares()}\n   peer run: {peer.shares()}\n   full path: {full.shares()}",
        flush=True,
    )
    records = [
        record(
            f"Modbus TCP polling, {DEVICES} devices x 29 registers (3 requests/poll), poll_ms {POLL_MS}: "
            "read, decoded, mapped to model points and committed to the fsync'd queue (uplink down, as "
            f"in an outage). {polling.shares()}; peer run {peer.shares()}",
            polling.rate,
            "registers/s",
            "bare pymodbus AsyncModbusTcpClient loop, one task per device, same requests, nothing decoded",
            peer.rate,
            ">= 0.8 x peer",
        ),
        record(
            f"Gateway CPU per 1,000 points/s (Modbus, {POINTS_PER_POLL} points/poll: poll, decode, queue)",
            polling.cpu_per_1k_points(),
            "% of a core",
            "bare pymodbus loop (reads only)",
            peer.cpu_per_1k_points(),
            "lower is better; no target",
        ),
        record(
            f"Modbus TCP polling, full path to the platform on the same 2 cores (uplink over MQTT 5 to "
            f"`indunet serve`, {stored:,} points stored, {left:,} samples still queued at the end). "
            f"{full.shares()}",
            full.rate,
            "registers/s",
            "the polling run above (uplink down)",
            polling.rate,
            "informational: the platform shares the machine",
        ),
    ]
    write_results(NAME, records)
    return records


if __name__ == "__main__":
    for item in run(quick="--quick" in sys.argv):
        print(item)
