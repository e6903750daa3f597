"""Alembic migrations of the tables in ``inbound.staging.tables``."""
