"""OPC UA data changes through the edge gateway: an asyncua CNC simulator (``indunet.sim.opcua_cnc``,
100 machine tools of 22 model points each, stepped every 20 ms) in a process of its own.

indunet: an in-process ``Gateway`` with one OPC UA device per machine (mode subscribe, publishing and
sampling interval 50 ms, one session and one subscription per machine), forwarding over the fsync'd
SQLite queue and MQTT 5 to an ``indunet serve`` process (embedded SQLite) on free ports. Counted: data
changes that became sample values handed to the gateway's queue, over a fixed window after a warm-up.
Peer, in the same run against the same simulator process: a bare asyncua ``Client`` per machine with
the same subscription parameters over the same nodes, counting the data-change events it receives.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.subscription import DataChangeEvent

from _common import record, write_results
from _edge import GATEWAY, Platform, Simulators, platform, simulators, stored_points
from edge_modbus import Window
from indunet.edge import config as gateway_config
from indunet.edge.gateway import Gateway
from indunet.edge.queue import Sample
from indunet.sim import opcua_cnc

NAME = "edge_opcua"
MACHINES = 100
PERIOD_S = 0.02
PUBLISHING_MS = 50
QUEUE_SIZE = 10
WARMUP_S = 3.0


def _machine(name: str, endpoint: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "cnc_machine_tool",
        "driver": "opcua",
        "connection": {
            "endpoint": endpoint,
            "mode": "subscribe",
            "publishing_interval_ms": PUBLISHING_MS,
            "sampling_interval_ms": PUBLISHING_MS,
            "queue_size": QUEUE_SIZE,
        },
        "points": opcua_cnc.gateway_points(name),
    }


def _counting(sink: Callable[[list[Sample]], None], counter: list[int]) -> Callable[[list[Sample]], None]:
    def accept(samples: list[Sample]) -> None:
        counter[0] += sum(len(s.values) for s in samples)
        sink(samples)

    return accept


async def _gateway(
    server: Platform, sims: Simulators, names: list[str], queue: Path, seconds: float
) -> tuple[Window, int, int]:
    endpoint = f"opc.tcp://127.0.0.1:{sims.ports[0]}"
    config = gateway_config.parse(
        {
            "name": GATEWAY,
            "uplink": {"mqtt": f"mqtt://127.0.0.1:{server.mqtt_port}", "token": server.token},
            "queue": {"path": str(queue)},
            "health_interval_s": 5,
            "devices": [_machine(name, endpoint) for name in names],
        }
    )
    gateway = Gateway(config)
    changes = [0]
    workers = list(gateway.workers.values())
    for worker in workers:
        worker.sink = _counting(worker.sink, changes)
    stop = asyncio.Event()
    running = asyncio.create_task(gateway.run(stop))
    try:
        deadline = time.monotonic() + 60
        while not (gateway.uplink.mode == "mqtt" and all(w.health.state == "connected" for w in workers)):
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway did not connect to every machine and the platform")
            await asyncio.sleep(0.1)
        await asyncio.sleep(WARMUP_S)
        window = Window(seconds)
        sent = gateway.uplink.sent
        await window.measure(lambda: changes[0], sims, server)
        sent = gateway.uplink.sent - sent
        errors = sum(w.health.transport_errors for w in workers)
        if errors:
            raise RuntimeError(f"{errors} transport errors")
        depth = (await asyncio.to_thread(gateway.queue.stats)).depth
    finally:
        stop.set()
        await running
    return window, depth, sent


async def _peer(sims: Simulators, names: list[str], seconds: float) -> Window:
    changes = [0]
    endpoint = f"opc.tcp://127.0.0.1:{sims.ports[0]}"

    async def machine(name: str, subscribed: asyncio.Event) -> None:
        client = Client(endpoint, timeout=4)
        await client.connect()
        try:
            params = ua.CreateSubscriptionParameters()
            params.RequestedPublishingInterval = float(PUBLISHING_MS)
            params.RequestedMaxKeepAliveCount = 5000 // PUBLISHING_MS
            params.RequestedLifetimeCount = params.RequestedMaxKeepAliveCount * 6
            params.MaxNotificationsPerPublish = 0
            params.PublishingEnabled = True
            sub = await client.create_subscription(params, None, queue_maxsize=1000)
            nodes = [client.get_node(p["node"]) for p in opcua_cnc.gateway_points(name)]
            await sub.subscribe_data_change(
                nodes, queuesize=QUEUE_SIZE, sampling_interval=float(PUBLISHING_MS)
            )
            subscribed.set()
            while True:
                if isinstance(await sub.next_event(), DataChangeEvent):
                    changes[0] += 1
        finally:
            await client.disconnect()

    events = [asyncio.Event() for _ in names]
    tasks = [asyncio.create_task(machine(n, e)) for n, e in zip(names, events, strict=True)]
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 60)
        await asyncio.sleep(WARMUP_S)
        window = Window(seconds)
        await window.measure(lambda: changes[0], sims)
        for task in tasks:
            if task.done():
                task.result()  # a machine's client failed: raise its error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return window


def run(quick: bool = False) -> list[dict[str, Any]]:
    seconds = 5.0 if quick else 20.0
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    names = opcua_cnc.machine_names(MACHINES)
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulators("opcua", str(MACHINES), str(PERIOD_S)) as sims,
    ):
        data_dir = Path(tmp) / "platform"
        data_dir.mkdir()
        peer = asyncio.run(_peer(sims, names, seconds))
        with platform(data_dir) as server:
            gw, left, sent = asyncio.run(_gateway(server, sims, names, Path(tmp) / "queue.db", seconds))
            time.sleep(1)
        stored = stored_points(data_dir)
    print(f"   gateway run: {gw.shares()}\n   peer run: {peer.shares()}", flush=True)
    records = [
        record(
            f"OPC UA data changes, {MACHINES} machines x 22 nodes updated every {PERIOD_S * 1000:.0f} ms, "
            f"subscriptions at {PUBLISHING_MS} ms, to the gateway's queue ({sent / gw.wall_s:,.0f} samples/s "
            f"acknowledged by the platform, {stored:,} points stored, {left:,} samples still queued at the "
            f"end). Gateway run {gw.shares()}; peer run {peer.shares()}",
            gw.rate,
            "changes/s",
            "bare asyncua Client subscriptions, same nodes and parameters, counting data-change events",
            peer.rate,
            ">= 0.8 x peer",
        ),
        record(
            "Gateway CPU per 1,000 OPC UA data changes/s (subscription, queue, uplink)",
            gw.cpu_per_1k_points(),
            "% of a core",
            "bare asyncua subscriptions (receive only)",
            peer.cpu_per_1k_points(),
            "lower is better; no target",
        ),
    ]
    write_results(NAME, records)
    return records


if __name__ == "__main__":
    for item in run(quick="--quick" in sys.argv):
        print(item)
