"""Fixtures: every time-series test runs against SQLite (in tmp_path) and PostgreSQL (a fresh database).

The PostgreSQL database ``indunet_test_<hex>`` is created once per run and dropped at the end; each
test gets its own schema in it. Without a server at 127.0.0.1:5432 the PostgreSQL cases skip, except
with ``CI=true``, where they fail: CI must not pass by testing nothing.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from indunet.store.timeseries import TimeseriesStore, open_timeseries

PG_SERVER = os.environ.get("INDUNET_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The URL of a database created for this test run."""
    admin_url = f"{PG_SERVER}/postgres"
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_SERVER}: {exc}")
        pytest.skip(f"no PostgreSQL at {PG_SERVER}: {exc}")
    name = f"indunet_test_{secrets.token_hex(4)}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield f"{PG_SERVER}/{name}"
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


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
