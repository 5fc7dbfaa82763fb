"""The gateway against real Modbus devices: outages, restarts, bad devices and unreachable ones.

Ground truth for "no sample lost" is the gateway's own count of successful polls (each poll of a
device is one sample) and the queue file; the platform must end up with exactly those samples, with
the timestamps they were read at.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from tests.edge import configs
from tests.edge.conftest import Uplink, stored, until
from tests.edge.proxy import Proxy
from tests.helpers import free_port

from indunet.edge import config as gateway_config
from indunet.edge.gateway import Gateway
from indunet.platform.runtime import Platform
from indunet.sim import modbus_plc

OUTAGE_S = 60


def _count(platform: Platform, uplink: Uplink, device: str, start_ms: int) -> int:
    return len(stored(platform, uplink.tenant_id, device, "flow", start_ms, int(time.time() * 1000) + 60_000))


@pytest.mark.timeout(240)
def test_a_sixty_second_uplink_outage_loses_no_sample(
    platform: Platform, uplink: Uplink, tmp_path: Path
) -> None:
    start = int(time.time() * 1000)

    async def scenario() -> dict[str, int]:
        stop = asyncio.Event()
        ready = asyncio.Event()
        port = free_port()
        sim = asyncio.create_task(modbus_plc.serve("127.0.0.1", port, units=3, ready=ready, stop=stop))
        await asyncio.wait_for(ready.wait(), 10)
        proxy = await Proxy(uplink.mqtt_port).start()
        devices = [configs.pump(f"pump-{u}", port, unit=u, poll_ms=250) for u in (1, 2, 3)]
        config = gateway_config.parse(
            configs.gateway(uplink.gateway, uplink.token, proxy.port, str(tmp_path / "q.db"), devices)
        )
        gateway = Gateway(config)
        gw_stop = asyncio.Event()
        running = asyncio.create_task(gateway.run(gw_stop))
        try:
            await until(
                lambda: gateway.uplink.mode == "mqtt" and _count(platform, uplink, "pump-1", start) > 4,
                30,
                "first samples",
            )
            proxy.cut()
            await asyncio.sleep(OUTAGE_S)
            assert (
                gateway.queue.stats().depth > 3 * (OUTAGE_S * 4) * 0.8
            )  # the outage was real: it all queued up
            proxy.restore()
            await asyncio.sleep(2)
            gw_stop.set()  # no new polls: what was read must now all arrive
            await running
            polls = {name: worker.health.polls for name, worker in gateway.workers.items()}
            # The stopped gateway drained nothing more; a fresh one on the same queue sends the rest.
            again = Gateway(config)
            again.workers.clear()
            again_stop = asyncio.Event()
            again_running = asyncio.create_task(again.run(again_stop))
            await until(lambda: again.queue.stats().depth == 0, 60, "the backlog to drain")
            again_stop.set()
            await again_running
            return polls
        finally:
            gw_stop.set()
            stop.set()
            await proxy.close()
            await sim

    polls = asyncio.run(scenario())
    for name, count in polls.items():
        # Delivery is at least once: a batch whose acknowledgement died with the connection is sent
        # again, and PostgreSQL keeps both copies. Every poll must be there, at its own time.
        stamps = sorted(
            {
                ts
                for ts, _ in stored(
                    platform, uplink.tenant_id, name, "flow", start, int(time.time() * 1000) + 1000
                )
            }
        )
        assert len(stamps) == count, f"{name}: {count} polls, {len(stamps)} samples on the platform"
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        assert max(gaps) < 2_000, f"{name}: a gap of {max(gaps)} ms in a 250 ms series"
        assert stamps[-1] - stamps[0] > OUTAGE_S * 1000  # the series spans the outage


@pytest.mark.timeout(240)
def test_a_killed_gateway_delivers_its_backlog_after_a_restart(
    platform: Platform, uplink: Uplink, tmp_path: Path
) -> None:
    start = int(time.time() * 1000)
    queue = tmp_path / "q.db"
    config_file = tmp_path / "gateway.yaml"

    async def scenario() -> list[int]:
        stop = asyncio.Event()
        ready = asyncio.Event()
        port = free_port()
        sim = asyncio.create_task(modbus_plc.serve("127.0.0.1", port, units=1, ready=ready, stop=stop))
        await asyncio.wait_for(ready.wait(), 10)
        proxy = await Proxy(uplink.mqtt_port).start()
        document = configs.gateway(
            uplink.gateway, uplink.token, proxy.port, str(queue), [configs.pump("pump-9", port, poll_ms=100)]
        )
        config_file.write_text(yaml.safe_dump(document))
        try:
            proxy.cut()  # everything the first gateway reads stays in its queue
            first = subprocess.Popen(
                [sys.executable, "-m", "indunet", "gateway", "--config", str(config_file)],
                env=os.environ.copy(),
            )
            await until(lambda: _queued(queue) >= 30, 60, "a backlog in the queue file")
            first.send_signal(signal.SIGKILL)  # as a power cut would: no flush, no goodbye
            first.wait(10)
            backlog = _queued_ts(queue)
            proxy.restore()
            second = subprocess.Popen(
                [sys.executable, "-m", "indunet", "gateway", "--config", str(config_file)],
                env=os.environ.copy(),
            )
            try:
                await until(
                    lambda: (
                        set(backlog)
                        <= {
                            ts
                            for ts, _ in stored(
                                platform,
                                uplink.tenant_id,
                                "pump-9",
                                "flow",
                                start,
                                int(time.time() * 1000) + 1000,
                            )
                        }
                    ),
                    60,
                    "the backlog on the platform",
                )
            finally:
                second.send_signal(signal.SIGTERM)
                assert second.wait(20) == 0
            return backlog
        finally:
            stop.set()
            await proxy.close()
            await sim

    backlog = asyncio.run(scenario())
    samples = stored(platform, uplink.tenant_id, "pump-9", "flow", start, int(time.time() * 1000) + 1000)
    assert len(backlog) >= 30
    on_platform = [ts for ts, _ in samples]
    assert on_platform == sorted(on_platform)
    assert set(backlog) <= set(on_platform)


def _queued(path: Path) -> int:
    return len(_queued_ts(path))


def _queued_ts(path: Path) -> list[int]:
    if not path.exists():
        return []
    try:
        with sqlite3.connect(path, timeout=5) as db:
            rows = db.execute("SELECT ts_ms, body FROM sample WHERE device = 'pump-9' ORDER BY id")
            return [ts for ts, body in rows if '"flow"' in body]
    except sqlite3.OperationalError:  # not created yet
        return []


class _Garbage:
    """A TCP server that answers every request with bytes that are not a Modbus frame."""

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.read(260):
                writer.write(b"\x00\x01\x00\x00\x00\x03\x01\x83")  # a frame whose length lies
                writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


@pytest.mark.timeout(180)
def test_bad_and_unreachable_devices_are_counted_never_stall_the_others_and_recover(
    platform: Platform, uplink: Uplink, tmp_path: Path
) -> None:
    async def scenario() -> None:
        stop = asyncio.Event()
        ready = asyncio.Event()
        port = free_port()
        sim = asyncio.create_task(modbus_plc.serve("127.0.0.1", port, units=1, ready=ready, stop=stop))
        await asyncio.wait_for(ready.wait(), 10)
        garbage = _Garbage()
        garbage_port = await garbage.start()
        late_port = free_port()  # nothing listens here yet
        refusing = configs.pump("pump-refusing", port, poll_ms=200)
        # Suction pressure bound to an unmapped register: exception 02 for that block on every poll.
        refusing["points"] = [p for p in refusing["points"] if p["point"] != "suction_pressure"] + [
            {"point": "suction_pressure", "table": "holding", "address": 5000, "type": "float32"}
        ]
        devices = [
            configs.pump("pump-good", port, poll_ms=200),
            refusing,
            configs.pump("pump-garbage", garbage_port, poll_ms=200, timeout_s=0.5),
            configs.pump("pump-late", late_port, poll_ms=200, timeout_s=0.5),
        ]
        config = gateway_config.parse(
            configs.gateway(uplink.gateway, uplink.token, uplink.mqtt_port, str(tmp_path / "q.db"), devices)
        )
        gateway = Gateway(config)
        gw_stop = asyncio.Event()
        running = asyncio.create_task(gateway.run(gw_stop))
        health = {name: worker.health for name, worker in gateway.workers.items()}
        late_stop = asyncio.Event()
        late: asyncio.Task[None] | None = None
        try:
            await asyncio.sleep(6)
            good, refused, bad, unreachable = (
                health[n] for n in ("pump-good", "pump-refusing", "pump-garbage", "pump-late")
            )
            # 200 ms polls for 6 s: the good pump keeps its pace whatever the others do.
            assert good.polls >= 20 and good.device_errors == 0 and good.state == "connected"
            # Exception 02 for the unmapped block, counted; the mapped block still read every time.
            assert refused.device_errors >= 10 and refused.points >= 10 * 10 and refused.state == "connected"
            assert "ILLEGAL" in refused.last_error.upper() or "exception" in refused.last_error.lower()
            # Malformed answers: counted, the connection dropped and retried with back-off.
            assert bad.transport_errors + bad.device_errors >= 2 and bad.polls < 10
            # Nothing listening: backing off, retrying by itself.
            assert unreachable.state in ("backoff", "connecting") and unreachable.transport_errors >= 2
            retries = unreachable.transport_errors
            assert retries < 8, "exponential back-off, not a retry every poll"
            late = asyncio.create_task(modbus_plc.serve("127.0.0.1", late_port, units=1, stop=late_stop))
            await until(
                lambda: unreachable.state == "connected" and unreachable.polls > 3,
                90,
                "the late pump to be picked up",
            )
            assert unreachable.reconnects == 1
        finally:
            gw_stop.set()
            await running
            late_stop.set()
            stop.set()
            await garbage.close()
            await sim
            if late is not None:
                await late

    asyncio.run(scenario())
