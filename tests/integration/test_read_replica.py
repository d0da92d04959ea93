"""RIVERCHIEF_READ_DATABASE_URL: the dashboard, the stats and the map read a replica that may lag; the rest reads
and writes the primary.

The "replica" is a copy of the primary taken a moment ago (``CREATE DATABASE ... TEMPLATE``), so it lacks what
was done since: the latest issue, the tokens and the sign-in. It is reached as a role whose every transaction
is read-only, as on a streaming replica, so a write sent there would fail.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from riverchief.bootstrap import App, bootstrap
from riverchief.reporting import caught_up
from riverchief.settings import Settings
from tests.conftest import _postgres_admin_url, drop_postgres_database, fresh_postgres_database
from tests.factories import COORDINATOR, RECEIVER, RECEIVING_CODE, REPORTER, START, World, load_world
from web.api import create_api
from workflow.accounts.signin import set_password
from workflow.accounts.tokens import create_token
from workflow.core.clock import FrozenClock
from workflow.core.db import make_engine
from workflow.core.models import Issue, JobRun, table_of

pytestmark = pytest.mark.postgres

PASSWORD = "琼江清水长流-2026"
_issue, _job_run = table_of(Issue), table_of(JobRun)


@dataclass
class Lagging:
    """A primary, its lagging read-only copy, and the issue reported on the primary since the copy."""

    app: App  # wired with read_database_url
    world: World
    primary: str
    replica: str  # as the read-only role
    copied: str  # an issue on both
    latest: str  # an issue on the primary only


def _admin(sql: str, database: str | None = None) -> None:
    """Run one statement as the server's superuser, in ``database`` (default: the maintenance database)."""
    url = make_url(_postgres_admin_url())
    engine = make_engine(url.set(database=database or url.database).render_as_string(hide_password=False))
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(sql))
    finally:
        engine.dispose()


def _report(world: World, title: str) -> str:
    code = world.report(title=title, lon=105.70, lat=30.20)
    world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    return code


