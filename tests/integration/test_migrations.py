"""The migrations build exactly the schema the models describe, on each dialect."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from riverchief.bootstrap import App
from riverchief.migrate import current, upgrade


def test_migrations_match_the_models(app: App) -> None:
    with app.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert differences == []


def test_upgrading_an_up_to_date_database_changes_nothing(app: App) -> None:
    before = current(app.engine)
    assert upgrade(app.engine) == (before, before)
