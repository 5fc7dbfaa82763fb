"""safety production: hazard sources, monitoring points, warnings, failure database, feature libraries;
retention floors of series

Revision ID: 0002_safety
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_safety"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "safety_enterprises",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=12), nullable=False),
        sa.Column("region_name", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("notify", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_safety_enterprises_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_enterprises")),
    )
    op.create_index(
        "ix_safety_enterprises_tenant_region", "safety_enterprises", ["tenant_id", "region"], unique=False
    )
    op.create_index(
        "uq_safety_enterprises_tenant_name", "safety_enterprises", ["tenant_id", "name"], unique=True
    )
    op.create_table(
        "safety_feature_libraries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.BigInteger(), nullable=False),
        sa.Column("imported_by", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_safety_feature_libraries_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_feature_libraries")),
    )
    op.create_index(
        "uq_safety_feature_libraries_tenant_version",
        "safety_feature_libraries",
        ["tenant_id", "version"],
        unique=True,
    )
    op.create_table(
        "safety_units",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("enterprise_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("unit_type", sa.String(length=64), nullable=False),
        sa.Column("exposed_people", sa.Integer(), nullable=False),
        sa.Column("holdings", sa.JSON(), nullable=False),
        sa.Column("grading", sa.JSON(), nullable=False),
        sa.Column("r", sa.Float(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("major", sa.Boolean(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["safety_enterprises.id"],
            name=op.f("fk_safety_units_enterprise_id_safety_enterprises"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_safety_units_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_units")),
    )
    op.create_index(op.f("ix_safety_units_enterprise_id"), "safety_units", ["enterprise_id"], unique=False)
    op.create_index("uq_safety_units_tenant_name", "safety_units", ["tenant_id", "name"], unique=True)
    op.create_table(
        "retention_floors",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("min_days", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
            name=op.f("fk_retention_floors_series_id_series"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("series_id", "owner", name=op.f("pk_retention_floors")),
    )
    op.create_table(
        "safety_failures",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("unit_id", sa.String(length=36), nullable=True),
        sa.Column("unit_type", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_ref", sa.String(length=64), nullable=True),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", sa.BigInteger(), nullable=True),
        sa.Column("peak_level", sa.Integer(), nullable=True),
        sa.Column("cause", sa.String(length=2000), nullable=False),
        sa.Column("actions", sa.String(length=2000), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_safety_failures_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["safety_units.id"],
            name=op.f("fk_safety_failures_unit_id_safety_units"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_failures")),
    )
    op.create_index("ix_safety_failures_tenant_mode", "safety_failures", ["tenant_id", "mode"], unique=False)
    op.create_index(op.f("ix_safety_failures_unit_id"), "safety_failures", ["unit_id"], unique=False)
    op.create_index(
        "uq_safety_failures_source", "safety_failures", ["tenant_id", "source", "source_ref"], unique=True
    )
    op.create_table(
        "safety_points",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("unit_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("point", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("substance", sa.String(length=64), nullable=True),
        sa.Column("measure_unit", sa.String(length=16), nullable=False),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("basis", sa.String(length=200), nullable=False),
        sa.Column("rule_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_safety_points_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_safety_points_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["safety_units.id"],
            name=op.f("fk_safety_points_unit_id_safety_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_points")),
    )
    op.create_index(op.f("ix_safety_points_device_id"), "safety_points", ["device_id"], unique=False)
    op.create_index("ix_safety_points_tenant", "safety_points", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_safety_points_unit_id"), "safety_points", ["unit_id"], unique=False)
    op.create_index("uq_safety_points_device_point", "safety_points", ["device_id", "point"], unique=True)
    op.create_table(
        "safety_warnings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.String(length=36), nullable=False),
        sa.Column("unit_id", sa.String(length=36), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("condition_level", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("assignee", sa.String(length=320), nullable=True),
        sa.Column("open_key", sa.String(length=64), nullable=True),
        sa.Column("opened_at", sa.BigInteger(), nullable=False),
        sa.Column("level_since", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", sa.BigInteger(), nullable=True),
        sa.Column("closed_by", sa.String(length=300), nullable=True),
        sa.Column("failure_mode", sa.String(length=64), nullable=True),
        sa.Column("cause", sa.String(length=2000), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["safety_enterprises.id"],
            name=op.f("fk_safety_warnings_enterprise_id_safety_enterprises"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_safety_warnings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["safety_units.id"],
            name=op.f("fk_safety_warnings_unit_id_safety_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_warnings")),
        sa.UniqueConstraint("open_key", name=op.f("uq_safety_warnings_open_key")),
    )
    op.create_index(
        "ix_safety_warnings_tenant_opened", "safety_warnings", ["tenant_id", "opened_at"], unique=False
    )
    op.create_index(
        "ix_safety_warnings_tenant_status", "safety_warnings", ["tenant_id", "status"], unique=False
    )
    op.create_index(op.f("ix_safety_warnings_unit_id"), "safety_warnings", ["unit_id"], unique=False)
    op.create_index(
        "uq_safety_warnings_tenant_number", "safety_warnings", ["tenant_id", "number"], unique=True
    )
    op.create_table(
        "safety_warning_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("warning_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["warning_id"],
            ["safety_warnings.id"],
            name=op.f("fk_safety_warning_events_warning_id_safety_warnings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_warning_events")),
    )
    op.create_index(
        op.f("ix_safety_warning_events_warning_id"), "safety_warning_events", ["warning_id"], unique=False
    )


def downgrade() -> None:

    op.drop_index(op.f("ix_safety_warning_events_warning_id"), table_name="safety_warning_events")
    op.drop_table("safety_warning_events")
    op.drop_index("uq_safety_warnings_tenant_number", table_name="safety_warnings")
    op.drop_index(op.f("ix_safety_warnings_unit_id"), table_name="safety_warnings")
    op.drop_index("ix_safety_warnings_tenant_status", table_name="safety_warnings")
    op.drop_index("ix_safety_warnings_tenant_opened", table_name="safety_warnings")
    op.drop_table("safety_warnings")
    op.drop_index("uq_safety_points_device_point", table_name="safety_points")
    op.drop_index(op.f("ix_safety_points_unit_id"), table_name="safety_points")
    op.drop_index("ix_safety_points_tenant", table_name="safety_points")
    op.drop_index(op.f("ix_safety_points_device_id"), table_name="safety_points")
    op.drop_table("safety_points")
    op.drop_index("uq_safety_failures_source", table_name="safety_failures")
    op.drop_index(op.f("ix_safety_failures_unit_id"), table_name="safety_failures")
    op.drop_index("ix_safety_failures_tenant_mode", table_name="safety_failures")
    op.drop_table("safety_failures")
    op.drop_table("retention_floors")
    op.drop_index("uq_safety_units_tenant_name", table_name="safety_units")
    op.drop_index(op.f("ix_safety_units_enterprise_id"), table_name="safety_units")
    op.drop_table("safety_units")
    op.drop_index("uq_safety_feature_libraries_tenant_version", table_name="safety_feature_libraries")
    op.drop_table("safety_feature_libraries")
    op.drop_index("uq_safety_enterprises_tenant_name", table_name="safety_enterprises")
    op.drop_index("ix_safety_enterprises_tenant_region", table_name="safety_enterprises")
    op.drop_table("safety_enterprises")
