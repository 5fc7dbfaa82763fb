"""predictive maintenance: model registry

Revision ID: 0002_phm
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_phm"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "phm_models",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("target_type", sa.String(length=64), nullable=False),
        sa.Column("target_device", sa.String(length=36), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("lineage", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=300), nullable=False),
        sa.Column("promoted_at", sa.BigInteger(), nullable=True),
        sa.Column("rule_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_phm_models_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["target_device"],
            ["devices.id"],
            name=op.f("fk_phm_models_target_device_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phm_models")),
    )
    op.create_index(
        "uq_phm_models_tenant_name_version", "phm_models", ["tenant_id", "name", "version"], unique=True
    )
    op.create_index("ix_phm_models_tenant_stage", "phm_models", ["tenant_id", "stage"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_phm_models_tenant_stage", table_name="phm_models")
    op.drop_index("uq_phm_models_tenant_name_version", table_name="phm_models")
    op.drop_table("phm_models")
