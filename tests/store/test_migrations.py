"""Alembic migrations build exactly the schema that ``store.metadata`` declares, on both backends."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, exc, inspect, text, update

from indunet.store.engine import alembic_config, create_metadata_engine, current_revision, upgrade
from indunet.store.metadata import audit_log, metadata

# Every table the code declares; the migrations must create exactly these.
TABLES = set(metadata.tables)


def _heads(engine: Engine) -> set[str]:
    """The newest revision of every branch of the migration history."""
    return set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def _applied(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database: a new SQLite file, or a new schema in the test run's PostgreSQL database."""
    if request.param == "sqlite":
        created = create_metadata_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield created
        created.dispose()
        return
    url: str = request.getfixturevalue("pg_url")
    schema = f"m_{secrets.token_hex(4)}"
    created = create_metadata_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), schema=schema)
    yield created
    with created.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    created.dispose()


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def _downgrade(engine: Engine, revision: str = "base") -> None:
    command.downgrade(alembic_config(engine), revision)


def _audit_row(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(audit_log.insert().values(at=1, actor="test", action="create", entity="thing"))


def test_fresh_database_upgrades_to_the_declared_schema(engine: Engine) -> None:
    assert current_revision(engine) is None
    upgrade(engine)
    assert _applied(engine) == _heads(engine)
    assert _tables(engine) == TABLES
    assert _differences(engine) == []


def test_upgrade_is_idempotent(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)
    assert _applied(engine) == _heads(engine)
    assert _differences(engine) == []


def test_downgrade_to_base_and_up_again(engine: Engine) -> None:
    upgrade(engine)
    _audit_row(engine)
    _downgrade(engine)
    assert _tables(engine) == set()
    assert current_revision(engine) is None
    upgrade(engine)
    assert _tables(engine) == TABLES
    assert _differences(engine) == []
    # The append-only guard is back with the tables.
    _audit_row(engine)
    with pytest.raises(exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(update(audit_log).values(actor="rewritten"))


def test_the_migrated_schema_enforces_what_metadata_declares(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants VALUES ('t1', 'acme', 'Acme', 30, 0)"))
    # Unique names, and foreign keys (SQLite needs them switched on, which the engine does).
    for statement in (
        "INSERT INTO tenants VALUES ('t2', 'acme', 'Acme again', 30, 0)",
        "INSERT INTO users VALUES ('u1', 'no-such-tenant', 'a@b.cn', 'h', 'admin', false, 0)",
    ):
        with pytest.raises(exc.IntegrityError), engine.begin() as conn:
            conn.execute(text(statement))
    # Deleting a tenant takes its rows with it.
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users VALUES ('u1', 't1', 'a@b.cn', 'h', 'admin', false, 0)"))
        conn.execute(text("DELETE FROM tenants WHERE id = 't1'"))
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 0
