"""Fixtures: every time-series test runs against SQLite (in tmp_path) and PostgreSQL.

PostgreSQL cases use the run's database (``pg_url`` in tests/conftest.py), each test a schema of its own.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from indunet.store.timeseries import TimeseriesStore, open_timeseries


@pytest.fixture
def postgres_store(pg_url: str) -> Iterator[TimeseriesStore]:
    store = open_timeseries(pg_url, schema=f"t_{secrets.token_hex(4)}", max_size=4)
    store.ensure_schema()
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[TimeseriesStore]:
    store = open_timeseries(tmp_path / "var" / "timeseries.db")
    store.ensure_schema()
    yield store
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> TimeseriesStore:
    """Each backend in turn, with an empty schema."""
    backend: TimeseriesStore = request.getfixturevalue(f"{request.param}_store")
    return backend
