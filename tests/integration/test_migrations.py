"""The migrations build exactly the schema the models describe, on each dialect."""

import importlib.util
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from riverchief.bootstrap import App
from riverchief.demo.play import DATA
from riverchief.migrate import alembic_config, current, upgrade
from tests.factories import RECEIVER, RECEIVING_CODE, REPORTER, World, walk_to
from workflow.core.drawing import DRAWN_COLUMNS, drawn_columns, segment_line
from workflow.core.models import MapFeature, Segment, line_box, table_of
from workflow.maps.layers import import_layers, read_layers
from workflow.patrols.completion import _patrol_counts
from workflow.reading.practice import patrol_counts


def down_to(engine: Engine, revision: str) -> None:
    """Downgrade to ``revision`` as ``upgrade`` goes up: on a connection not begun, each migration in its own
    transaction, so that one may step out of it (PostgreSQL's DROP/CREATE INDEX CONCURRENTLY)."""
    config = alembic_config(engine)
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def test_migrations_match_the_models(app: App) -> None:
    with app.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert differences == []


def test_upgrading_an_up_to_date_database_changes_nothing(app: App) -> None:
    before = current(app.engine)
    assert upgrade(app.engine) == (before, before)


def test_the_step_indexes_migration_goes_down_and_up_again(app: App) -> None:
    down_to(app.engine, "0013")
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


def test_the_segment_box_migration_fills_the_box_of_every_segment_written_before_it(world: World) -> None:
    engine = world.app.engine
    down_to(engine, "0014")
    with engine.connect() as conn:
        assert "min_lon" not in {c["name"] for c in sa.inspect(conn).get_columns("segment")}
        lines = dict(conn.execute(sa.text("SELECT code, geometry FROM segment")).all())
    upgrade(engine)  # on PostgreSQL, the batches and CREATE INDEX CONCURRENTLY outside a transaction
    with engine.connect() as conn:
        boxes = {
            row.code: {"min_lon": row.min_lon, "min_lat": row.min_lat, "max_lon": row.max_lon, "max_lat": row.max_lat}
            for row in conn.execute(sa.text("SELECT code, min_lon, min_lat, max_lon, max_lat FROM segment"))
        }
        assert "ix_segment_box" in {ix["name"] for ix in sa.inspect(conn).get_indexes("segment")}
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    parsed = {code: json.loads(line) if isinstance(line, str) else line for code, line in lines.items()}
    assert any(parsed.values())
    assert boxes == {code: line_box(line) for code, line in parsed.items()}


def test_the_event_waits_index_goes_down_and_up_again_built_concurrently_on_postgresql(app: App) -> None:
    down_to(app.engine, "0014")
    with app.engine.connect() as conn:
        assert "ix_event_waits" not in {ix["name"] for ix in sa.inspect(conn).get_indexes("event")}
    assert upgrade(app.engine)[0] == "0014"  # on PostgreSQL outside the upgrade's transaction
    with app.engine.connect() as conn:
        (index,) = [ix for ix in sa.inspect(conn).get_indexes("event") if ix["name"] == "ix_event_waits"]
        assert index["column_names"] == ["issue_id", "seq", "to_state", "due_at", "occurred_at"]
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
        if conn.dialect.name == "postgresql":  # whole and partial: only the state changes
            valid, predicate = conn.execute(
                sa.text(
                    "SELECT indisvalid, pg_get_expr(indpred, indrelid) FROM pg_index "
                    "WHERE indexrelid = 'ix_event_waits'::regclass"
                )
            ).one()
            assert valid
            assert predicate == "((from_state)::text <> (to_state)::text)"
        else:
            sql = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = 'ix_event_waits'")).scalar_one()
            assert sql.endswith("WHERE from_state <> to_state")


def test_the_event_period_indexes_migration_goes_down_and_up_again(app: App) -> None:
    names = {"ix_event_issue_occurred", "ix_event_trigger_occurred"}
    down_to(app.engine, "0014")
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


