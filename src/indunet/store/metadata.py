"""Tables of the metadata database, shared by SQLite and PostgreSQL.

Identifiers are UUID text (unguessable across tenants); every tenant-owned row carries ``tenant_id`` so
each query can be scoped by it. Times are integer microseconds since the epoch (``core.timeutil``).
JSON columns hold small documents (labels, location, attributes, model definitions, audit images).
Schema changes go through Alembic (``store/migrations``); these definitions are its autogenerate source.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

ID = String(36)

tenants = Table(
    "tenants",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("retention_days", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("secret_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "name", name="uq_api_keys_tenant_name"),
)

device_types = Table(
    "device_types",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("version", String(32), nullable=False),
    Column("definition", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "name", name="uq_device_types_tenant_name"),
)

devices = Table(
    "devices",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("type_name", String(64), nullable=False),
    Column("labels", JSON, nullable=False),
    Column("location", JSON, nullable=True),
    Column("attributes", JSON, nullable=False),
    Column("twin_version", Integer, nullable=False, default=0),
    Column("last_seen", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "name", name="uq_devices_tenant_name"),
    Index("ix_devices_tenant_type", "tenant_id", "type_name"),
)

device_tokens = Table(
    "device_tokens",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("device_id", ID, ForeignKey("devices.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("secret_hash", String(200), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
)

series = Table(
    "series",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("device_id", ID, ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
    Column("point", String(64), nullable=False),
    UniqueConstraint("device_id", "point", name="uq_series_device_point"),
)

twin_desired = Table(
    "twin_desired",
    metadata,
    Column("device_id", ID, ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True),
    Column("point", String(64), primary_key=True),
    Column("value", JSON, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
)

twin_revisions = Table(
    "twin_revisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("device_id", ID, ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(300), nullable=False),
    Column("part", String(16), nullable=False),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Index("ix_twin_revisions_device_version", "device_id", "version"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", ID, nullable=True),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(300), nullable=False),
    Column("action", String(32), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_id", String(200), nullable=True),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Column("request_id", String(64), nullable=True),
    Column("client", String(64), nullable=True),
    Index("ix_audit_log_tenant_id", "tenant_id", "id"),
)

__all__ = [
    "api_keys",
    "audit_log",
    "device_tokens",
    "device_types",
    "devices",
    "metadata",
    "series",
    "tenants",
    "twin_desired",
    "twin_revisions",
    "users",
]
from indunet.store import device_attributes as _device_attributes  # noqa: E402, F401 - registers its tables
from indunet.store import device_days as _device_days  # noqa: E402, F401 - registers its table on metadata
from indunet.store import phm as _phm  # noqa: E402, F401 - registers its table on metadata
from indunet.store import retention as _retention  # noqa: E402, F401 - registers its table on metadata
from indunet.store import rules_alarms as _rules_alarms  # noqa: E402, F401 - registers its tables on metadata
from indunet.store import safety as _safety  # noqa: E402, F401 - registers its tables on metadata
