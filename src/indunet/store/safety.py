"""Tables of the safety-production app (apps/safety).

An enterprise (``safety_enterprises``) has production and storage units (``safety_units``) holding
hazardous chemicals (``holdings``, tonnes per substance) and graded by GB 18218-2018 (``grading``, the
whole calculation as JSON, with ``r``, ``level`` and ``major`` beside it for sorting and counting).
Monitoring points (``safety_points``) bind a device's telemetry point to a unit with its alarm set-points
and the ids of the rules made from the templates.

A warning (``safety_warnings``) is the incident a unit's conditions opened: its number per tenant
(WRN-000042), its level (1 red … 4 blue; it only rises while the warning is open), the level the
conditions have now, its disposal ``status`` and every change as a row of ``safety_warning_events``.
``open_key`` is the unit id while the warning is not closed and NULL after, so the database keeps one
open warning per unit. Closing it writes a record to the failure database (``safety_failures``), which
also takes imported records and closed maintenance work orders. Risk feature libraries
(``safety_feature_libraries``) are versioned documents; the newest version of a tenant is the one in use.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from indunet.store.metadata import ID, metadata

safety_enterprises = Table(
    "safety_enterprises",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("code", String(32), nullable=False),
    Column("region", String(12), nullable=False),
    Column("region_name", String(100), nullable=False),
    Column("address", String(300), nullable=False),
    Column("latitude", Float, nullable=True),
    Column("longitude", Float, nullable=True),
    Column("notify", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("uq_safety_enterprises_tenant_name", "tenant_id", "name", unique=True),
    Index("ix_safety_enterprises_tenant_region", "tenant_id", "region"),
)

safety_units = Table(
    "safety_units",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column(
        "enterprise_id",
        ID,
        ForeignKey("safety_enterprises.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("unit_type", String(64), nullable=False),
    Column("exposed_people", Integer, nullable=False),
    Column("holdings", JSON, nullable=False),
    Column("grading", JSON, nullable=False),
    Column("r", Float, nullable=False),
    Column("level", Integer, nullable=True),
    Column("major", Boolean, nullable=False),
    Column("plan", JSON, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("uq_safety_units_tenant_name", "tenant_id", "name", unique=True),
)

safety_points = Table(
    "safety_points",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("unit_id", ID, ForeignKey("safety_units.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("device_id", ID, ForeignKey("devices.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("point", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("substance", String(64), nullable=True),
    Column("measure_unit", String(16), nullable=False),
    Column("limits", JSON, nullable=False),
    Column("basis", String(200), nullable=False),
    Column("rule_ids", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("uq_safety_points_device_point", "device_id", "point", unique=True),
    Index("ix_safety_points_tenant", "tenant_id"),
)

safety_warnings = Table(
    "safety_warnings",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("enterprise_id", ID, ForeignKey("safety_enterprises.id", ondelete="CASCADE"), nullable=False),
    Column("unit_id", ID, ForeignKey("safety_units.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("level", Integer, nullable=False),
    Column("condition_level", Integer, nullable=True),
    Column("status", String(16), nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("assignee", String(320), nullable=True),
    Column("open_key", String(64), nullable=True, unique=True),
    Column("opened_at", BigInteger, nullable=False),
    Column("level_since", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("closed_at", BigInteger, nullable=True),
    Column("closed_by", String(300), nullable=True),
    Column("failure_mode", String(64), nullable=True),
    Column("cause", String(2000), nullable=True),
    Column("evidence", JSON, nullable=True),
    Index("uq_safety_warnings_tenant_number", "tenant_id", "number", unique=True),
    Index("ix_safety_warnings_tenant_status", "tenant_id", "status"),
    Index("ix_safety_warnings_tenant_opened", "tenant_id", "opened_at"),
)

safety_warning_events = Table(
    "safety_warning_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "warning_id", ID, ForeignKey("safety_warnings.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(300), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("level", Integer, nullable=True),
    Column("note", String(2000), nullable=False),
    Column("details", JSON, nullable=False),
)

safety_failures = Table(
    "safety_failures",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("unit_id", ID, ForeignKey("safety_units.id", ondelete="SET NULL"), nullable=True, index=True),
    Column("unit_type", String(64), nullable=False),
    Column("mode", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("source", String(16), nullable=False),
    Column("source_ref", String(64), nullable=True),
    Column("occurred_at", BigInteger, nullable=False),
    Column("closed_at", BigInteger, nullable=True),
    Column("peak_level", Integer, nullable=True),
    Column("cause", String(2000), nullable=False),
    Column("actions", String(2000), nullable=False),
    Column("features", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_safety_failures_tenant_mode", "tenant_id", "mode"),
    Index("uq_safety_failures_source", "tenant_id", "source", "source_ref", unique=True),
)

safety_feature_libraries = Table(
    "safety_feature_libraries",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("version", String(32), nullable=False),
    Column("document", JSON, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("imported_at", BigInteger, nullable=False),
    Column("imported_by", String(300), nullable=False),
    Index("uq_safety_feature_libraries_tenant_version", "tenant_id", "version", unique=True),
)

__all__ = [
    "safety_enterprises",
    "safety_failures",
    "safety_feature_libraries",
    "safety_points",
    "safety_units",
    "safety_warning_events",
    "safety_warnings",
]
