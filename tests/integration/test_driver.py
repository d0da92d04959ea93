"""Statements sent through the driver (``workflow.core.driver.Direct``) read, write, fail and are seen as
SQLAlchemy's own execution of the same statement would."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests.factories import RECEIVER, RECEIVING_CODE, REPORTER, World, walk_to
from workflow.accounts.tokens import _BY_TOKEN, create_token
from workflow.accounts.tokens import _hash as token_digest
from workflow.core import services
from workflow.core.actors import caller_read
from workflow.core.driver import Direct
from workflow.core.models import Issue, IssueCounter, Person, table_of

_issue = table_of(Issue)
_counter = table_of(IssueCounter)


def both(conn: sa.Connection, direct: Direct, params: dict[str, Any]) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """The rows SQLAlchemy reads for the statement, and the rows ``direct`` reads, as plain tuples."""
    theirs = [tuple(row) for row in conn.execute(direct.statement, params)]
    ours = direct.rows(conn, params)
    return theirs, ours


def test_an_issue_loads_the_same_through_the_driver_with_its_check_round(world: World) -> None:
    code = world.report()
    walk_to(world, code, "pass_check")  # the receiving side has signed: the round's columns are not empty
    with world.app.reader() as uow:
        conn = uow.connection
        for (by_code, _lock, check_round), direct in services._LOADS.items():
            if _lock:
                continue
            key = code if by_code else world.issue(code).id
            theirs, ours = both(conn, direct, {"key": key})
            assert [tuple(row) for row in ours] == theirs
            row = ours[0]
            # Columns by name, processed as SQLAlchemy processes them (aware datetimes, dates).
            assert row.code == code
            assert row._mapping["state"] == row.state
            assert row.waiting_since.tzinfo is not None
            assert row.rectify_deadline is not None
            assert type(row.rectify_deadline) is type(theirs[0][10])
            if check_round:
                assert row.signed == "receiving"


def test_the_caller_and_the_issue_beside_read_the_same_through_the_driver(world: World) -> None:
    code = world.report()
    _, token = create_token(world.app.uow(), RECEIVER, "phone")
    beside = services.step_beside(code, "progress")
    read = caller_read(_BY_TOKEN, beside.statement)
    with world.app.reader() as uow:
        theirs, ours = both(uow.connection, read, {**beside.params, "digest": token_digest(token)})
        assert [tuple(row) for row in ours] == theirs
        assert len(ours) >= 2
        # Each kind of caller statement is built once and kept.
        assert caller_read(_BY_TOKEN, beside.statement) is read
        assert caller_read(_BY_TOKEN) is caller_read(_BY_TOKEN) is not read


def test_a_statement_through_the_driver_is_seen_by_the_engines_events_and_can_be_stopped_there(world: World) -> None:
    code = world.report()
    seen: list[tuple[str, str]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append(("before", statement))
        if "UPDATE issue" in statement:
            raise RuntimeError("stopped before the write")

    def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(("after", statement))

    sa.event.listen(world.app.engine, "before_cursor_execute", before)
    sa.event.listen(world.app.engine, "after_cursor_execute", after)
    try:
        with world.app.reader() as uow:
            services._LOADS[True, False, False].first(uow.connection, {"key": code})
        loaded = [when for when, statement in seen if "FROM issue" in statement]
        assert loaded == ["before", "after"]
        before_version = world.issue(code).version
        with pytest.raises(RuntimeError, match="stopped before the write"):
            world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    finally:
        sa.event.remove(world.app.engine, "before_cursor_execute", before)
        sa.event.remove(world.app.engine, "after_cursor_execute", after)
    assert world.issue(code).version == before_version  # nothing of the step was written


def test_a_read_only_unit_refuses_a_write_through_the_driver_and_writes_nothing(world: World) -> None:
    code = world.report()
    rename = Direct(_issue.update().where(_issue.c.code == sa.bindparam("b_code")).values(title=sa.bindparam("t")))
    with world.app.reader() as uow, pytest.raises(RuntimeError, match="read-only unit of work may not write"):
        rename.write(uow.connection, {"b_code": code, "t": "改了"})
    assert world.issue(code).title != "改了"
    with world.app.uow() as uow:
        written = rename.write(uow.connection, {"b_code": code, "t": "改了"})
        uow.commit()
    assert written.rowcount == 1
    assert world.issue(code).title == "改了"


def test_a_drivers_error_is_sqlalchemys_and_the_unit_goes_on_after_its_rollback(world: World) -> None:
    world.report()  # the compact's counter for this year exists now
    again = Direct(_counter.insert(), column_keys=("compact_id", "year", "last"))
    with world.app.uow() as uow:
        kept = uow.connection.execute(sa.select(_counter.c.compact_id, _counter.c.year)).one()
        with pytest.raises(sa.exc.IntegrityError):
            again.write(uow.connection, {"compact_id": kept.compact_id, "year": kept.year, "last": 0})
        uow.rollback()
        assert uow.connection.execute(sa.select(sa.func.count()).select_from(_counter)).scalar() == 1


def test_a_statement_the_driver_cannot_send_alone_is_refused_when_first_used(world: World) -> None:
    person = table_of(Person)
    listed = Direct(sa.select(person.c.id).where(person.c.code.in_(sa.bindparam("codes", expanding=True))))
    with world.app.reader() as uow, pytest.raises(ValueError, match="expand a list"):
        listed.rows(uow.connection, {"codes": ["a", "b"]})
