"""rules and alarms

Revision ID: 0002_rules_alarms
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_rules_alarms"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alarm_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("type_name", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_alarm_rules_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_alarm_rules_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_rules")),
    )
    with op.batch_alter_table("alarm_rules", schema=None) as batch_op:
        batch_op.create_index("uq_alarm_rules_tenant_name", ["tenant_id", "name"], unique=True)

    op.create_table(
        "alarms",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("rule_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("open_key", sa.String(length=80), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("start_ts", sa.BigInteger(), nullable=False),
        sa.Column("last_ts", sa.BigInteger(), nullable=False),
        sa.Column("ack_by", sa.String(length=300), nullable=True),
        sa.Column("ack_ts", sa.BigInteger(), nullable=True),
        sa.Column("cleared_by", sa.String(length=300), nullable=True),
        sa.Column("cleared_ts", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_alarms_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["alarm_rules.id"], name=op.f("fk_alarms_rule_id_alarm_rules"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_alarms_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
        sa.UniqueConstraint("open_key", name=op.f("uq_alarms_open_key")),
    )
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.create_index("ix_alarms_device", ["device_id"], unique=False)
        batch_op.create_index("ix_alarms_tenant_status", ["tenant_id", "status", "start_ts"], unique=False)

    op.create_table(
        "alarm_comments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alarm_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=300), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"], ["alarms.id"], name=op.f("fk_alarm_comments_alarm_id_alarms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_comments")),
    )
    with op.batch_alter_table("alarm_comments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarm_comments_alarm_id"), ["alarm_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alarm_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarm_comments_alarm_id"))
    op.drop_table("alarm_comments")
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_index("ix_alarms_tenant_status")
        batch_op.drop_index("ix_alarms_device")
    op.drop_table("alarms")
    with op.batch_alter_table("alarm_rules", schema=None) as batch_op:
        batch_op.drop_index("uq_alarm_rules_tenant_name")
    op.drop_table("alarm_rules")
