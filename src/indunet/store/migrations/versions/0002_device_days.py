"""device days (equipment indices)

Revision ID: 0002_device_days
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_device_days"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_days",
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("connected_s", sa.Float(), nullable=False),
        sa.Column("working_s", sa.Float(), nullable=False),
        sa.Column("planned_s", sa.Float(), nullable=False),
        sa.Column("produced", sa.Float(), nullable=False),
        sa.Column("rejected", sa.Float(), nullable=False),
        sa.Column("ideal_s", sa.Float(), nullable=False),
        sa.Column("energy_kwh", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_days_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_device_days_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("device_id", "day", name=op.f("pk_device_days")),
    )
    op.create_index("ix_device_days_tenant_day", "device_days", ["tenant_id", "day"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_device_days_tenant_day", table_name="device_days")
    op.drop_table("device_days")
