"""Resolution statistics: counts and percentiles per prefix and day, bounded memory, merging."""

from __future__ import annotations

import math

from indunet.idr.stats import EDGES_S, OTHER, ResolutionStats, Tally, merged, summary


def test_percentiles_fall_within_one_bucket_of_the_truth() -> None:
    stats = ResolutionStats(clock=lambda: 86_400 * 20_000 + 5)
    latencies = [0.0001 * (n + 1) for n in range(1000)]  # 0.1 ms .. 100 ms, uniformly
    for seconds in latencies:
        stats.record("88.100.1", seconds, ok=seconds < 0.05)
    (((day, prefix), tally),) = stats.drain().items()
    assert (prefix, tally.count, tally.errors) == ("88.100.1", 1000, 501)
    for q, truth in ((0.5, 0.050), (0.9, 0.090), (0.99, 0.099)):
        found = tally.percentile(q)
        assert found is not None and truth <= found <= truth * math.sqrt(2) * 1.001
    row = summary(day, prefix, tally)
    assert row["p99_ms"] is not None and 99 <= float(row["p99_ms"]) <= 141  # type: ignore[arg-type]
    assert stats.drain() == {}  # drained means gone


def test_days_are_told_apart_at_midnight_utc() -> None:
    now = [86_400 * 20_000 - 1.0]
    stats = ResolutionStats(clock=lambda: now[0])
    stats.record("88", 0.001)
    now[0] += 2
    stats.record("88", 0.001)
    assert sorted(day for day, _ in stats.drain()) == ["2024-10-03", "2024-10-04"]


def test_many_prefixes_are_folded_beyond_the_limit() -> None:
    stats = ResolutionStats(max_prefixes=10, clock=lambda: 0.0)
    for n in range(100):
        stats.record(f"88.{n}", 0.001)
    drained = stats.drain()
    assert len(drained) == 11 and drained[("1970-01-01", OTHER)].count == 90


def test_tallies_from_several_processes_add_up() -> None:
    a, b = Tally(), Tally()
    a.count, a.buckets[3] = 2, 2
    b.count, b.errors, b.buckets[3] = 5, 1, 5
    total = merged([("d", "p", a.count, a.errors, a.buckets), ("d", "p", b.count, b.errors, b.buckets)])[
        ("d", "p")
    ]
    assert (total.count, total.errors, total.buckets[3]) == (7, 1, 7)
    slow = Tally(1, 0, [0] * len(EDGES_S) + [1])
    assert slow.percentile(0.5) is not None and slow.percentile(0.5) > EDGES_S[-1]  # type: ignore[operator]
    assert Tally().percentile(0.5) is None
