"""The queries of live issues say what the partial index ix_issue_live_created says, so the database can use it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from states.chart import TERMINAL_STATES
from tests.factories import RECEIVER, World
from workflow.reading.issues import list_issues
from workflow.reading.worklist import open_issues


def _index_predicate(conn: sa.Connection) -> str:
    if conn.dialect.name == "postgresql":
        sql = "SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = 'ix_issue_live_created'::regclass"
    else:
        sql = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'ix_issue_live_created'"
    return str(conn.execute(sa.text(sql)).scalar_one())


def test_the_built_index_leaves_out_exactly_the_charts_terminal_states(world: World) -> None:
    with world.app.engine.connect() as conn:
        predicate = _index_predicate(conn)
    assert set(re.findall(r"'([a-z._]+)'", predicate)) == TERMINAL_STATES, predicate


@contextmanager
def _statements(world: World) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if "FROM issue" in statement:
            seen.append((statement, parameters))

    sa.event.listen(world.app.engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        sa.event.remove(world.app.engine, "before_cursor_execute", keep)


def _plan(world: World, read: Callable[[], Any]) -> str:
    """The plan of the issue statement ``read`` sends, with every other index of issue dropped and sequential
    scans priced out (in a transaction rolled back): it names ix_issue_live_created if the database can prove
    the statement asks only for issues the index holds."""
    with _statements(world) as seen:
        read()
    (statement, parameters), *_ = seen
    postgresql = world.app.engine.dialect.name == "postgresql"
    raw = world.app.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SET LOCAL enable_seqscan = off" if postgresql else "BEGIN")
        for index in ("ix_issue_compact_sides", "ix_issue_state", "ix_issue_created"):
            cursor.execute(f"DROP INDEX {index}")
        cursor.execute(("EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN ") + statement, parameters)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())
    finally:
        raw.rollback()
        raw.close()


def test_the_queue_and_the_waiting_list_are_read_through_the_live_index(world: World) -> None:
    for _ in range(3):
        world.report()
    with world.app.reader() as uow:
        queue = _plan(world, lambda: open_issues(uow.connection, world.actor(RECEIVER)))
        waiting = _plan(
            world, lambda: list_issues(uow.session, now=world.clock.now(), compact="QJ", waiting_on="reporting")
        )
        phase = _plan(world, lambda: list_issues(uow.session, now=world.clock.now(), compact="QJ", phase="ban"))
        everything = _plan(world, lambda: list_issues(uow.session, now=world.clock.now(), compact="QJ"))
    for plan in (queue, waiting, phase):
        assert "ix_issue_live_created" in plan, plan
    assert "ix_issue_live_created" not in everything  # closed and ended issues are listed too
