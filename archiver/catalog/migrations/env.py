"""Alembic environment: migrations run on a connection the caller hands in."""

from alembic import context

from archiver.catalog.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
