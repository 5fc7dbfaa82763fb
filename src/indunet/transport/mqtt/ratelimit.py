"""Token buckets for per-device and per-tenant message rates.

A bucket refills continuously at ``rate`` tokens per second up to ``burst``; a message that finds no
token is refused with a quota reason code, so a device over its rate learns it instead of losing data.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    __slots__ = ("_clock", "_level", "_stamp", "burst", "rate")

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._level = burst
        self._stamp = clock()

    def take(self, tokens: float = 1.0) -> bool:
        now = self._clock()
        self._level = min(self.burst, self._level + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._level < tokens:
            return False
        self._level -= tokens
        return True


class RateLimiter:
    """One bucket per device and one per tenant; a message must find a token in both."""

    def __init__(
        self,
        device_rate: float,
        device_burst: float,
        tenant_rate: float,
        tenant_burst: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._device = (device_rate, device_burst)
        self._tenant = (tenant_rate, tenant_burst)
        self._clock = clock
        self._devices: dict[str, TokenBucket] = {}
        self._tenants: dict[str, TokenBucket] = {}

    def allow(self, tenant_id: str, device_id: str) -> bool:
        device = self._devices.get(device_id)
        if device is None:
            device = self._devices[device_id] = TokenBucket(*self._device, clock=self._clock)
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            tenant = self._tenants[tenant_id] = TokenBucket(*self._tenant, clock=self._clock)
        # The device's own bucket is checked first so one noisy device cannot drain its tenant's.
        return device.take() and tenant.take()
