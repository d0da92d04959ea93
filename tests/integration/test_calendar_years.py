"""The calendar's years: a pending deadline in a year the calendar does not know is warned about, and counted
again, with a ledger event, when that year's arrangement arrives.

Neither maintained source (chinese_calendar 1.11.0, holidays 0.109) has the State Council's 2027 notice yet, so
the arrangement below is this test's own, in the form a notice takes, not the official one: days off from Spring
Festival's eve, Fri 5 Feb, to Thu 11 Feb 2027, with make-up working days on Sun 31 Jan and Sat 20 Feb.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from riverchief.bootstrap import bootstrap
from riverchief.demo.play import ADMIN
from tests.factories import COORDINATOR, RECEIVER, RECEIVING_CODE, REPORTER, World
from workflow.core.actors import load_actor
from workflow.core.clock import SHANGHAI
from workflow.core.deadlines import PENDING_DEADLINES, _years, unknown_deadline_years
from workflow.core.ledger import verify
from workflow.core.models import Issue, Outbox, Person, table_of
from workflow.core.reference import load, parse_text
from workflow.jobs import calendars

ARRANGEMENT_2027 = """
2027:
  holidays: [2027-02-05, 2027-02-06, 2027-02-07, 2027-02-08, 2027-02-09, 2027-02-10, 2027-02-11]
  workdays: [2027-01-31, 2027-02-20]
"""


def at(day: str, hour: int = 9) -> datetime:
    """A wall-clock time in Asia/Shanghai."""
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=SHANGHAI)


def end_of(day: str) -> datetime:
    """The deadline instant of a day: its last second in Asia/Shanghai."""
    return datetime.fromisoformat(day).replace(hour=23, minute=59, second=59, tzinfo=SHANGHAI)


@pytest.fixture
def operator_file(tmp_path: Path) -> Path:
    """The operator's own calendar file, empty until the year's notice is copied into it."""
    path = tmp_path / "operator-calendar.yaml"
    path.write_text("# 2027: not announced yet\n", encoding="utf-8")
    return path


@pytest.fixture
def operated(world: World, operator_file: Path) -> World:
    """The world's database and clock, wired as a deployment with its own calendar file."""
    settings = world.app.settings.model_copy(update={"calendar_file": operator_file})
    return World(bootstrap(settings, clock=world.clock, engine=world.app.engine), world.clock, world.people)


def negotiating_from_late_january(world: World) -> str:
    """Handed off on Friday 29 January 2027 and disputed at once: ten working days to agree, across the festival."""
    world.clock.set(at("2027-01-29"))
    code = world.report()
    world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    world.fire(code, "dispute", RECEIVER, reason="排口位于太安镇一侧")
    return code


def test_a_deadline_across_the_2027_spring_festival_is_counted_again_with_a_ledger_event_once_the_year_arrives(
    operated: World, operator_file: Path
) -> None:
    world = operated
    code = negotiating_from_late_january(world)
    assert world.issue(code).due_at == end_of("2027-02-12")  # Monday-Friday only: the festival is not known yet

    world.clock.set(at("2027-01-29", 15))
    operator_file.write_text(ARRANGEMENT_2027, encoding="utf-8")
    ran = calendars.calendar_check(world.app.uow, world.clock.now(), "2027-01-29")

    assert ran["changed_years"] == [2027]
    assert (ran["rescheduled"], ran["unknown_years"]) == (1, [])
    issue = world.issue(code)
    # 31 Jan (a make-up Sunday), 1-4 Feb, then 12, 15, 16, 17 and 18 Feb: the tenth working day.
    assert (issue.state, issue.due_at) == ("ban.negotiating", end_of("2027-02-18"))
    last = world.events(code)[-1]
    assert (last.trigger, last.actor_code, last.from_state, last.to_state) == (
        "reschedule",
        "system",
        "ban.negotiating",
        "ban.negotiating",
    )
    assert last.due_at == end_of("2027-02-18")
    assert issue.next_check_at is not None
    assert issue.next_check_at < issue.due_at
    with world.app.reader() as uow:
        report = verify(uow.session)
    assert report.ok, [str(f) for f in report.findings]

    again = calendars.calendar_check(world.app.uow, world.clock.now(), "2027-01-30")
    assert (again["changed_years"], again["rescheduled"]) == ([], 0)
    assert [e.trigger for e in world.events(code)].count("reschedule") == 1


