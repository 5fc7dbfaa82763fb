"""Feeds simulated devices into a running platform over its public HTTP telemetry API.

The runner is a client like any third-party gateway: each period it steps every simulator and POSTs
the current values, one request per device because each device authenticates with its own token.
A server that is down or failing costs that period's values and one log line; the runner keeps
going and reports the recovery. Missed periods are not replayed: a simulator has no backlog.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from indunet.core.timeutil import US_PER_MS, now_us

logger = logging.getLogger(__name__)

Value = bool | int | float | str

TIMEOUT_S = 5.0


class Simulator(Protocol):
    def step(self, ts_us: int) -> dict[str, Value]:
        """The device's point values at ``ts_us`` (microseconds since the epoch)."""
        ...


@dataclass
class SimulatedDevice:
    name: str
    type_name: str
    token: str
    model: Simulator
    # Whether the last POST succeeded; logging only on changes keeps a long outage to two lines.
    healthy: bool = field(default=True, compare=False)


def run_simulators(
    base_url: str,
    devices: list[SimulatedDevice],
    period_s: float = 1.0,
    *,
    stop: threading.Event,
    client: httpx.Client | None = None,
) -> None:
    """POST each device's values every ``period_s`` until ``stop`` is set; never raises for HTTP trouble."""
    url = base_url.rstrip("/") + "/api/telemetry"
    own_client = client is None
    http = client if client is not None else httpx.Client(timeout=TIMEOUT_S)
    try:
        deadline = time.monotonic()
        while not stop.is_set():
            ts_us = now_us()
            for device in devices:
                if stop.is_set():
                    break
                _send(http, url, device, ts_us)
            deadline += period_s
            # After a stall (slow server, suspended laptop) start afresh instead of bursting to catch up.
            deadline = max(deadline, time.monotonic())
            stop.wait(deadline - time.monotonic())
    finally:
        if own_client:
            http.close()


def _send(http: httpx.Client, url: str, device: SimulatedDevice, ts_us: int) -> None:
    body = {
        "records": [{"device": device.name, "ts": ts_us // US_PER_MS, "values": device.model.step(ts_us)}]
    }
    try:
        response = http.post(url, json=body, headers={"Authorization": f"Bearer {device.token}"})
    except httpx.HTTPError as exc:
        _failed(device, f"{type(exc).__name__}: {exc}")
        return
    if response.is_success:
        if not device.healthy:
            logger.info("simulator %s: telemetry accepted again", device.name)
            device.healthy = True
    else:
        _failed(device, f"HTTP {response.status_code}: {response.text[:200]}")


def _failed(device: SimulatedDevice, reason: str) -> None:
    if device.healthy:
        logger.warning(
            "simulator %s: telemetry not delivered (%s); retrying every period", device.name, reason
        )
        device.healthy = False
    else:
        logger.debug("simulator %s: still failing (%s)", device.name, reason)
