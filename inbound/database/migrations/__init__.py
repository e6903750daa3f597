"""Alembic migrations of the tables in ``inbound.database.tables``."""
