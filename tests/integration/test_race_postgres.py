"""Two OS processes fire on the same issue at the same moment: exactly one wins and the ledger stays whole.

Each round both racers read the issue's version and load their actor, meet at a
barrier, then fire. In the "write together" mode they meet a second time just
before the issue UPDATE, so both have passed every check in Python and the
database alone has to decide between them.
"""

from __future__ import annotations

import multiprocessing
import queue
import re
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from riverchief.bootstrap import App, bootstrap
from riverchief.migrate import upgrade
from riverchief.settings import Settings
from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.factories import RECEIVER, RECEIVING_CODE, REPORTER, START, World, load_world, walk_to
from workflow.core.actors import load_actor
from workflow.core.clock import FrozenClock
from workflow.core.db import make_engine
from workflow.core.errors import Conflict, InvalidTransition, WorkflowError
from workflow.core.ledger import verify
from workflow.core.models import Event, Issue, table_of
from workflow.core.services import IssueDraft, apply, report_issue

pytestmark = pytest.mark.postgres

ROUNDS = 20
WAIT = 30.0  # seconds: the bound on every barrier wait and result read
OTHER_RECEIVER = "sn-office"  # 安居区河长办: above 白马镇, so also the receiving side
_ISSUE_UPDATE = re.compile(r"UPDATE\s+issue\s+SET", re.IGNORECASE)


