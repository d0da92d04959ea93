"""The migrations build exactly the schema the models describe, on each dialect."""

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from riverchief.bootstrap import App
from riverchief.migrate import alembic_config, current, upgrade


def test_migrations_match_the_models(app: App) -> None:
    with app.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert differences == []


def test_upgrading_an_up_to_date_database_changes_nothing(app: App) -> None:
    before = current(app.engine)
    assert upgrade(app.engine) == (before, before)


def test_the_step_indexes_migration_goes_down_and_up_again(app: App) -> None:
    config = alembic_config(app.engine)
    with app.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0013")
    with app.engine.connect() as conn:
        names = {ix["name"] for ix in sa.inspect(conn).get_indexes("issue")}
    assert {"ix_issue_reporting_jurisdiction_id", "ix_issue_receiving_jurisdiction_id"} <= names
    upgrade(app.engine)
    with app.engine.connect() as conn:
        inspector = sa.inspect(conn)
        names = {ix["name"] for ix in inspector.get_indexes("issue")}
        assert not {"ix_issue_reporting_jurisdiction_id", "ix_issue_receiving_jurisdiction_id"} & names
        assert "ix_outbox_issue_id" not in {ix["name"] for ix in inspector.get_indexes("outbox")}
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
        if conn.dialect.name == "postgresql":  # room on each page for a step's heap-only update
            options = conn.execute(sa.text("SELECT reloptions FROM pg_class WHERE relname = 'issue'")).scalar()
            assert options == ["fillfactor=90"]


def test_the_event_period_indexes_migration_goes_down_and_up_again(app: App) -> None:
    config = alembic_config(app.engine)
    names = {"ix_event_issue_occurred", "ix_event_trigger_occurred"}
    with app.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0014")
    with app.engine.connect() as conn:
        assert not names & {ix["name"] for ix in sa.inspect(conn).get_indexes("event")}
    upgrade(app.engine)  # on PostgreSQL CONCURRENTLY, which refuses to run inside a transaction
    with app.engine.connect() as conn:
        columns = {ix["name"]: ix["column_names"][:2] for ix in sa.inspect(conn).get_indexes("event")}
        assert columns["ix_event_issue_occurred"] == ["issue_id", "occurred_at"]
        assert columns["ix_event_trigger_occurred"] == ["trigger", "occurred_at"]
        if conn.dialect.name == "postgresql":  # whole, and carrying the other column for index-only scans
            built = dict(
                conn.execute(
                    sa.text(
                        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
                        " JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'ix_event_%_occurred'"
                        " AND i.indisvalid"
                    )
                ).all()
            )
            assert built["ix_event_issue_occurred"].endswith("(issue_id, occurred_at) INCLUDE (trigger)")
            assert built["ix_event_trigger_occurred"].endswith("(trigger, occurred_at) INCLUDE (issue_id)")
