"""Tables of predictive maintenance: the model registry.

A model is a name with numbered versions. Each version holds its document (the fitted model as JSON,
nothing pickled), its lineage (where the training rows came from and their SHA-256, who trained it
and from which version's settings) and its metrics; ``stage`` is candidate, production or archived,
and at most one version of a name is in production (checked when promoting, in one transaction).
``target_type`` and ``target_device`` say what the model runs on: every device of the type, or one.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String, Table

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

__all__ = ["phm_models"]
