"""Alembic environment: runs on the connection the store hands over (see `db.migrate`)."""

from __future__ import annotations

from alembic import context

from polyfleet.service.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `db.migrate` runs migrations
    raise RuntimeError("polyfleet migrations run through polyfleet.service.db.migrate")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
