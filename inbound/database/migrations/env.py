"""Runs on the connection and version table the caller (``scheduler.db``) hands over."""

from alembic import context

from inbound.database.tables import metadata

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
