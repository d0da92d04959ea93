"""An issue's GET and a step's POST run on the event loop, and never hold it up while they wait.

On SQLite the database is a file this process reads: a small read or one step costs CPU, not a wait, and the
trip through the thread pool cost more than the work under many clients (bench/README.md). A writer that would
wait for SQLite's write lock goes to the thread pool instead, so the other requests are answered meanwhile.
On PostgreSQL the statements wait on the network: they run on the loop through its own engine (psycopg's asyncio
driver), which hands the loop back while the server works or a row lock is held, so the others go on meanwhile.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.factories import World, walk_to
from workflow.core.db import PLANNED, make_loop_engine

POOL_THREAD = "AnyIO worker thread"  # the name anyio gives the thread pool's threads


def _threads_of_statements(world: World, engine: Engine | None = None) -> list[str]:
    """The names of the threads the statements run on from now on: on ``engine``, else on any of the app's
    (its own and each serving loop's)."""
    names: list[str] = []
    engines = [engine] if engine else [world.app.engine, *(loop.sync_engine for loop in world.app.loop_engines)]

    def _seen(*_args: Any) -> None:
        names.append(threading.current_thread().name)

    for watched in engines:
        event.listen(watched, "before_cursor_execute", _seen)
    return names


def _progress(version: int) -> dict[str, Any]:
    return {"trigger": "progress", "payload": {"note": "清淤过半", "percent": 50}, "expected_version": version}


def test_an_issues_get_and_a_step_run_where_their_database_wants_them(world: World, receiver_api: TestClient) -> None:
    code = world.report()
    walk_to(world, code, "start_rectify")
    version = receiver_api.get(f"/api/v1/issues/{code}").json()["version"]  # the token's use stamped: no write on GET
    seen = _threads_of_statements(world)
    in_the_apps_own = _threads_of_statements(world, world.app.engine)

    assert receiver_api.get(f"/api/v1/issues/{code}").status_code == 200
    answer = receiver_api.post(f"/api/v1/issues/{code}/transitions", json=_progress(version))

    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == version + 1
    assert seen, "no statement was seen"
    assert not any(name.startswith(POOL_THREAD) for name in seen), seen
    if world.app.engine.dialect.name == "postgresql":
        assert world.app.loop_engines, "no engine for the serving loop"
        assert not in_the_apps_own, "PostgreSQL's quick routes ran on the threads' engine"


def _rectifying(world: World, api: TestClient) -> tuple[str, int]:
    """An issue in rectification, read once through the API (the token's use stamped): its code and version."""
    code = world.report()
    walk_to(world, code, "start_rectify")
    return code, api.get(f"/api/v1/issues/{code}").json()["version"]


def _stepped_while_held(
    api: TestClient, code: str, version: int, hold: Callable[[], None], let_go: Callable[[], None]
) -> None:
    """A step on ``code`` posted from another thread while ``hold`` keeps what it needs: it waits, and a GET on
    the same server is answered meanwhile; once ``let_go`` it is taken, once."""
    posted: list[Any] = []
    step = threading.Thread(
        target=lambda: posted.append(api.post(f"/api/v1/issues/{code}/transitions", json=_progress(version)))
    )
    hold()
    step.start()
    try:
        step.join(timeout=0.5)
        assert step.is_alive(), "the step did not wait"
        read = api.get(f"/api/v1/issues/{code}")  # answered while the step waits
        assert read.status_code == 200
        assert read.json()["version"] == version
        assert not posted
    finally:
        let_go()
    step.join(timeout=30)
    assert len(posted) == 1
    assert posted[0].status_code == 200, posted[0].text
    assert posted[0].json()["version"] == version + 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_step_waiting_for_another_process_does_not_hold_up_the_other_requests(
    world: World, receiver_api: TestClient
) -> None:
    code, version = _rectifying(world, receiver_api)
    seen = _threads_of_statements(world)
    other = sqlite3.connect(str(world.app.engine.url.database), isolation_level=None)  # the CLI, say

    def let_go() -> None:
        other.execute("COMMIT")
        other.close()

    _stepped_while_held(receiver_api, code, version, lambda: other.execute("BEGIN IMMEDIATE"), let_go)

    assert any(name.startswith(POOL_THREAD) for name in seen), "the waiting step did not go to the thread pool"
    with world.app.reader() as uow:
        steps = uow.connection.exec_driver_sql(
            "SELECT count(*) FROM event JOIN issue ON issue.id = event.issue_id "
            "WHERE issue.code = ? AND event.trigger = 'progress'",
            (code,),
        ).scalar_one()
    assert steps == 1


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_step_waiting_for_a_row_lock_on_postgresql_does_not_hold_up_the_loop(
    world: World, receiver_api: TestClient
) -> None:
    code, version = _rectifying(world, receiver_api)
    seen = _threads_of_statements(world)
    with world.app.engine.connect() as other:  # another chief's step, say, holding the issue's row

        def hold() -> None:
            other.execute(sa.text("SELECT id FROM issue WHERE code = :code FOR UPDATE"), {"code": code})

        _stepped_while_held(receiver_api, code, version, hold, other.rollback)

    assert not any(name.startswith(POOL_THREAD) for name in seen), "the waiting step went to the thread pool"


def test_the_loops_engine_is_postgresqls_only_and_refuses_a_planned_read(world: World) -> None:
    loop_engine = make_loop_engine(world.app.engine)
    if world.app.engine.dialect.name == "sqlite":
        assert loop_engine is None  # a file this process reads: its quick routes run on the loop as they are
        return
    assert loop_engine is not None

    async def planned_read() -> None:
        try:
            async with loop_engine.connect() as conn:
                await conn.execution_options(**{PLANNED: True})
                await conn.execute(sa.text("SELECT 1"))
        finally:
            await loop_engine.dispose()

    # A figure's read, planned for its values, needs the threads' driver: on the loop it is refused, not run.
    with pytest.raises(RuntimeError, match="planned for its values"):
        asyncio.run(planned_read())