def _racer(
    url: str,
    name: str,
    actor_code: str,
    plan: list[tuple[str, str, dict[str, Any], bool]],
    write_together: bool,
    barrier: Any,
    results: Any,
) -> None:
    """One racing process: plays ``plan`` (issue, trigger, payload, pass expected_version) round by round."""
    engine = make_engine(url)
    app = bootstrap(
        Settings(database_url=url, data_dir=Path(tempfile.gettempdir())), clock=FrozenClock(START), engine=engine
    )
    armed = [False]

    def meet_before_the_write(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if armed[0] and _ISSUE_UPDATE.search(statement):
            armed[0] = False
            barrier.wait(WAIT)

    if write_together:
        sa.event.listen(engine, "before_cursor_execute", meet_before_the_write)
    try:
        for round_no, (code, trigger, template, pass_version) in enumerate(plan):
            barrier.wait(WAIT)  # the previous round is over in both processes
            with app.reader() as uow:
                actor = load_actor(uow.session, actor_code)
                version = uow.connection.execute(
                    sa.select(table_of(Issue).c.version).where(table_of(Issue).c.code == code)
                ).scalar()  # None for a report: the issue does not exist yet
            payload = {k: v.format(name=name, round=round_no) for k, v in template.items()}
            barrier.wait(WAIT)  # both have read the same version: go
            armed[0] = write_together
            try:
                if trigger == "report":
                    draft = IssueDraft(compact="QJ", title=payload["title"], category="domestic_sewage")
                    result = report_issue(app.uow(), actor, draft)
                else:
                    result = apply(app.uow(), code, trigger, actor, payload, version if pass_version else None)
            except WorkflowError as exc:
                outcome: tuple[str, Any] = (type(exc).__name__, str(exc))
            else:
                outcome = ("won", (result.issue_code, result.version, result.event_id))
            met_at_write = write_together and not armed[0]
            results.put((round_no, name, *outcome, met_at_write))
    except BaseException as exc:  # the parent must hear of any crash, not wait for it
        results.put((-1, name, "crashed", "".join(traceback.format_exception(exc)), False))
    finally:
        engine.dispose()


def race(
    url: str, racers: dict[str, str], plans: dict[str, list[tuple[str, str, dict[str, Any], bool]]], **mode: bool
) -> dict[int, dict[str, tuple[str, Any]]]:
    """Run one process per racer through its plan; returns each round's outcome by racer."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(racers))
    results = context.Queue()
    processes = [
        context.Process(
            target=_racer,
            args=(url, name, actor, plans[name], mode.get("write_together", False), barrier, results),
            name=f"racer-{name}",
        )
        for name, actor in racers.items()
    ]
    for process in processes:
        process.start()
    outcomes: dict[int, dict[str, tuple[str, Any]]] = {}
    try:
        for _ in range(len(racers) * len(next(iter(plans.values())))):
            try:
                round_no, name, outcome, detail, met_at_write = results.get(timeout=WAIT + 30)
            except queue.Empty:
                pytest.fail(f"a racer went silent; outcomes so far: {outcomes}")
            if outcome == "crashed":
                pytest.fail(f"racer {name} crashed:\n{detail}")
            if mode.get("write_together") and not met_at_write:
                pytest.fail(f"racer {name} fired without meeting the other at the issue UPDATE (round {round_no})")
            outcomes.setdefault(round_no, {})[name] = (outcome, detail)
    finally:
        for process in processes:
            process.join(timeout=WAIT)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
        results.close()
    assert all(p.exitcode == 0 for p in processes), [p.exitcode for p in processes]
    return outcomes


@pytest.fixture
def race_world(postgres_server: str, tmp_path: Path) -> Iterator[tuple[str, World]]:
    """A fresh PostgreSQL database, migrated and with the 琼江 compact loaded; dropped afterwards."""
    url = fresh_postgres_database(postgres_server)
    engine = make_engine(url)
    try:
        upgrade(engine)
        clock = FrozenClock(START)
        app: App = bootstrap(Settings(database_url=url, data_dir=tmp_path), clock=clock, engine=engine)
        yield url, load_world(app, clock)
    finally:
        engine.dispose()
        drop_postgres_database(url)


def _ledger_ok(world: World) -> None:
    with world.app.reader() as uow:
        report = verify(uow.session)
    assert report.ok, [str(f) for f in report.findings]


def _one_winner_per_round(
    outcomes: dict[int, dict[str, tuple[str, Any]]], losing: set[str]
) -> dict[int, tuple[str, Any]]:
    """Each round's winner (name, detail); fails unless exactly one won and the other lost in an allowed way."""
    assert sorted(outcomes) == list(range(ROUNDS))
    winners = {}
    for round_no, by_racer in outcomes.items():
        won = [(name, detail) for name, (outcome, detail) in by_racer.items() if outcome == "won"]
        lost = [outcome for outcome, _ in by_racer.values() if outcome != "won"]
        assert len(won) == 1, f"round {round_no}: {by_racer}"
        assert len(lost) == 1, f"round {round_no}: {by_racer}"
        assert set(lost) <= losing, f"round {round_no}: {by_racer}"
        winners[round_no] = won[0]
    return winners


MODES = {"fire together": {}, "write together": {"write_together": True}}


@pytest.mark.parametrize("mode", MODES)
def test_two_processes_firing_at_the_same_version_one_wins_and_the_other_gets_a_conflict(
    race_world: tuple[str, World], mode: str
) -> None:
    url, world = race_world
    code = world.report()
    walk_to(world, code, "start_rectify")
    start = world.issue(code).version
    plan = [(code, "progress", {"note": "{name} round {round}"}, True)] * ROUNDS
    racers = {"baima": RECEIVER, "office": OTHER_RECEIVER}

    outcomes = race(url, racers, dict.fromkeys(racers, plan), **MODES[mode])

    winners = _one_winner_per_round(outcomes, {Conflict.__name__})
    issue = world.issue(code)
    events = world.events(code)
    assert issue.version == len(events) == start + ROUNDS
    by_id = {e.id: e for e in events}
    for round_no, (name, (issue_code, version, event_id)) in winners.items():
        assert (issue_code, version) == (code, start + 1 + round_no)
        event = by_id[event_id]  # the winner's event is in the ledger: nothing lost
        assert (event.seq, event.payload["note"], event.actor_code) == (
            version,
            f"{name} round {round_no}",
            racers[name],
        )
    for round_no, by_racer in outcomes.items():
        for outcome, detail in by_racer.values():
            if outcome != "won":
                assert f"expected version {start + round_no}" in detail
    told = [row.event_id for row in world.outbox(code)]
    assert all(told.count(event_id) == 1 for _, (_, _, event_id) in winners.values()), "the reporter, once"
    _ledger_ok(world)


@pytest.mark.parametrize("mode", MODES)
def test_two_processes_accepting_the_same_hand_off_without_a_version_never_both_succeed(
    race_world: tuple[str, World], mode: str
) -> None:
    url, world = race_world
    codes = []
    for i in range(ROUNDS):
        codes.append(world.report(title=f"第{i}个问题"))
        world.fire(codes[-1], "hand_off", REPORTER, receiving=RECEIVING_CODE)
    plan = [(code, "accept", {"note": "{name} accepts"}, False) for code in codes]
    racers = {"baima": RECEIVER, "office": OTHER_RECEIVER}

    outcomes = race(url, racers, dict.fromkeys(racers, plan), **MODES[mode])

    winners = _one_winner_per_round(outcomes, {Conflict.__name__, InvalidTransition.__name__})
    for round_no, code in enumerate(codes):
        events = world.events(code)
        assert [e.trigger for e in events] == ["report", "hand_off", "accept"], code
        name, (_, version, event_id) = winners[round_no]
        assert (version, event_id, events[-1].actor_code) == (3, events[-1].id, racers[name])
        assert world.issue(code).state == "ban.accepted"
    with world.app.reader() as uow:
        accepts = uow.connection.execute(
            sa.select(sa.func.count()).select_from(table_of(Event)).where(table_of(Event).c.trigger == "accept")
        ).scalar_one()
    assert accepts == ROUNDS
    _ledger_ok(world)


def test_two_processes_reporting_at_the_same_moment_get_distinct_consecutive_issue_numbers(
    race_world: tuple[str, World],
) -> None:
    url, world = race_world
    plan = [("", "report", {"title": "{name} 第{round}次上报"}, False)] * ROUNDS
    racers = {"taian": REPORTER, "chonglong": "tn-chonglong"}

    outcomes = race(url, racers, dict.fromkeys(racers, plan))

    assert all(outcome == "won" for by_racer in outcomes.values() for outcome, _ in by_racer.values()), outcomes
    codes = [detail[0] for by_racer in outcomes.values() for _, detail in by_racer.values()]
    assert sorted(codes) == [f"QJ-2026-{n:04d}" for n in range(1, 2 * ROUNDS + 1)]
    for code in codes:
        assert world.issue(code).version == len(world.events(code)) == 1
    _ledger_ok(world)
