"""Shared by the edge gateway benchmarks: field-device simulators in a process of their own, and a
platform (``indunet serve``) with a gateway device to uplink to.

Run as a script it is the simulator process; the benchmark process then measures only the gateway
(or the peer client): the simulators' CPU is not its CPU, and they share neither GIL nor event loop.

    python bench/_edge.py modbus COUNT          COUNT pump stations, one per port (serve_many)
    python bench/_edge.py opcua MACHINES PERIOD_S

It prints one JSON line ``{"ports": [...]}`` once every server listens, then runs until SIGTERM or
SIGINT, or until its standard input closes (so it never outlives a benchmark that died).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from _common import free_port, serve, stop
from indunet.core.config import Settings
from indunet.platform import devices, tenants
from indunet.platform.runtime import open_platform
from indunet.security import Principal
from indunet.sim import modbus_plc, opcua_cnc

GATEWAY = "gw-bench"

HERE = Path(__file__).resolve().parent


@dataclass
class Simulators:
    process: subprocess.Popen[bytes]
    ports: list[int]

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the simulator process has used so far."""
        return process_cpu_s(self.process.pid)


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_s() -> float:
    """Idle CPU seconds of the whole machine so far (all cores)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def simulators(*args: str) -> Iterator[Simulators]:
    """``_edge.py ARGS`` in a subprocess, once it listens; stopped on exit."""
    process = subprocess.Popen(
        [sys.executable, str(HERE / "_edge.py"), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"simulator {args} did not start")
        yield Simulators(process, list(json.loads(line)["ports"]))
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Platform:
    """``indunet serve`` (embedded SQLite) with a tenant and an ``edge_gateway`` device."""

    process: subprocess.Popen[bytes]
    mqtt_port: int
    token: str
    data_dir: Path


@contextmanager
def platform(data_dir: Path) -> Iterator[Platform]:
    setup = open_platform(Settings(data_dir=data_dir))
    try:
        tenant = tenants.create_tenant(setup, "bench")
        token = str(
            devices.create_device(setup, Principal.system(tenant["id"]), GATEWAY, "edge_gateway")["token"]
        )
    finally:
        setup.close()
    mqtt_port = free_port()
    env = {
        **os.environ,
        "INDUNET_LANGUAGE": "en",
        "INDUNET_DATA_DIR": str(data_dir),
        "INDUNET_MQTT_PORT": str(mqtt_port),
        # One gateway carries a hundred devices: the per-device quota must not be what is measured.
        "INDUNET_MQTT_DEVICE_RATE": "1e9",
        "INDUNET_MQTT_DEVICE_BURST": "1e9",
        "INDUNET_MQTT_TENANT_RATE": "1e9",
        "INDUNET_MQTT_TENANT_BURST": "1e9",
    }
    process = serve(env, free_port())
    try:
        yield Platform(process, mqtt_port, token, data_dir)
    finally:
        alive = process.poll() is None
        stop(process, signal.SIGINT)
        assert alive, "indunet serve died under load"


def stored_points(data_dir: Path) -> int:
    opened = open_platform(Settings(data_dir=data_dir))
    try:
        return opened.timeseries.count()
    finally:
        opened.close()


def _watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    # A daemon thread, not to_thread: a blocked read must not hold up the exit on SIGTERM.
    def watch() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch, daemon=True).start()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def main(argv: list[str]) -> None:
    # Clients that leave with publish requests pending make asyncua's server log every one of them.
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ready = asyncio.Event()
    ports: list[int] = []
    if argv[0] == "modbus":
        count = int(argv[1])
        task = asyncio.create_task(
            modbus_plc.serve_many(
                "127.0.0.1", [0] * count, units=1, ready=ready, stop=stop, bound_ports=ports
            )
        )
    else:
        machines, period_s = int(argv[1]), float(argv[2])
        port = _free_port()
        ports.append(port)
        task = asyncio.create_task(
            opcua_cnc.serve("127.0.0.1", port, machines=machines, period_s=period_s, ready=ready, stop=stop)
        )
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # the server failed to start: raise its error
    print(json.dumps({"ports": ports}), flush=True)
    _watch_stdin(loop, stop)
    await task


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
