"""Alembic migrations of the tables in ``connectors.identity_store.tables``."""
