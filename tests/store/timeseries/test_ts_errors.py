"""Database failures surface as StorageError; the store recovers when the database does."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from indunet.core.errors import StorageError
from indunet.store.timeseries import TimeseriesStore, open_timeseries
from indunet.store.timeseries.postgres import PostgresTimeseries

T0 = 1_764_000_000_000_000


def test_every_call_on_a_closed_store_raises(store: TimeseriesStore) -> None:
    store.write([(1, T0, 1.0, None)])
    store.close()
    store.close()  # idempotent

    for call in (
        lambda: store.write([(1, T0 + 1, 1.0, None)]),
        lambda: store.raw(1, T0, T0 + 1),
        lambda: store.aggregate(1, T0, T0 + 1, 1, ["avg"]),
        lambda: store.latest([1]),
        lambda: store.count(),
        lambda: store.delete_before([1], T0),
        lambda: store.drop_partitions_before(T0),
        lambda: b"".join(store.export({1: "a"}, T0, T0 + 1, "csv")),
    ):
        with pytest.raises(StorageError):
            call()


@pytest.mark.postgres
def test_a_killed_connection_raises_then_the_pool_recovers(postgres_store: TimeseriesStore) -> None:
    assert isinstance(postgres_store, PostgresTimeseries)
    postgres_store.write([(1, T0, 1.0, None)])
    with psycopg.connect(postgres_store._pool.conninfo, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )

    with pytest.raises(StorageError):
        postgres_store.raw(1, T0, T0 + 1)
    assert postgres_store.raw(1, T0, T0 + 1) == [(T0, 1.0, None)]


def test_an_unreachable_server_fails_at_open() -> None:
    with pytest.raises(StorageError):
        open_timeseries("postgresql://postgres@127.0.0.1:9/none", timeout=0.5)


def test_a_file_that_is_not_a_database_raises(tmp_path: Path) -> None:
    path = tmp_path / "timeseries.db"
    path.write_bytes(b"this is not an SQLite file, just some bytes" * 100)

    with pytest.raises(StorageError):
        open_timeseries(path).ensure_schema()
