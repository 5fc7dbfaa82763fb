"""Tables of rules and alarms, on the shared ``metadata`` so migrations and autogenerate see them.

``alarms.open_key`` is ``"<rule id>:<device id>"`` while an alarm is open (active or acknowledged) and
NULL once it is cleared: the unique constraint on it is the database's guarantee of one open alarm
per rule and device, on SQLite and PostgreSQL alike (both allow many NULLs under a unique constraint).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table

from indunet.store.metadata import ID, metadata

alarm_rules = Table(
    "alarm_rules",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("type_name", String(64), nullable=False),
    Column("device_id", ID, ForeignKey("devices.id", ondelete="CASCADE"), nullable=True),
    Column("severity", String(16), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("definition", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("uq_alarm_rules_tenant_name", "tenant_id", "name", unique=True),
)

alarms = Table(
    "alarms",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("rule_id", ID, ForeignKey("alarm_rules.id", ondelete="CASCADE"), nullable=False),
    Column("device_id", ID, ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", String(24), nullable=False),
    Column("open_key", String(80), nullable=True, unique=True),
    Column("message", String(500), nullable=False),
    Column("details", JSON, nullable=True),
    Column("count", Integer, nullable=False),
    Column("start_ts", BigInteger, nullable=False),
    Column("last_ts", BigInteger, nullable=False),
    Column("ack_by", String(300), nullable=True),
    Column("ack_ts", BigInteger, nullable=True),
    Column("cleared_by", String(300), nullable=True),
    Column("cleared_ts", BigInteger, nullable=True),
    Index("ix_alarms_tenant_status", "tenant_id", "status", "start_ts"),
    Index("ix_alarms_device", "device_id"),
)

alarm_comments = Table(
    "alarm_comments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alarm_id", ID, ForeignKey("alarms.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(300), nullable=False),
    Column("text", String(1000), nullable=False),
)

__all__ = ["alarm_comments", "alarm_rules", "alarms"]
