"""Alembic environment: runs against the engine handed in by ``indunet.store.engine.upgrade``."""

from __future__ import annotations

from alembic import context

from indunet.store.metadata import metadata

engine = context.config.attributes.get("engine")
if engine is None:
    raise RuntimeError("run migrations through `indunet db upgrade`, which supplies the engine")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
