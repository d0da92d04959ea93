"""Alembic environment: the target is SQLModel's metadata; the engine comes from the caller."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import workflow.core.models  # noqa: F401  (registers the tables on the metadata)
from workflow.core.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    """Run against the connection handed in by ``riverchief init``, or the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        # One transaction for the whole upgrade on SQLite too (the engine sends BEGIN itself, so its DDL
        # is transactional), unless the caller already holds one.
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True, transactional_ddl=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