@pytest.fixture
def lagging(postgres_server: str, postgres_template: str, tmp_path: Path) -> Iterator[Lagging]:
    primary = fresh_postgres_database(postgres_server, postgres_template)
    clock = FrozenClock(START)
    engine = make_engine(primary)
    before = bootstrap(Settings(database_url=primary, data_dir=tmp_path), clock=clock, engine=engine)
    copy_world = load_world(before, clock)
    copied = _report(copy_world, "复制前上报的排污口")
    engine.dispose()  # a template database takes no other connections while it is copied
    replica = fresh_postgres_database(postgres_server, str(make_url(primary).database))
    role = f"rc_replica_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE ROLE "{role}" LOGIN')
    _admin(f'ALTER ROLE "{role}" SET default_transaction_read_only = on')
    replica_db = str(make_url(replica).database)
    _admin(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"', database=replica_db)
    replica_url = make_url(replica).set(username=role, password=None).render_as_string(hide_password=False)
    settings = Settings(database_url=primary, read_database_url=replica_url, data_dir=tmp_path)
    engine = make_engine(primary)
    app = bootstrap(settings, clock=clock, engine=engine)
    world = World(app, clock, copy_world.people)
    latest = _report(world, "复制后上报的排污口")
    try:
        yield Lagging(app, world, primary, replica_url, copied, latest)
    finally:
        engine.dispose()
        assert app.read_engine is not None
        app.read_engine.dispose()
        drop_postgres_database(replica)
        drop_postgres_database(primary)
        _admin(f'DROP ROLE IF EXISTS "{role}"')


def _signed_in(client: TestClient, app: App, person: str) -> None:
    set_password(app.uow(), person, PASSWORD)  # on the primary only: the copy has no password for anyone
    answer = client.post("/login", data={"person": person, "password": PASSWORD, "next": "/"}, follow_redirects=False)
    assert answer.status_code == 303, answer.text


def test_the_dashboard_and_the_map_read_the_replica_while_the_sign_in_reads_the_primary(lagging: Lagging) -> None:
    with TestClient(create_api(lagging.app)) as client:
        _signed_in(client, lagging.app, RECEIVER)  # both issues wait on the receiving side: its dashboard lists them
        for page in ("/dashboard", "/map"):
            answer = client.get(page, follow_redirects=False)
            # Signed in by a session that only the primary holds: the page was not sent back to the sign-in.
            assert answer.status_code == 200, (page, answer.status_code)
            assert f"/issues/{lagging.copied}" in answer.text, page
            assert f"/issues/{lagging.latest}" not in answer.text, page
        # The issue page is no lagging read: it shows the latest issue, from the primary.
        assert client.get(f"/issues/{lagging.latest}").status_code == 200


def test_the_stats_read_the_replica_and_a_step_goes_to_the_primary(lagging: Lagging) -> None:
    app = lagging.app
    coordinator = f"Bearer {create_token(app.uow(), COORDINATOR, 'replica')[1]}"
    receiver = f"Bearer {create_token(app.uow(), RECEIVER, 'replica')[1]}"
    with TestClient(create_api(app)) as client:
        figures = client.get("/api/v1/stats", headers={"Authorization": coordinator})
        assert figures.status_code == 200, figures.text
        with app.reader() as primary, app.replica_reader() as replica:
            counted = {
                name: uow.connection.execute(sa.select(sa.func.count()).select_from(_issue)).scalar_one()
                for name, uow in (("primary", primary), ("replica", replica))
            }
        assert counted == {"primary": 2, "replica": 1}
        assert figures.json()["handed_over"] == counted["replica"]

        # A step on the issue the replica lacks, through a role that could not write there anyway.
        step = client.post(
            f"/api/v1/issues/{lagging.latest}/transitions",
            json={"trigger": "accept", "payload": {}, "expected_version": 2},
            headers={"Authorization": receiver},
        )
        assert step.status_code == 200, step.text
        assert step.json()["version"] == 3
    assert lagging.world.issue(lagging.latest).state == "ban.accepted"


def test_the_replica_role_refuses_writes(lagging: Lagging) -> None:
    rewrite = _issue.update().where(_issue.c.code == lagging.copied).values(title="改写")
    # The app's read-only unit refuses a write before it is sent ...
    with lagging.app.replica_reader() as uow, pytest.raises(RuntimeError, match="read-only unit"):
        uow.connection.execute(rewrite)
    # ... and the replica's role refuses one sent past it.
    assert lagging.app.read_engine is not None
    with lagging.app.read_engine.connect() as conn, pytest.raises(sa.exc.InternalError, match="read-only transaction"):
        conn.execute(rewrite)


def test_without_the_setting_the_lagging_reads_are_the_primary(lagging: Lagging, tmp_path: Path) -> None:
    engine = make_engine(lagging.primary)
    app = bootstrap(Settings(database_url=lagging.primary, data_dir=tmp_path), clock=lagging.world.clock, engine=engine)
    try:
        assert app.read_engine is None
        assert app.replica_reader().engine is app.engine
        with TestClient(create_api(app)) as client:
            _signed_in(client, app, RECEIVER)
            board = client.get("/dashboard")
        assert board.status_code == 200
        assert f"/issues/{lagging.latest}" in board.text
    finally:
        engine.dispose()


def test_a_scheduled_report_run_reads_the_replica_only_once_it_holds_the_runs_fence(lagging: Lagging) -> None:
    app = lagging.app
    day = (START - timedelta(days=1)).date().isoformat()
    with app.uow() as uow:  # the run's claim, on the primary
        uow.connection.execute(
            _job_run.insert(), {"job": "daily_reports", "period": day, "status": "running", "started_at": START}
        )
        uow.commit()

    def issues_seen() -> int:
        with caught_up(app, "daily_reports", day, done=False)() as uow:
            return int(uow.connection.execute(sa.select(sa.func.count()).select_from(_issue)).scalar_one())

    assert issues_seen() == 2  # the replica has not replayed the run's claim: the primary is read
    replayed = "INSERT INTO job_run (job, period, status, started_at) VALUES ('{}', '{}', 'running', now())"
    _admin(replayed.format("daily_reports", day), database=str(make_url(lagging.replica).database))
    assert issues_seen() == 1  # it has: the replica is read
    # A monthly run waits for the bulletin records to be done, not merely begun.
    month = day[:7]
    _admin(replayed.format("monthly_bulletin", month), database=str(make_url(lagging.replica).database))
    assert caught_up(app, "monthly_bulletin", month, done=True) == app.reader
