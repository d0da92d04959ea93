"""A pooled PostgreSQL connection killed while idle costs the next request nothing; a transaction it cut is not re-run.

The pool does not ping a connection at each checkout (a round trip per request): a unit of work's first read is
run again once on a new connection when the pooled one turns out dropped (``UnitOfWork.read_first``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from tests.factories import World, walk_to

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres_server: str, postgres_template: str) -> Iterator[str]:
    """PostgreSQL only: the connections to kill are its server's."""
    from tests.conftest import drop_postgres_database, fresh_postgres_database

    url = fresh_postgres_database(postgres_server, postgres_template)
    yield url
    drop_postgres_database(url)


def _kill_pooled_connections(world: World) -> int:
    """From a connection of its own, terminate every other server process of the app's database: the pool's."""
    other = sa.create_engine(world.app.engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with other.connect() as conn:
        killed = conn.execute(
            sa.text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    other.dispose()
    return int(killed)


def test_a_get_after_its_pooled_connection_was_killed_still_answers(world: World, receiver_api: TestClient) -> None:
    code = world.report()
    assert receiver_api.get(f"/api/v1/issues/{code}").status_code == 200
    assert _kill_pooled_connections(world) >= 1

    answer = receiver_api.get(f"/api/v1/issues/{code}")

    assert answer.status_code == 200, answer.text
    assert answer.json()["code"] == code


def test_a_step_after_its_pooled_connection_was_killed_is_taken_once(world: World, receiver_api: TestClient) -> None:
    code = world.report()
    walk_to(world, code, "start_rectify")
    version = receiver_api.get(f"/api/v1/issues/{code}").json()["version"]
    assert _kill_pooled_connections(world) >= 1

    body = {"trigger": "progress", "payload": {"note": "排口封堵完成一半", "percent": 40}, "expected_version": version}
    answer = receiver_api.post(f"/api/v1/issues/{code}/transitions", json=body)

    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == version + 1
    with world.app.reader() as uow:  # its pooled connection was killed too: read as a request's first read is
        steps = uow.read_first(
            lambda conn: conn.execute(
                sa.text(
                    "SELECT count(*) FROM event JOIN issue ON issue.id = event.issue_id "
                    "WHERE issue.code = :code AND event.trigger = 'progress'"
                ),
                {"code": code},
            ).scalar_one()
        )
    assert steps == 1


def test_a_transaction_cut_by_a_dropped_connection_is_not_run_again(world: World) -> None:
    uow = world.app.uow()
    with uow:
        uow.connection.execute(sa.text("SELECT 1"))  # the unit's transaction has begun: its work may be half done
        assert _kill_pooled_connections(world) >= 1
        with pytest.raises(DBAPIError) as refused:
            uow.read_first(lambda conn: conn.execute(sa.text("SELECT 1")).scalar())
    assert refused.value.connection_invalidated
