"""Tables of predictive maintenance: the model registry and maintenance work orders.

A model is a name with numbered versions. Each version holds its document (the fitted model as JSON,
nothing pickled), its lineage (where the training rows came from and their SHA-256, who trained it
and from which version's settings) and its metrics; ``stage`` is candidate, production or archived,
and at most one version of a name is in production (checked when promoting, in one transaction).
``target_type`` and ``target_device`` say what the model runs on: every device of the type, or one.

A work order has a number per tenant (WO-000042 in the console), its lifecycle in ``status`` and every
change as a row of ``work_order_events``. ``open_key`` is ``"<device id>:<source>"`` while the order is
not closed and NULL after, so the database keeps one open order per device and source (as for alarms).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    func,
    select,
)

from indunet.store.metadata import ID, metadata

phm_models = Table(
    "phm_models",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("target_type", String(64), nullable=False),
    Column("target_device", ID, ForeignKey("devices.id", ondelete="CASCADE"), nullable=True),
    Column("document", JSON, nullable=False),
    Column("lineage", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(300), nullable=False),
    Column("promoted_at", BigInteger, nullable=True),
    Column("rule_id", ID, nullable=True),
    Index("uq_phm_models_tenant_name_version", "tenant_id", "name", "version", unique=True),
    Index("ix_phm_models_tenant_stage", "tenant_id", "stage"),
)


work_orders = Table(
    "work_orders",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("device_id", ID, ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("source", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("reason", JSON, nullable=False),
    Column("assignee", String(320), nullable=True),
    Column("due_ts", BigInteger, nullable=True),
    Column("open_key", String(120), nullable=True, unique=True),
    Column("opened_at", BigInteger, nullable=False),
    Column("opened_by", String(300), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("closed_at", BigInteger, nullable=True),
    Column("resolution", String(2000), nullable=True),
    Index("uq_work_orders_tenant_number", "tenant_id", "number", unique=True),
    Index("ix_work_orders_tenant_status", "tenant_id", "status"),
    Index("ix_work_orders_device", "device_id"),
)

work_order_events = Table(
    "work_order_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", ID, ForeignKey("work_orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(300), nullable=False),
    Column("status", String(16), nullable=False),
    Column("note", String(2000), nullable=False),
)


def next_number(conn: Connection, column: Any, *where: Any) -> int:
    """One more than the largest ``column`` among the rows ``where`` selects (1 for the first). Two
    writers racing get the same number; the unique index refuses the second, which retries."""
    return int(conn.execute(select(func.max(column)).where(*where)).scalar() or 0) + 1


__all__ = ["next_number", "phm_models", "work_order_events", "work_orders"]
