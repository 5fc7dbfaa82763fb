"""write, raw, latest and count, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from indunet.core.errors import InvalidInput
from indunet.core.timeutil import US_PER_S
from indunet.store.timeseries import TimeseriesStore, open_timeseries
from indunet.store.timeseries.postgres import PostgresTimeseries
from indunet.store.timeseries.sqlite import SqliteTimeseries

T0 = 1_764_000_000 * US_PER_S  # 2025-11-24T16:00:00Z


def test_raw_range_is_half_open(store: TimeseriesStore) -> None:
    rows = [(1, T0 + i * US_PER_S, float(i), None) for i in range(10)]
    assert store.write(rows) == 10

    got = store.raw(1, T0 + 2 * US_PER_S, T0 + 5 * US_PER_S)

    assert got == [(T0 + i * US_PER_S, float(i), None) for i in (2, 3, 4)]


def test_raw_keeps_other_series_out(store: TimeseriesStore) -> None:
    store.write([(1, T0, 1.0, None), (2, T0, 2.0, None), (3, T0 + 1, 3.0, None)])

    assert store.raw(2, T0, T0 + US_PER_S) == [(T0, 2.0, None)]


def test_raw_descending_with_limit_returns_newest(store: TimeseriesStore) -> None:
    store.write([(1, T0 + i, float(i), None) for i in range(100)])

    assert store.raw(1, T0, T0 + 100, limit=3, descending=True) == [
        (T0 + 99, 99.0, None),
        (T0 + 98, 98.0, None),
        (T0 + 97, 97.0, None),
    ]
    assert [ts for ts, _, _ in store.raw(1, T0, T0 + 100, limit=2)] == [T0, T0 + 1]


def test_text_values_round_trip(store: TimeseriesStore) -> None:
    texts = ["running", "", 'tab\tnew\nline \\ quote" 中文']
    store.write([(7, T0 + i, None, text) for i, text in enumerate(texts)])

    assert store.raw(7, T0, T0 + 10) == [(T0 + i, None, text) for i, text in enumerate(texts)]


def test_ints_and_bools_are_stored_as_numbers(store: TimeseriesStore) -> None:
    store.write([(1, T0, 5, None), (1, T0 + 1, True, None)])

    got = store.raw(1, T0, T0 + 2)

    assert got == [(T0, 5.0, None), (T0 + 1, 1.0, None)]
    assert all(type(num) is float for _, num, _ in got)


def test_write_of_nothing_writes_nothing(store: TimeseriesStore) -> None:
    assert store.write([]) == 0
    assert store.count() == 0


@pytest.mark.parametrize(
    "bad_row",
    [
        (1, T0 + 5, 1.0, "both"),
        (1, T0 + 5, None, None),
        (1, "yesterday", 1.0, None),
        (1, T0 + 5, "not a number", None),
        (1, -1, 1.0, None),
        (1, 10**17, 1.0, None),
        (1, T0 + 0.5, 1.0, None),
        (1, T0 + 5),
    ],
    ids=[
        "both-values",
        "no-value",
        "text-ts",
        "text-in-num",
        "before-1970",
        "after-2200",
        "float-ts",
        "short",
    ],
)
def test_a_bad_row_rejects_the_whole_batch(store: TimeseriesStore, bad_row: tuple[object, ...]) -> None:
    good = [(1, T0 + i, float(i), None) for i in range(5)]

    with pytest.raises(InvalidInput):
        store.write([*good, bad_row])  # type: ignore[list-item]

    assert store.count() == 0
    assert store.write(good) == 5  # the store is still usable afterwards


def test_duplicate_points(store: TimeseriesStore) -> None:
    store.write([(1, T0, 1.0, None), (1, T0 + 1, 2.0, None)])
    store.write([(1, T0 + 1, 3.0, None)])

    got = store.raw(1, T0, T0 + 2)

    if isinstance(store, SqliteTimeseries):
        # INSERT OR REPLACE on the primary key: the last value wins.
        assert got == [(T0, 1.0, None), (T0 + 1, 3.0, None)]
        assert store.count(1) == 2
    else:
        # COPY cannot upsert: both copies are kept and returned; latest is one of them.
        assert sorted(got) == [(T0, 1.0, None), (T0 + 1, 2.0, None), (T0 + 1, 3.0, None)]
        assert store.count(1) == 3
    assert store.latest([1])[1] in {(T0 + 1, 2.0, None), (T0 + 1, 3.0, None)}


def test_latest_per_series(store: TimeseriesStore) -> None:
    store.write([(1, T0 + i, float(i), None) for i in range(50)])
    store.write([(2, T0 - 5, None, "old"), (2, T0 + 3, None, "new")])

    assert store.latest([1, 2, 3]) == {1: (T0 + 49, 49.0, None), 2: (T0 + 3, None, "new")}
    assert store.latest([]) == {}


def test_latest_finds_points_in_older_partitions(store: TimeseriesStore) -> None:
    day = 86_400 * US_PER_S
    store.write([(1, T0 - 10 * day, 1.0, None), (2, T0, 2.0, None)])

    assert store.latest([1, 2]) == {1: (T0 - 10 * day, 1.0, None), 2: (T0, 2.0, None)}


def test_count(store: TimeseriesStore) -> None:
    store.write([(1, T0 + i, 1.0, None) for i in range(3)] + [(2, T0, None, "x")])

    assert (store.count(), store.count(1), store.count(2), store.count(3)) == (4, 3, 1, 0)


@pytest.mark.parametrize(("start", "end", "limit"), [(T0, T0, 10), (T0 + 1, T0, 10), (T0, T0 + 1, 0)])
def test_raw_rejects_bad_arguments(store: TimeseriesStore, start: int, end: int, limit: int) -> None:
    with pytest.raises(InvalidInput):
        store.raw(1, start, end, limit=limit)


def test_open_picks_sqlite_for_sqlite_urls_and_paths(tmp_path: Path) -> None:
    with (
        open_timeseries(f"sqlite:///{tmp_path}/a.db") as by_url,
        open_timeseries(tmp_path / "b.db") as by_path,
    ):
        assert isinstance(by_url, SqliteTimeseries)
        assert isinstance(by_path, SqliteTimeseries)
    assert (tmp_path / "a.db").exists()


@pytest.mark.postgres
def test_open_picks_postgres_for_postgresql_urls(pg_url: str) -> None:
    with open_timeseries(pg_url) as pg:
        assert isinstance(pg, PostgresTimeseries)


@pytest.mark.parametrize("target", ["mysql://localhost/db", "sqlite:///", ""])
def test_open_rejects_other_urls(target: str) -> None:
    with pytest.raises(InvalidInput):
        open_timeseries(target)
