"""A simulated fleet of active identifier carriers: each holds an identifier and an SM2 key pair,
is enrolled once, then reports every ``period_s`` with a signed heartbeat (a state, a position that
wanders, a battery level that drains), the way a carrier module on a pallet or a tool would.

Heartbeats go straight to the registry (``CarrierRegistry.accept``), the same checks as over HTTP.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass

from indunet.idr import records
from indunet.idr.carriers import CarrierRegistry, Refused, heartbeat
from indunet.security.crypto import keys

log = logging.getLogger(__name__)


@dataclass
class _Carrier:
    handle: str
    key: keys.PrivateKey
    seq: int
    lat: float
    lon: float
    battery: float


class CarrierFleet:
    def __init__(
        self, registry: CarrierRegistry, handles: list[str], period_s: float = 5.0, seed: int = 7
    ) -> None:
        self.registry = registry
        self.period_s = period_s
        self._random = random.Random(seed)  # noqa: S311 - a simulation, not a secret
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="carrier-fleet", daemon=True)
        self.carriers = [
            _Carrier(
                h,
                keys.generate(keys.Algorithm.SM2),
                0,
                31.2 + self._random.random() / 10,
                121.4 + self._random.random() / 10,
                100.0,
            )
            for h in handles
        ]

    def start(self) -> CarrierFleet:
        for carrier in self.carriers:
            self.registry.enroll(carrier.handle, carrier.key.public_key(), records.SYSTEM)
        self._thread.start()
        return self

    def beat(self) -> int:
        """One heartbeat from every carrier; how many were accepted."""
        accepted = 0
        for carrier in self.carriers:
            carrier.seq += 1
            carrier.lat += self._random.uniform(-0.001, 0.001)
            carrier.lon += self._random.uniform(-0.001, 0.001)
            carrier.battery = max(0.0, carrier.battery - self._random.uniform(0.0, 0.2))
            state = "ok" if carrier.battery > 20 else "warning"
            message = heartbeat(
                carrier.key, carrier.handle, carrier.seq, int(time.time() * 1000), state,
                (round(carrier.lat, 6), round(carrier.lon, 6)), {"battery": round(carrier.battery, 1)},
            )  # fmt: skip
            try:
                self.registry.accept(message)
                accepted += 1
            except Refused as exc:
                log.warning("carrier %s refused: %s", carrier.handle, exc)
        return accepted

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self.beat()
            except Exception:  # the demo goes on without its fleet rather than stop
                log.exception("carrier fleet failed")
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
