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
    """The most one request may cost: statements sent to the driver on each dialect, and pool checkouts."""

    sqlite: int  # each transaction's BEGIN is one of them on SQLite
    postgres: int
    checkouts: int  # units of work, one connection each


# Today's figures (bench/README.md, "Statements and connections per request"): one unit of work, so one
# checkout, per request; lower the statements as requests get cheaper.
BOUNDS = {
    "api issue": Bound(sqlite=7, postgres=6, checkouts=1),
    "api issue list": Bound(sqlite=6, postgres=5, checkouts=1),
    "api progress": Bound(sqlite=11, postgres=7, checkouts=1),
    "api stats": Bound(sqlite=151, postgres=150, checkouts=1),  # the practice per member: issue 17; +6 districts
    # +5 the enforcement cases and leads linked to the issue, +2 its duplicates and the nearby candidates to merge
    "page issue": Bound(sqlite=25, postgres=24, checkouts=1),
    "page queue": Bound(sqlite=8, postgres=7, checkouts=1),
    # +1 calendar banner, +2 meetings held, +5 patrol completion by district (more by a span or two when held)
    "page dashboard": Bound(sqlite=23, postgres=22, checkouts=1),
    "page progress": Bound(sqlite=14, postgres=10, checkouts=1),
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
    meter = Meter(app.engine, trace=True)
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
def test_a_request_costs_no_more_statements_and_checkouts_than_today(measured: Measured, kind: Kind) -> None:
    bound = BOUNDS[kind.name]
    most = bound.sqlite if measured.dialect == "sqlite" else bound.postgres
    for cost in costs(measured.scene, measured.meter, kind, warmup=1, repeat=3):
        assert cost.statements <= most, f"{cost.statements} statements, at most {most}:\n{_shown(cost)}"
        assert cost.checkouts <= bound.checkouts, (
            f"{cost.checkouts} checkouts, at most {bound.checkouts}:\n{_shown(cost)}"
        )
