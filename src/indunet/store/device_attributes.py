"""Device attributes in the ThingsBoard sense: client-scope ones a device reports about itself, and
shared-scope ones engineers set for the device to read (and be told about when they change)."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, String, Table

from indunet.store.metadata import ID, metadata

SCOPES = ("client", "shared")

device_attributes = Table(
    "device_attributes",
    metadata,
    Column("device_id", ID, ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True),
    Column("scope", String(8), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", JSON, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
)
