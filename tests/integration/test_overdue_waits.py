"""Missed deadlines over a period, read by the bounded query, are exactly those the whole ledger gives."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from states.policy import DEADLINES
from tests.factories import AUDITOR, RECEIVER, RECEIVING_CODE, REPORTER, World, walk_to
from workflow.core.clock import SHANGHAI
from workflow.core.models import Event, Issue, table_of
from workflow.reading.overdue import Overdue, overdue_parties, overdue_waits

_issue, _event = table_of(Issue), table_of(Event)


def at(day: str, hour: int = 9) -> datetime:
    """A wall-clock time in Asia/Shanghai."""
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=SHANGHAI)


def by_brute_force(world: World, compact_id: int, start: datetime, end: datetime) -> set[Overdue]:
    """The missed waits from every state change of every issue of the compact, folded in Python."""
    with world.app.reader() as uow:
        rows = uow.connection.execute(
            sa.select(
                _issue.c.code,
                _issue.c.reporting_jurisdiction_id,
                _issue.c.receiving_jurisdiction_id,
                _event.c.to_state,
                _event.c.due_at,
                _event.c.occurred_at,
            )
            .join(_issue, _issue.c.id == _event.c.issue_id)
            .where(_issue.c.compact_id == compact_id, _event.c.from_state != _event.c.to_state)
            .order_by(_event.c.issue_id, _event.c.seq)
        ).all()
    found = set()
    for r, after in zip(rows, [*rows[1:], None], strict=True):
        until = after.occurred_at if after is not None and after.code == r.code else None
        if r.due_at is None or r.due_at >= end:
            continue  # no deadline, or not yet passed by the period's end
        if until is not None and (until <= r.due_at or until < start):
            continue  # met in time, or settled before the period
        party = DEADLINES[r.to_state].waits_on if r.to_state in DEADLINES else "receiving"
        side = {"reporting": r.reporting_jurisdiction_id, "receiving": r.receiving_jurisdiction_id}.get(party)
        found.add(Overdue(party, side, r.code, r.to_state, r.due_at, until))
    return found


def test_the_waits_missed_in_each_period_are_the_ones_the_whole_ledger_gives(world: World) -> None:
    world.clock.set(at("2026-01-05"))
    in_time = world.report(title="按时受理")
    world.fire(in_time, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    late_in_january = world.report(title="一月逾期后受理")
    world.fire(late_in_january, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    still_going = world.report(title="至今未受理")
    world.fire(still_going, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    # Closed in January; the auditor's revisit, started in February, runs late into March.
    closed_then_revisited = world.report(title="销号后回头看逾期")
    walk_to(world, closed_then_revisited, "close")
    archived = world.report(title="一月归档")
    walk_to(world, archived, "archive")
    dismissed = world.report(title="不予立案")
    world.fire(dismissed, "dismiss", REPORTER, reason="非跨界问题")
    rebounded = world.report(title="反弹后重新整改")
    walk_to(world, rebounded, "close")
    world.clock.set(at("2026-01-06"))
    world.fire(in_time, "accept", RECEIVER)
    world.fire(in_time, "start_rectify", RECEIVER, plan="封堵", deadline="2026-12-31")
    world.clock.set(at("2026-01-20"))
    world.fire(late_in_january, "accept", RECEIVER)
    world.fire(late_in_january, "start_rectify", RECEIVER, plan="封堵", deadline="2026-12-31")
    world.clock.set(at("2026-02-02"))
    world.fire(closed_then_revisited, "start_revisit", AUDITOR)
    world.fire(rebounded, "start_revisit", AUDITOR)
    world.clock.set(at("2026-02-04"))
    world.fire(rebounded, "rebound", AUDITOR, finding="又见排污", deadline="2026-03-13")
    world.clock.set(at("2026-03-02"))
    late_in_march = world.report(title="三月逾期后受理")
    world.fire(late_in_march, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    world.clock.set(at("2026-03-10"))
    world.fire(closed_then_revisited, "no_rebound", AUDITOR, finding="未反弹")
    world.clock.set(at("2026-03-20"))
    world.fire(late_in_march, "accept", RECEIVER)
    world.fire(late_in_march, "start_rectify", RECEIVER, plan="封堵", deadline="2026-12-31")
    world.clock.set(at("2026-03-30"))
    due_in_april = world.report(title="四月到期")
    world.fire(due_in_april, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    world.clock.set(at("2026-04-10"))

    compact_id = world.issue(in_time).compact_id
    periods = [(at(f"2026-{m:02d}-01", 0), at(f"2026-{m + 1:02d}-01", 0)) for m in range(1, 6)]
    periods += [(at("2026-01-01", 0), at("2026-04-10")), (at("2026-03-11", 0), at("2026-03-12", 0))]
    with world.app.reader() as uow:
        missed = [set(overdue_waits(uow.connection, compact_id, start, end)) for start, end in periods]
    assert missed == [by_brute_force(world, compact_id, start, end) for start, end in periods]

    named = [{o.issue_code for o in waits} for waits in missed]
    assert named[0] == {late_in_january, still_going}
    assert named[1] == {still_going, closed_then_revisited}  # a closed issue's revisit is a wait too
    assert named[2] == {still_going, closed_then_revisited, late_in_march, rebounded}
    assert named[3] == {still_going, rebounded, due_in_april}
    assert named[6] == {still_going, late_in_march}  # the revisit ended on the 10th; the rebound is due on the 13th
    assert not {in_time, archived, dismissed} & set().union(*named)
    assert world.issue(closed_then_revisited).closed_at < periods[2][0]


def test_the_overdue_parties_are_named_with_their_chiefs_in_one_statement_each(world: World) -> None:
    world.clock.set(at("2026-01-05"))
    unanswered = world.report(title="未受理")
    world.fire(unanswered, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    unchecked = world.report(title="逾期未核查")
    world.clock.set(at("2026-02-02"))
    compact_id = world.issue(unanswered).compact_id
    sent: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        sent.append(statement)

    with world.app.reader() as uow:
        sa.event.listen(uow.connection, "before_cursor_execute", count)
        parties = overdue_parties(uow.connection, compact_id, at("2026-01-01", 0), at("2026-02-01", 0))
    assert [(p["party"], p["jurisdiction"], p["within"], p["chiefs"], p["issues"]) for p in parties] == [
        ("receiving", "白马镇", "安居区", ["黄德明"], [unanswered]),
        ("reporting", "太安镇", "潼南区", parties[1]["chiefs"], [unchecked]),
    ]
    assert parties[1]["chiefs"]
    assert len([s for s in sent if s.startswith("SELECT")]) == 3  # the waits, the parties' names, their chiefs


def test_a_late_party_that_is_no_place_is_handed_over_by_its_role_not_a_chinese_name(world: World) -> None:
    # The auditor's revisit running late is the auditor's: a party, not a jurisdiction. A page or report names
    # it by its role in the reader's language; a Chinese name stored here would reach an English reader.
    world.clock.set(at("2026-01-05"))
    code = world.report(title="销号后回头看逾期")
    walk_to(world, code, "close")
    world.clock.set(at("2026-02-02"))
    world.fire(code, "start_revisit", AUDITOR)
    world.clock.set(at("2026-03-10"))
    compact_id = world.issue(code).compact_id
    with world.app.reader() as uow:
        parties = overdue_parties(uow.connection, compact_id, at("2026-02-01", 0), at("2026-03-01", 0))
    late = [(p["party"], p["jurisdiction_id"], p["jurisdiction"], p["issues"]) for p in parties if code in p["issues"]]
    assert late == [("auditor", None, None, [code])]
