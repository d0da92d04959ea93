"""Alembic environment: the target is SQLModel's metadata; the engine comes from the caller."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import workflow.core.models  # noqa: F401  (registers the tables on the metadata)
from workflow.core.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    """Run against the connection handed in by ``riverchief init``, or the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)


def _run(connection: Connection) -> None:
    """A transaction per migration, so that one can step out of it (``autocommit_block``) to build an index
    CONCURRENTLY; a connection handed in already inside a transaction keeps every migration in that one."""
    context.configure(
        connection=connection, target_metadata=target_metadata, render_as_batch=True, transaction_per_migration=True
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
