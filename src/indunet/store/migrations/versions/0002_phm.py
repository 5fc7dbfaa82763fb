"""predictive maintenance: model registry, work orders

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
    op.create_table(
        "work_orders",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.JSON(), nullable=False),
        sa.Column("assignee", sa.String(length=320), nullable=True),
        sa.Column("due_ts", sa.BigInteger(), nullable=True),
        sa.Column("open_key", sa.String(length=120), nullable=True),
        sa.Column("opened_at", sa.BigInteger(), nullable=False),
        sa.Column("opened_by", sa.String(length=300), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", sa.BigInteger(), nullable=True),
        sa.Column("resolution", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_work_orders_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_work_orders_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
        sa.UniqueConstraint("open_key", name=op.f("uq_work_orders_open_key")),
    )
    op.create_index("uq_work_orders_tenant_number", "work_orders", ["tenant_id", "number"], unique=True)
    op.create_index("ix_work_orders_tenant_status", "work_orders", ["tenant_id", "status"], unique=False)
    op.create_index("ix_work_orders_device", "work_orders", ["device_id"], unique=False)
    op.create_table(
        "work_order_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_orders.id"],
            name=op.f("fk_work_order_events_order_id_work_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_events")),
    )
    op.create_index(op.f("ix_work_order_events_order_id"), "work_order_events", ["order_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_work_order_events_order_id"), table_name="work_order_events")
    op.drop_table("work_order_events")
    op.drop_index("ix_work_orders_device", table_name="work_orders")
    op.drop_index("ix_work_orders_tenant_status", table_name="work_orders")
    op.drop_index("uq_work_orders_tenant_number", table_name="work_orders")
    op.drop_table("work_orders")
    op.drop_index("ix_phm_models_tenant_stage", table_name="phm_models")
    op.drop_index("uq_phm_models_tenant_name_version", table_name="phm_models")
    op.drop_table("phm_models")