def test_a_pending_deadline_in_a_year_the_calendar_does_not_know_is_logged_and_told_to_coordinators_and_admins_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    load(world.app.uow(), parse_text(ADMIN, "yaml", "admin"))
    world.clock.set(at("2026-12-28"))
    code = world.report()
    world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    world.fire(code, "dispute", RECEIVER, reason="排口位于太安镇一侧")  # ten working days: into January 2027

    with caplog.at_level(logging.WARNING, logger="workflow.jobs.calendars"):
        ran = calendars.calendar_check(world.app.uow, world.clock.now(), "2026-12-28")
        calendars.calendar_check(world.app.uow, world.clock.now(), "2026-12-29")

    assert ran["unknown_years"] == [2027]
    assert ran["rescheduled"] == 0
    warned = [r.getMessage() for r in caplog.records if r.name == "workflow.jobs.calendars"]
    assert len(warned) == 2
    assert "1 pending deadline(s) run into 2027" in warned[0]
    with world.app.reader() as uow:
        told = uow.session.execute(
            sa.select(Person.code, Outbox.detail)
            .join(Person, Person.id == Outbox.recipient_id)  # type: ignore[arg-type]
            .where(Outbox.kind == "calendar_unknown")  # type: ignore[arg-type]
            .order_by(Person.code)
        ).all()
        admin = load_actor(uow.session, "qj-admin")
    assert [person for person, _ in told] == sorted([COORDINATOR, admin.code])
    assert all(detail == {"year": 2027, "deadlines": 1} for _, detail in told)


def test_only_the_waits_reaching_outside_the_known_years_are_read_and_none_of_them_is_missed(world: World) -> None:
    """The years are found from the waits due after the known run or begun before it, read by their indexes;
    counted from every pending wait one by one, they are the same."""
    world.clock.set(at("2026-11-02"))
    inside = world.report(title="年内到期")
    world.fire(inside, "hand_off", REPORTER, receiving=RECEIVING_CODE)  # due in November 2026: a known year
    world.clock.set(at("2026-12-28"))
    across = world.report(title="跨年到期")
    world.fire(across, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    world.fire(across, "dispute", RECEIVER, reason="排口位于太安镇一侧")  # into January 2027
    old = world.report(title="早年开始")
    world.fire(old, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    issue = table_of(Issue)
    with world.app.uow() as uow:  # a wait begun before the calendar's first year (as an import of old records)
        uow.connection.execute(
            sa.update(issue)
            .where(issue.c.code == old)
            .values(created_at=at("1999-12-30"), waiting_since=at("1999-12-31"))
        )
        uow.commit()
    now = world.clock.now()
    with world.app.reader() as uow:
        found = unknown_deadline_years(uow.connection, world.app.calendar, now)
        one_by_one: dict[int, dict[int, int]] = {}
        for row in uow.connection.execute(PENDING_DEADLINES):
            for year in world.app.calendar.unknown_years(_years(row, now)):
                one_by_one.setdefault(year, {}).setdefault(row.compact_id, 0)
                one_by_one[year][row.compact_id] += 1
        pending = uow.connection.execute(sa.select(sa.func.count()).select_from(PENDING_DEADLINES.subquery())).scalar()
    assert pending == 3
    assert found == dict(sorted(one_by_one.items()))
    assert sorted(found) == [*range(1999, 2001), 2027]  # the old wait's years before 2001, the other's 2027
