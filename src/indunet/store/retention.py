"""Retention floors: series whose samples must be kept longer than their tenant's retention says.

An application that relies on a series as a record (the safety app's monitoring points must be kept at
least 30 days, whatever the tenant's retention) writes the series' floor here; the retention job keeps
each series for the longer of the two.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table

from indunet.store.metadata import metadata

retention_floors = Table(
    "retention_floors",
    metadata,
    Column("series_id", Integer, ForeignKey("series.id", ondelete="CASCADE"), primary_key=True),
    Column("owner", String(32), primary_key=True),
    Column("min_days", Integer, nullable=False),
)

__all__ = ["retention_floors"]
