"""Fixtures shared by every test: databases (SQLite and PostgreSQL), a frozen clock, the demo compact."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine, make_url

from riverchief.bootstrap import App, bootstrap
from riverchief.migrate import upgrade
from riverchief.settings import Settings
from tests.factories import RECEIVER, START, World, load_world
from web.api import create_api
from workflow.accounts.tokens import create_token
from workflow.core.clock import FrozenClock
from workflow.core.db import make_engine

POSTGRES_URL = os.environ.get("RIVERCHIEF_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/riverchief_test")
REQUIRE_POSTGRES = os.environ.get("RIVERCHIEF_REQUIRE_POSTGRES") == "1" or os.environ.get("CI") == "true"
# Where the test databases' files go: `make test` names a tablespace in RAM when it can make one
# (scripts/test-tablespace.sh says why); without it, or on a server that has no such tablespace, the default.
TABLESPACE = os.environ.get("RIVERCHIEF_TEST_TABLESPACE", "")
_tablespaces: dict[str, str] = {}


def _postgres_admin_url() -> str:
    return make_url(POSTGRES_URL).set(database="postgres").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server's URL; skips (or, in CI, fails) when there is none."""
    try:
        admin = make_engine(_postgres_admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required here but not reachable at {POSTGRES_URL}: {exc}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} (set RIVERCHIEF_TEST_POSTGRES_URL)")
    admin.dispose()
    return POSTGRES_URL


def fresh_postgres_database(server_url: str, template: str | None = None) -> str:
    """Create a database with a unique name on the server (a copy of ``template`` if given); returns its URL."""
    name = f"rc_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(_postgres_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if server_url not in _tablespaces:  # once per server: a name the server does not know is not used
            known = sa.text("SELECT 1 FROM pg_tablespace WHERE spcname = :name")
            found = TABLESPACE and conn.execute(known, {"name": TABLESPACE}).first()
            _tablespaces[server_url] = TABLESPACE if found else ""
        copy = f' TEMPLATE "{template}"' if template else ""
        where = f' TABLESPACE "{_tablespaces[server_url]}"' if _tablespaces[server_url] else ""
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{copy}{where}'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> Iterator[str]:
    """A migrated database that each test's database is copied from (much faster than migrating each)."""
    url = fresh_postgres_database(postgres_server)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield str(make_url(url).database)
    drop_postgres_database(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test's database is copied from."""
    path = tmp_path_factory.mktemp("template") / "riverchief.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


def drop_postgres_database(url: str) -> None:
    """Drop a database made by ``fresh_postgres_database``."""
    name = make_url(url).database
    admin = make_engine(_postgres_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: SQLite in a temp folder, then PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "riverchief.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    template = request.getfixturevalue("postgres_template")
    url = fresh_postgres_database(request.getfixturevalue("postgres_server"), template)
    yield url
    drop_postgres_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated SQLite database, for tests that need only the embedded default."""
    target = tmp_path / "riverchief.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def clock() -> FrozenClock:
    """A clock frozen on a Monday morning in Asia/Shanghai."""
    return FrozenClock(START)


def _app(url: str, clock: FrozenClock, tmp_path: Path) -> Iterator[App]:
    engine: Engine = make_engine(url)
    upgrade(engine)
    yield bootstrap(Settings(database_url=url, data_dir=tmp_path), clock=clock, engine=engine)
    engine.dispose()


@pytest.fixture
def app(database_url: str, clock: FrozenClock, tmp_path: Path) -> Iterator[App]:
    """The wired application on a migrated database, on each dialect."""
    yield from _app(database_url, clock, tmp_path)


@pytest.fixture
def sqlite_app(sqlite_url: str, clock: FrozenClock, tmp_path: Path) -> Iterator[App]:
    """The wired application on SQLite only."""
    yield from _app(sqlite_url, clock, tmp_path)


@pytest.fixture
def world(app: App, clock: FrozenClock) -> World:
    """The 琼江 compact loaded, on each dialect."""
    return load_world(app, clock)


@pytest.fixture
def sqlite_world(sqlite_app: App, clock: FrozenClock) -> World:
    """The 琼江 compact loaded on SQLite."""
    return load_world(sqlite_app, clock)


@pytest.fixture
def receiver_api(world: World) -> Iterator[TestClient]:
    """The HTTP API served in-process, called as the receiving chief with a personal access token."""
    _, token = create_token(world.app.uow(), RECEIVER, "tests")
    with TestClient(create_api(world.app), headers={"Authorization": f"Bearer {token}"}) as http:
        yield http
