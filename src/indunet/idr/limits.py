"""Per-client request rate limits: a token bucket per client address.

A client may send ``rate`` requests per second on average and ``burst`` at once; beyond that the node
answers RC_SERVER_BUSY (over HTTP, 429) instead of working for it. Buckets are kept for the most recent
``max_clients`` addresses only, so a flood from many spoofed sources costs bounded memory (an evicted
client starts again with a full bucket, which errs on the side of answering).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

MAX_CLIENTS: Final = 100_000


@dataclass
class RateLimiter:
    rate: float
    """Requests per second per client; 0 turns the limit off."""
    burst: float = 0.0
    """Requests a client may send at once; defaults to one second's worth (at least 1)."""
    max_clients: int = MAX_CLIENTS
    clock: Callable[[], float] = time.monotonic
    _buckets: OrderedDict[object, tuple[float, float]] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        if self.rate < 0 or self.burst < 0:
            raise ValueError("rate and burst are 0 or more")
        if not self.burst:
            self.burst = max(1.0, self.rate)

    def allow(self, client: object) -> bool:
        """Whether ``client`` may send one more request now (and count it)."""
        if not self.rate:
            return True
        now = self.clock()
        tokens, then = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        if len(self._buckets) >= self.max_clients:
            self._buckets.popitem(last=False)
        self._buckets[client] = (tokens, now)
        return allowed
