"""Per-device connection state, error counters and poll latency, and the gateway's own vital signs.

Device health goes to the platform as the child device's client attributes (``gateway_*``), so the
device page shows how its gateway sees it; the gateway's figures are telemetry of the gateway device
(model ``edge_gateway``), so they have history and can carry alarm rules.
"""

from __future__ import annotations

import resource
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

LATENCY_WINDOW = 200


@dataclass
class DeviceHealth:
    name: str
    driver: str
    state: str = "connecting"
    """connecting | connected | backoff"""
    since_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    polls: int = 0
    points: int = 0
    device_errors: int = 0
    transport_errors: int = 0
    reconnects: int = 0
    last_error: str = ""
    retry_in_s: float = 0.0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.since_ms = int(time.time() * 1000)

    def polled(self, latency_s: float, points: int, errors: list[str]) -> None:
        self.polls += 1
        self.points += points
        self.latencies.append(latency_s)
        if errors:
            self.device_errors += len(errors)
            self.last_error = errors[-1][:300]

    def attributes(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        latency: dict[str, Any] = {}
        if ordered:
            latency = {
                "gateway_latency_ms": round(ordered[-1 if len(ordered) < 2 else len(ordered) // 2] * 1000, 2),
                "gateway_latency_p99_ms": round(
                    ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2
                ),
            }
        return {
            "gateway_state": self.state,
            "gateway_state_since": self.since_ms,
            "gateway_driver": self.driver,
            "gateway_polls": self.polls,
            "gateway_errors": self.device_errors,
            "gateway_transport_errors": self.transport_errors,
            "gateway_reconnects": self.reconnects,
            "gateway_last_error": self.last_error,
            **latency,
        }


class ProcessMeter:
    """CPU share and resident memory of this process between two calls."""

    def __init__(self) -> None:
        self._cpu = self._cpu_s()
        self._wall = time.monotonic()

    @staticmethod
    def _cpu_s() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def sample(self) -> tuple[float, float]:
        """(CPU percent of one core since the last call, resident MB)."""
        cpu, wall = self._cpu_s(), time.monotonic()
        percent = 100 * (cpu - self._cpu) / max(wall - self._wall, 1e-6)
        self._cpu, self._wall = cpu, wall
        return round(percent, 2), round(_rss_mb(), 1)


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * resource.getpagesize() / 1e6
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
