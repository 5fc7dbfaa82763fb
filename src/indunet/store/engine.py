"""Opening the metadata database and bringing its schema up to date."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text

_MIGRATIONS = "indunet.store.migrations"


def create_metadata_engine(url: str, schema: str = "public") -> Engine:
    """SQLite gets WAL and enforced foreign keys; PostgreSQL gets the configured search_path."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    options = {} if schema == "public" else {"options": f"-csearch_path={schema}"}
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, connect_args=options)
    if schema != "public":
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    return engine


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files(_MIGRATIONS)))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Apply every pending migration (idempotent); "heads" takes every branch of the history."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        except Exception:
            return None
    return None if row is None else str(row[0])


def engine_url(location: str | Path) -> str:
    """A SQLAlchemy URL for a file path, a ``sqlite://`` URL or a ``postgresql://`` URL."""
    text = str(location)
    if text.startswith("postgresql://"):
        return text.replace("postgresql://", "postgresql+psycopg://", 1)
    if text.startswith(("postgresql+", "sqlite:")):
        return text
    return f"sqlite:///{Path(text).expanduser()}"