def _patrol_plan(app: App, index: str, read: Callable[[sa.Connection], object]) -> str:
    """The plan of the first patrol statement ``read`` sends (for the practice's figures, the count by kind),
    with every other index of patrol dropped and sequential scans priced out (in a transaction rolled back):
    it names ``index`` if the statement's conditions imply the index's predicate."""
    seen: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if "FROM patrol" in statement:
            seen.append((statement, parameters))

    postgresql = app.engine.dialect.name == "postgresql"
    with app.engine.connect() as conn:
        sa.event.listen(app.engine, "before_cursor_execute", keep)
        try:
            read(conn)
        finally:
            sa.event.remove(app.engine, "before_cursor_execute", keep)
        (statement, parameters), *_ = seen
        for other in {ix["name"] for ix in sa.inspect(conn).get_indexes("patrol")} - {index}:
            conn.execute(sa.text(f"DROP INDEX {other}"))
        if postgresql:
            conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        explain = "EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN "
        plan = "\n".join(str(row[-1]) for row in conn.exec_driver_sql(explain + statement, parameters))
        conn.rollback()
    return plan


def test_the_finished_patrols_by_segment_index_goes_down_and_up_and_serves_the_practice_count(app: App) -> None:
    down_to(app.engine, "0018")
    with app.engine.connect() as conn:
        assert "ix_patrol_done_segment" not in {ix["name"] for ix in sa.inspect(conn).get_indexes("patrol")}
    assert upgrade(app.engine)[0] == "0018"  # on PostgreSQL CONCURRENTLY, outside the upgrade's transaction
    with app.engine.connect() as conn:
        (index,) = [ix for ix in sa.inspect(conn).get_indexes("patrol") if ix["name"] == "ix_patrol_done_segment"]
        assert index["column_names"] == ["segment_id", "started_at", "patroller_id", "kind", "id"]
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    members = ["/500000/500101/"]
    since, until = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    # The practice's count, planned through it once the other ways to the patrols are gone.
    plan = _patrol_plan(app, "ix_patrol_done_segment", lambda conn: patrol_counts(conn, members, since, until))
    assert "ix_patrol_done_segment" in plan, plan


def test_the_finished_patrols_by_chief_index_goes_down_and_up_and_serves_the_completion_count(app: App) -> None:
    down_to(app.engine, "0019")
    with app.engine.connect() as conn:
        assert "ix_patrol_done_patroller" not in {ix["name"] for ix in sa.inspect(conn).get_indexes("patrol")}
    assert upgrade(app.engine)[0] == "0019"  # on PostgreSQL CONCURRENTLY, outside the upgrade's transaction
    with app.engine.connect() as conn:
        (index,) = [ix for ix in sa.inspect(conn).get_indexes("patrol") if ix["name"] == "ix_patrol_done_patroller"]
        assert index["column_names"] == ["patroller_id", "started_at", "kind"]
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    # The count the completion sends, planned through it once the other ways to the patrols are gone.
    plan = _patrol_plan(
        app,
        "ix_patrol_done_patroller",
        lambda conn: _patrol_counts(conn, date(2026, 1, 1), date(2026, 12, 1), [1, 2, 3]),
    )
    assert "ix_patrol_done_patroller" in plan, plan


def _event_compacts(engine: Engine) -> list[tuple[Any, Any]]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.text("SELECT e.compact_id, i.compact_id FROM event e JOIN issue i ON i.id = e.issue_id")
            ).all()
        )


