"""Resolution statistics per prefix per day: how many, how many failed, and how fast.

Latencies go into a fixed log-scale histogram (buckets growing by √2 from 8 µs to about 67 s), so
counting costs one bisect and tallies from several processes or periods merge by adding; percentiles
read off the histogram are within one bucket (±41 %) of the truth, enough to see a p99 move from
0.5 ms to 5 ms. Tallies live in memory and are added to the store's ``idr_stats`` rows periodically
(:meth:`ResolutionStats.drain`); at most ``max_prefixes`` prefixes a day are told apart, the rest
count under ``*`` (a scan of random prefixes must not grow memory).
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

EDGES_S: Final = tuple(8e-6 * math.sqrt(2) ** k for k in range(47))
"""Upper edges of the latency buckets; one more bucket holds anything slower."""
OTHER: Final = "*"


def _day(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch_s))


@dataclass
class Tally:
    count: int = 0
    errors: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(EDGES_S) + 1))

    def add(self, other: Tally) -> None:
        self.count += other.count
        self.errors += other.errors
        for i, n in enumerate(other.buckets[: len(self.buckets)]):
            self.buckets[i] += n

    def percentile(self, q: float) -> float | None:
        """The latency (seconds, a bucket's upper edge) below which ``q`` (0..1) of answers fall."""
        total = sum(self.buckets)
        if not total:
            return None
        rank = q * total
        seen = 0
        for i, n in enumerate(self.buckets):
            seen += n
            if seen >= rank:
                return EDGES_S[i] if i < len(EDGES_S) else EDGES_S[-1] * math.sqrt(2)
        return EDGES_S[-1] * math.sqrt(2)


@dataclass
class ResolutionStats:
    max_prefixes: int = 10_000
    clock: Callable[[], float] = time.time
    _tallies: dict[tuple[str, str], Tally] = field(default_factory=dict)
    _day: str = ""
    _day_ends: float = 0.0

    def _today(self) -> str:
        # Formatting the date costs more than the rest of a record: once per day is enough.
        now = self.clock()
        if now >= self._day_ends:
            self._day = _day(now)
            self._day_ends = (now // 86_400 + 1) * 86_400
        return self._day

    def record(self, prefix: str, seconds: float, ok: bool = True) -> None:
        key = (self._today(), prefix)
        tally = self._tallies.get(key)
        if tally is None:
            if len(self._tallies) >= self.max_prefixes:
                key = (key[0], OTHER)
                tally = self._tallies.get(key)
            if tally is None:
                tally = self._tallies[key] = Tally()
        tally.count += 1
        if not ok:
            tally.errors += 1
        tally.buckets[bisect.bisect_left(EDGES_S, seconds)] += 1

    def drain(self) -> dict[tuple[str, str], Tally]:
        """The tallies since the last drain, keyed by (day, prefix); memory starts afresh."""
        drained, self._tallies = self._tallies, {}
        return drained


def summary(day: str, prefix: str, tally: Tally) -> dict[str, object]:
    """One row of the statistics API: counts and p50/p90/p99 in milliseconds."""

    def ms(q: float) -> float | None:
        found = tally.percentile(q)
        return None if found is None else round(found * 1000, 3)

    return {
        "day": day,
        "prefix": prefix,
        "count": tally.count,
        "errors": tally.errors,
        "p50_ms": ms(0.5),
        "p90_ms": ms(0.9),
        "p99_ms": ms(0.99),
    }


def merged(rows: Iterable[tuple[str, str, int, int, Sequence[int]]]) -> dict[tuple[str, str], Tally]:
    out: dict[tuple[str, str], Tally] = {}
    for day, prefix, count, errors, buckets in rows:
        tally = out.setdefault((day, prefix), Tally())
        tally.add(Tally(count, errors, list(buckets)))
    return out
