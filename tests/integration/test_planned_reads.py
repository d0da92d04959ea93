"""Reads that may lag (the dashboard, the stats, the map, the reports) plan each statement for its own values on
PostgreSQL: the driver prepares a statement run five times on a connection and the server may then hold it to
one generic plan, which for a figure's read (a compact's year, the chiefs of a compact) can read the province
instead of its slice. The steps and the other reads keep their prepared statements."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from riverchief.bootstrap import App
from tests.conftest import _app, drop_postgres_database, fresh_postgres_database
from tests.factories import COORDINATOR, World, load_world
from web.api import create_api
from workflow.accounts.signin import set_password
from workflow.core.clock import SHANGHAI, FrozenClock
from workflow.core.db import PLANNED
from workflow.core.uow import UnitOfWork
from workflow.reading.figures import stats

pytestmark = pytest.mark.postgres

PASSWORD = "琼江清水长流-2026"
YEAR = (datetime(2026, 1, 1, tzinfo=SHANGHAI), datetime(2027, 1, 1, tzinfo=SHANGHAI))


@pytest.fixture
def postgres_app(postgres_server: str, postgres_template: str, clock: FrozenClock, tmp_path: Path) -> Iterator[App]:
    url = fresh_postgres_database(postgres_server, postgres_template)
    try:
        yield from _app(url, clock, tmp_path)
    finally:
        drop_postgres_database(url)


def _prepared(conn: sa.Connection) -> int:
    """How many statements the server holds prepared for this connection."""
    return int(conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar_one())


def _prepared_by_stats(uow: UnitOfWork) -> int:
    """How many statements ten runs of the year's stats left prepared on the unit's connection."""
    with uow:
        before = _prepared(uow.connection)  # a pooled connection may hold some from its earlier users
        for _ in range(10):
            stats(uow.connection, "QJ", *YEAR)
        return _prepared(uow.connection) - before


def test_a_lagging_readers_statements_are_never_prepared_a_readers_are(postgres_app: App, clock: FrozenClock) -> None:
    load_world(postgres_app, clock)
    assert _prepared_by_stats(postgres_app.replica_reader()) == 0
    assert _prepared_by_stats(postgres_app.reader()) > 0  # the same reads on the primary's reader: prepared


def test_a_request_unit_plans_each_time_only_inside_its_lagging_block(postgres_app: App, clock: FrozenClock) -> None:
    world: World = load_world(postgres_app, clock)
    set_password(postgres_app.uow(), COORDINATOR, PASSWORD)
    unit = postgres_app.uow()
    with unit:
        for _ in range(6):
            unit.connection.exec_driver_sql("SELECT count(*) FROM issue WHERE compact_id = %(c)s", {"c": 1}).all()
        prepared = _prepared(unit.connection)
        with unit.planning():
            for _ in range(6):
                unit.connection.exec_driver_sql("SELECT count(*) FROM event WHERE issue_id = %(i)s", {"i": 1}).all()
            assert _prepared(unit.connection) == prepared  # nothing more prepared inside
        assert unit.planned is False
        for _ in range(6):
            unit.connection.exec_driver_sql("SELECT count(*) FROM event WHERE issue_id = %(i)s", {"i": 1}).all()
        assert _prepared(unit.connection) > prepared  # after it, prepared again
    # The dashboard's figures are read so: the request's unit, inside its lagging block.
    world.report(title="看板")
    clock.advance(minutes=1)
    seen: list[tuple[str, bool]] = []

    def keep(_conn: object, _cursor: object, statement: str, _params: object, context: Any, _many: bool) -> None:
        seen.append((statement, bool(context.execution_options.get(PLANNED))))

    with TestClient(create_api(postgres_app)) as client:
        assert client.post("/api/v1/session", json={"person": COORDINATOR, "password": PASSWORD}).status_code == 200
        sa.event.listen(postgres_app.engine, "before_cursor_execute", keep)
        try:
            assert client.get("/dashboard").status_code == 200
        finally:
            sa.event.remove(postgres_app.engine, "before_cursor_execute", keep)
    figures = [planned for statement, planned in seen if "event.trigger" in statement]
    assert figures
    assert all(figures)
    assert not seen[0][1]  # the sign-in's statement, before the block: prepared as any
