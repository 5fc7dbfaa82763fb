"""delete_before (per-tenant retention) and drop_partitions_before (global, by whole days)."""

from __future__ import annotations

import psycopg
import pytest

from indunet.store.timeseries import TimeseriesStore
from indunet.store.timeseries.postgres import PostgresTimeseries

DAY = 86_400_000_000
D0 = 20_416 * DAY  # 2025-11-24T00:00:00Z


def test_delete_before_only_touches_the_given_series(store: TimeseriesStore) -> None:
    store.write([(s, D0 + i, 1.0, None) for s in (1, 2, 3) for i in range(10)])

    assert store.delete_before([1, 2], D0 + 4) == 8

    assert [ts for ts, _, _ in store.raw(1, D0, D0 + 10)] == [D0 + i for i in range(4, 10)]
    assert store.count(2) == 6
    assert store.count(3) == 10


def test_rows_across_day_boundaries_land_and_read_back(store: TimeseriesStore) -> None:
    rows = [(1, D0 + day * DAY + offset, float(day), None) for day in range(-1, 3) for offset in (0, DAY - 1)]
    store.write(rows)

    assert store.raw(1, D0 - DAY, D0 + 3 * DAY) == [(ts, num, text) for _, ts, num, text in rows]
    if isinstance(store, PostgresTimeseries):
        assert _partitions(store) == [
            "ts_point_d20251123",
            "ts_point_d20251124",
            "ts_point_d20251125",
            "ts_point_d20251126",
        ]


def test_drop_partitions_removes_whole_days_only(store: TimeseriesStore) -> None:
    store.write([(s, D0 + day * DAY + 5, float(day), None) for s in (1, 2) for day in range(4)])

    dropped = store.drop_partitions_before(D0 + 2 * DAY + DAY // 2)  # mid-day: day 2 stays

    assert dropped == (2 if isinstance(store, PostgresTimeseries) else 0)
    assert store.count() == 4
    assert [num for _, num, _ in store.raw(1, D0, D0 + 4 * DAY)] == [2.0, 3.0]
    if isinstance(store, PostgresTimeseries):
        assert _partitions(store) == ["ts_point_d20251126", "ts_point_d20251127"]


def test_writing_into_a_dropped_day_recreates_its_partition(store: TimeseriesStore) -> None:
    store.write([(1, D0 + 5, 1.0, None)])
    store.drop_partitions_before(D0 + DAY)

    store.write([(1, D0 + 6, 2.0, None)])

    assert store.raw(1, D0, D0 + DAY) == [(D0 + 6, 2.0, None)]


@pytest.mark.postgres
def test_a_partition_dropped_by_another_process_is_recreated(postgres_store: TimeseriesStore) -> None:
    assert isinstance(postgres_store, PostgresTimeseries)
    postgres_store.write([(1, D0 + 5, 1.0, None)])
    with postgres_store._pool.connection() as conn:  # what another process's retention job does
        conn.execute(f'DROP TABLE "{postgres_store._schema}".ts_point_d20251124')

    postgres_store.write([(1, D0 + 6, 2.0, None)])

    assert postgres_store.raw(1, D0, D0 + DAY) == [(D0 + 6, 2.0, None)]


def _partitions(store: PostgresTimeseries) -> list[str]:
    with psycopg.connect(store._pool.conninfo) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass ORDER BY 1",
            (f'"{store._schema}".ts_point',),
        ).fetchall()
    return [name for (name,) in rows]
