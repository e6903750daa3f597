"""Runs on the connection and version table the caller (``scheduler.db``) hands over."""

from alembic import context

from inbound.database import entra_tables, service_tables, tables

TABLE_MODULES = (tables, service_tables, entra_tables)
"""Every table module: each registers its tables on one ``MetaData`` when loaded."""
metadata = tables.metadata

config = context.config
context.configure(
    connection=config.attributes["connection"],
    target_metadata=metadata,
    version_table=config.attributes["version_table"],
    render_as_batch=True,
    include_name=lambda name, kind, _parent: kind != "table" or name in metadata.tables,
)
with context.begin_transaction():
    context.run_migrations()
