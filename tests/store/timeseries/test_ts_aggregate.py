"""aggregate, checked against a reference computed in Python."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indunet.core.errors import InvalidInput
from indunet.store.timeseries import AGGREGATES, MAX_BUCKETS, Row, TimeseriesStore, Value

T0 = 1_764_000_000_000_000
FUNCS = list(AGGREGATES)
_series_ids = itertools.count(1000)  # a fresh series per hypothesis example: no cleanup needed


def reference(
    rows: list[Row], start: int, end: int, interval: int, funcs: list[str]
) -> list[dict[str, Value]]:
    buckets: dict[int, list[Row]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r[1]):
        if start <= row[1] < end:
            buckets[row[1] // interval * interval].append(row)
    result = []
    for bucket, members in sorted(buckets.items()):
        nums = [r[2] for r in members if r[2] is not None]
        values: dict[str, Value] = {
            "min": min(nums) if nums else None,
            "max": max(nums) if nums else None,
            "avg": sum(nums) / len(nums) if nums else None,
            "count": len(members),
            "first": members[0][2] if members[0][2] is not None else members[0][3],
            "last": members[-1][2] if members[-1][2] is not None else members[-1][3],
        }
        result.append({"ts": bucket} | {f: values[f] for f in funcs})
    return result


def assert_same(got: list[dict[str, Value]], want: list[dict[str, Value]]) -> None:
    assert [sorted(g) for g in got] == [sorted(w) for w in want]
    for g, w in zip(got, want, strict=True):
        for key, value in w.items():
            if key == "avg" and value is not None:
                assert g[key] == pytest.approx(value, rel=1e-9, abs=1e-9)
            else:
                assert g[key] == value, key


def test_buckets_align_to_epoch_multiples(store: TimeseriesStore) -> None:
    minute = 60_000_000
    base = T0 // minute * minute
    store.write(
        [
            (1, base + 30_000_000, 1.0, None),
            (1, base + 90_000_000, 3.0, None),
            (1, base + 100_000_000, 5.0, None),
            (1, base + 110_000_000, None, "stop"),
        ]
    )

    got = store.aggregate(1, base + 10_000_000, base + 3 * minute, minute, ["count", "avg", "first", "last"])

    assert got == [
        {"ts": base, "count": 1, "avg": 1.0, "first": 1.0, "last": 1.0},
        {"ts": base + minute, "count": 3, "avg": 4.0, "first": 3.0, "last": "stop"},
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    points=st.dictionaries(
        st.integers(0, 50_000),
        st.one_of(
            st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: (v, None)),
            st.text(max_size=5).filter(lambda t: "\x00" not in t).map(lambda t: (None, t)),
        ),
        max_size=60,
    ),
    window=st.tuples(st.integers(-1000, 60_000), st.integers(1, 60_000)),
    interval=st.integers(10, 20_000),  # ≤ 6,001 buckets over the window
    funcs=st.lists(st.sampled_from(FUNCS), min_size=1, max_size=6, unique=True),
)
def test_aggregate_matches_reference(
    store: TimeseriesStore,
    points: dict[int, tuple[float | None, str | None]],
    window: tuple[int, int],
    interval: int,
    funcs: list[str],
) -> None:
    series_id = next(_series_ids)
    rows: list[Row] = [(series_id, T0 + offset, num, text) for offset, (num, text) in points.items()]
    store.write(rows)
    start, end = T0 + window[0], T0 + window[0] + window[1]

    got = store.aggregate(series_id, start, end, interval, funcs)

    assert_same(got, reference(rows, start, end, interval, funcs))


@pytest.mark.parametrize(
    ("interval", "funcs"),
    [(0, ["avg"]), (-5, ["avg"]), (1, ["median"]), (1, []), (1, ["avg"])],
)
def test_aggregate_rejects_bad_requests(store: TimeseriesStore, interval: int, funcs: list[str]) -> None:
    # The last case asks for 1 µs buckets over more than MAX_BUCKETS µs.
    with pytest.raises(InvalidInput):
        store.aggregate(1, T0, T0 + MAX_BUCKETS + 1, interval, funcs)


def test_aggregate_accepts_exactly_max_buckets(store: TimeseriesStore) -> None:
    store.write([(1, T0, 2.0, None)])

    assert store.aggregate(1, T0, T0 + MAX_BUCKETS, 1, ["max"]) == [{"ts": T0, "max": 2.0}]