def test_the_compact_on_the_ledger_is_filled_for_the_events_written_before_it_and_goes_down_again(
    world: World,
) -> None:
    engine = world.app.engine
    for title in ("白马镇段排污口", "太安镇段养殖废水"):
        walk_to(world, world.report(title=title), "accept")
    down_to(engine, "0020")
    with engine.connect() as conn:
        assert "compact_id" not in {c["name"] for c in sa.inspect(conn).get_columns("event")}
        assert "ix_event_compact_trigger_occurred" not in {ix["name"] for ix in sa.inspect(conn).get_indexes("event")}
    # 0002's triggers again: no UPDATE of an event at all.
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text("UPDATE event SET actor_code = actor_code"))

    assert upgrade(engine)[0] == "0020"  # on PostgreSQL the batches and the index outside a transaction

    filled = _event_compacts(engine)
    assert len(filled) >= 6  # two issues reported, handed off and accepted
    assert [pair for pair in filled if pair[0] is None or pair[0] != pair[1]] == []
    with engine.connect() as conn:
        (index,) = [
            ix for ix in sa.inspect(conn).get_indexes("event") if ix["name"] == "ix_event_compact_trigger_occurred"
        ]
        assert index["column_names"] == ["compact_id", "trigger", "occurred_at"]
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
        if conn.dialect.name == "postgresql":
            built = _valid_index(conn, "ix_event_compact_trigger_occurred")
            assert built.endswith("(compact_id, trigger, occurred_at) INCLUDE (issue_id)")
    # The steps go on with their compact, and the filled ones stay as they are.
    code = world.report(title="交界处垃圾堆放")
    world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    world.fire(code, "accept", RECEIVER)
    assert [pair for pair in _event_compacts(engine) if pair[0] != pair[1]] == []
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text("UPDATE event SET compact_id = NULL"))


def _migration(name: str) -> ModuleType:
    """A migration's module, loaded from its file (the versions folder is no package)."""
    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / name
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_map_drawn_migration_fills_every_feature_and_segment_line_written_before_it(world: World) -> None:
    import_layers(world.app.uow(), read_layers(DATA.parent, "qiongjiang"))
    engine = world.app.engine
    down_to(engine, "0021")
    with engine.connect() as conn:
        for table in ("map_feature", "segment"):
            assert not set(DRAWN_COLUMNS) & {c["name"] for c in sa.inspect(conn).get_columns(table)}
    assert upgrade(engine)[0] == "0021"  # on PostgreSQL each batch committed on its own
    feature, segment = table_of(MapFeature), table_of(Segment)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
        features = conn.execute(sa.select(feature.c.geometry, *(feature.c[c] for c in DRAWN_COLUMNS))).all()
        segments = conn.execute(sa.select(segment.c.geometry, *(segment.c[c] for c in DRAWN_COLUMNS))).all()
    assert len(features) > 20
    assert any(s.geometry for s in segments)
    for row in features:
        assert dict(row._mapping) == {"geometry": row.geometry, **drawn_columns(row.geometry)}
    for row in segments:
        line = segment_line(row.geometry) if row.geometry else None
        assert dict(row._mapping) == {"geometry": row.geometry, **drawn_columns(line)}


# Geometries of every kind a layer takes, and some it refuses, for the migration's copy of the drawing.
ODD_GEOMETRIES: list[dict[str, Any]] = [
    {"type": "Polygon", "coordinates": [[[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3], [0, 0]]]},
    {
        "type": "MultiPolygon",
        "coordinates": [
            [[[105.0, 30.0], [105.1, 30.0], [105.1, 30.1], [105.0, 30.0]]],
            [[[105.2, 30.0], [105.5, 30.0], [105.5, 30.3], [105.2, 30.3], [105.2, 30.0]]],
        ],
    },
    {"type": "MultiLineString", "coordinates": [[[105.0, 30.0], [105.01, 30.2]], [[105.1, 30.0], [105.4, 30.02]]]},
    {"type": "LineString", "coordinates": [[105.0, 30.0, 250.0], [105.001, 30.0004, 251.0], [105.2, 30.05, 240.0]]},
    {"type": "Point", "coordinates": [105.7, 30.2]},
    {"type": "MultiPoint", "coordinates": [[105.7, 30.2], [105.8, 30.3]]},
    {
        "type": "Polygon",
        "coordinates": [[[105.7, 30.1], [105.72, 30.12], [105.72, 30.1], [105.7, 30.12], [105.7, 30.1]]],
    },
    {"type": "Polygon", "coordinates": []},
    {"type": "LineString", "coordinates": [[105.0]]},
]


