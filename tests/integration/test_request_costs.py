"""Each kind of HTTP request costs at most today's SQL statements and pool checkouts, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from typing import NamedTuple

import pytest

from bench.requests import KIND_NAMES, KINDS, Cost, Kind, Meter, Scene, costs, stage
from riverchief.bootstrap import bootstrap
from riverchief.settings import Settings
from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.factories import START, load_world
from workflow.core.clock import FrozenClock


class Bound(NamedTuple):
    """What one request costs: statements sent to the driver on each dialect, round trips to PostgreSQL, and pool
    checkouts."""

    sqlite: int  # a writer's BEGIN IMMEDIATE is one of them on SQLite
    postgres: int
    # The statements, plus the BEGIN psycopg sends before a transaction's first and the COMMIT that ends it;
    # None: as many as the statements (reads run without a transaction).
    trips: int | None = None
    checkouts: int = 1  # units of work, one connection each
    exact: bool = True  # False: at most (pages whose reads other work is still changing)


# Today's figures (bench/README.md, "Statements and connections per request"): one unit of work, so one
# checkout, per request, and in it one statement for the caller (the token or session with the person, their
# jurisdiction and compacts). An exact figure that changes fails too: lower it here when a request gets cheaper.
BOUNDS = {
    # the caller and the issue with its sides and scope, in one statement (``Beside``; a request's reads run
    # without BEGIN on both databases): one round trip
    "api issue": Bound(sqlite=1, postgres=1),
    # the caller, the page of issues
    "api issue list": Bound(sqlite=2, postgres=2),
    # the caller with the issue as the step's first try loads it, in one statement (outside the step's
    # transaction); BEGIN IMMEDIATE (SQLite), then apply: on SQLite UPDATE, the event, the outbox rows; on
    # PostgreSQL one CTE, between psycopg's BEGIN and the COMMIT
    "api progress": Bound(sqlite=5, postgres=2, trips=4),
    # the practice per member: issue 17; +6 districts; the cohort, the period's steps and the meetings held read
    # once, and the compact's patrols counted once for the practice and the districts (with the members'
    # paths). The overdue parties' names and chiefs: one statement each, none when no party is late (as here)
    "api stats": Bound(sqlite=35, postgres=35, exact=False),
    # the issue page's panels (enforcement 2: the cases' parties and issues only when a case is linked, which here
    # none is; duplicates 2, the compact's places in one, the map, photos, what is not yet allowed)
    "page issue": Bound(sqlite=13, postgres=13, exact=False),
    # the session, the page of issues (the rivers for the filters: kept a minute, read by the warm-up request)
    "page issue list": Bound(sqlite=2, postgres=2),
    # the session, the open issues
    "page queue": Bound(sqlite=2, postgres=2),
    # +1 calendar banner, +2 meetings held, +5 patrol completion by district (more by a span or two when held)
    # (the overdue parties as in the stats: at province scale 0.1, 23 statements instead of 84; the step counts
    # and the members' figures one statement)
    "page dashboard": Bound(sqlite=18, postgres=18, exact=False),
    # the session, then as the API's step with the version read in the step's transaction instead of the scope
    "page progress": Bound(sqlite=7, postgres=4, trips=6),
}


class Measured(NamedTuple):
    """One dialect's staged app and the meter on its engine."""

    dialect: str
    scene: Scene
    meter: Meter


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def measured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Measured]:
    """The app as ``bootstrap`` wires it on a copy of the migrated template, staged once for every request kind."""
    folder = tmp_path_factory.mktemp("costs")
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), folder / "riverchief.db")
        url = f"sqlite:///{folder / 'riverchief.db'}"
    else:
        server, template = request.getfixturevalue("postgres_server"), request.getfixturevalue("postgres_template")
        url = fresh_postgres_database(server, template)
    clock = FrozenClock(START)
    app = bootstrap(Settings(database_url=url, data_dir=folder), clock=clock)
    meter = Meter(app, trace=True)
    try:
        with ExitStack() as stack:
            yield Measured(request.param, stage(load_world(app, clock), stack), meter)
    finally:
        meter.close()
        app.engine.dispose()
        if request.param == "postgres":
            drop_postgres_database(url)


def _shown(cost: Cost) -> str:
    lines = [f"checkout  {where}" for where in cost.where] + [f"sql       {sql}" for sql in cost.sql]
    return "\n".join(lines)


def test_every_request_kind_has_a_bound() -> None:
    assert set(BOUNDS) == set(KIND_NAMES)


@pytest.mark.parametrize("kind", KINDS, ids=KIND_NAMES)
def test_a_request_costs_todays_statements_round_trips_and_one_checkout(measured: Measured, kind: Kind) -> None:
    bound = BOUNDS[kind.name]
    figure = bound.sqlite if measured.dialect == "sqlite" else bound.postgres
    for cost in costs(measured.scene, measured.meter, kind, warmup=1, repeat=3):
        if bound.exact:
            assert cost.statements == figure, f"{cost.statements} statements, not {figure}:\n{_shown(cost)}"
        else:
            assert cost.statements <= figure, f"{cost.statements} statements, at most {figure}:\n{_shown(cost)}"
        if measured.dialect == "postgres":
            trips = bound.postgres if bound.trips is None else bound.trips
            if bound.exact:
                assert cost.trips == trips, f"{cost.trips} round trips, not {trips}:\n{_shown(cost)}"
            else:
                assert cost.trips <= trips, f"{cost.trips} round trips, at most {trips}:\n{_shown(cost)}"
        assert cost.checkouts == bound.checkouts, f"{cost.checkouts} checkouts, not {bound.checkouts}:\n{_shown(cost)}"
        # No round trip to test a pooled connection before use: a dropped one is retried (test_dropped_connection).
        assert cost.pings == 0
