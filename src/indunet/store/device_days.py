"""One row per device and day: what the equipment indices are computed from.

A day is a calendar day in the installation's time zone (``indices_timezone``); seconds are
connected and working time within it, counts what the device's counters added (parts made, parts
rejected), ``ideal_s`` the ideal cycle time of what was made (OEE's performance), ``energy_kwh`` what
its energy meter counted. Rows are rewritten
whole when a day is rolled up again, so a late sample only needs that day recomputed.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, ForeignKey, Index, String, Table

from indunet.store.metadata import ID, metadata

device_days = Table(
    "device_days",
    metadata,
    Column("device_id", ID, ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("connected_s", Float, nullable=False),
    Column("working_s", Float, nullable=False),
    Column("planned_s", Float, nullable=False),
    Column("produced", Float, nullable=False),
    Column("rejected", Float, nullable=False),
    Column("ideal_s", Float, nullable=False),
    Column("energy_kwh", Float, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_device_days_tenant_day", "tenant_id", "day"),
)