def test_the_map_drawn_migration_draws_as_the_project_does() -> None:
    """The migration keeps its own copy of ``workflow.core.drawing`` (a migration keeps what it ran): the same
    columns for the demo's every feature and line and for geometries of every kind."""
    migration = _migration("0022_map_drawn.py")
    layers = read_layers(DATA.parent, "qiongjiang")
    geometries = [f["geometry"] for layer in layers.values() for f in layer["features"]] + ODD_GEOMETRIES
    assert migration.COLUMNS == DRAWN_COLUMNS
    for geometry in geometries:
        # As stored: each through JSON, as the columns keep them.
        expected = json.loads(json.dumps(drawn_columns(geometry)))
        assert json.loads(json.dumps(migration.drawn_columns(geometry))) == expected, geometry


def test_the_issue_side_indexes_go_down_and_up_again_built_concurrently_on_postgresql(app: App) -> None:
    names = {"ix_issue_reporting_created", "ix_issue_receiving_created"}
    down_to(app.engine, "0022")
    with app.engine.connect() as conn:
        assert not names & {ix["name"] for ix in sa.inspect(conn).get_indexes("issue")}
    assert upgrade(app.engine)[0] == "0022"  # on PostgreSQL outside the upgrade's transaction
    with app.engine.connect() as conn:
        built = {ix["name"]: ix["column_names"] for ix in sa.inspect(conn).get_indexes("issue") if ix["name"] in names}
        assert built == {
            "ix_issue_reporting_created": ["reporting_jurisdiction_id", "created_at", "id"],
            "ix_issue_receiving_created": ["receiving_jurisdiction_id", "created_at", "id"],
        }
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
        if conn.dialect.name == "postgresql":
            valid = conn.execute(
                sa.text(
                    "SELECT bool_and(indisvalid) FROM pg_index"
                    " WHERE indexrelid::regclass::text IN ('ix_issue_reporting_created', 'ix_issue_receiving_created')"
                )
            ).scalar_one()
            assert valid


def _valid_index(conn: sa.Connection, name: str) -> str:
    """A PostgreSQL index's definition, once it is asserted valid (built whole, as CONCURRENTLY may not)."""
    valid, built = conn.execute(
        sa.text(
            "SELECT indisvalid, pg_get_indexdef(indexrelid) FROM pg_index WHERE indexrelid = CAST(:name AS regclass)"
        ),
        {"name": name},
    ).one()
    assert valid, name
    return str(built)


def _issue_indexes(engine: Engine) -> dict[str, list[str | None]]:
    with engine.connect() as conn:
        return {ix["name"]: ix["column_names"] for ix in sa.inspect(conn).get_indexes("issue") if ix["name"]}


def test_the_compact_sides_index_replaces_the_compact_index_and_goes_down_again(world: World) -> None:
    engine = world.app.engine
    walk_to(world, world.report(title="白马镇段排污口"), "accept")
    down_to(engine, "0023")
    indexes = _issue_indexes(engine)
    assert indexes["ix_issue_compact_id"] == ["compact_id"]
    assert "ix_issue_compact_sides" not in indexes

    assert upgrade(engine)[0] == "0023"  # on PostgreSQL built and dropped outside a transaction

    indexes = _issue_indexes(engine)
    assert indexes["ix_issue_compact_sides"] == ["compact_id", "id"]
    assert "ix_issue_compact_id" not in indexes  # replaced: a step writes no more index entries than before
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
        if conn.dialect.name == "postgresql":
            built = _valid_index(conn, "ix_issue_compact_sides")
            assert built.endswith(
                "(compact_id, id) INCLUDE (reporting_jurisdiction_id, receiving_jurisdiction_id, duplicate_of_id)"
            )
