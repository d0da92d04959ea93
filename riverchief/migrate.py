"""Creates or upgrades a database with the project's Alembic migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

import migrations

SCRIPT_LOCATION = Path(migrations.__file__).parent


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at our migrations and the engine's database."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the database to the newest revision; returns (revision before, revision after)."""
    config = alembic_config(engine)
    with engine.connect() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
    # Each migration commits on its own (env.py), so that one may build an index outside any transaction
    # (PostgreSQL's CREATE INDEX CONCURRENTLY, in an autocommit block).
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    # What the database says now, not the newest script on disk: a script added while a long upgrade ran
    # (a deploy beside it) was not applied, and saying it was would send nobody to run it.
    return before, current(engine) or ""


def current(engine: Engine) -> str | None:
    """The database's revision, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
