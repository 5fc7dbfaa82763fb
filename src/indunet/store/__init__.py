"""Storage: the metadata database (SQLAlchemy Core + Alembic) and the time-series store."""
