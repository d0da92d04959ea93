"""The scheduler's jobs with an injected clock: the deadline ladder, revisits and archiving, bulletins, reminders.

Nothing sleeps: each test moves the world's FrozenClock and calls the job as the
scheduler would, then reads what the job left in the ledger, the outbox and its tables.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from riverchief.bootstrap import bootstrap
from riverchief.migrate import upgrade
from riverchief.settings import Settings
from tests.factories import (
    AUDITOR,
    CHECKLIST,
    COORDINATOR,
    RECEIVER,
    RECEIVING_CODE,
    REPORTER,
    World,
    load_world,
    walk_to,
)
from workflow.core.calendar import WorkCalendar, end_of_day, load_overrides
from workflow.core.clock import SHANGHAI, FrozenClock
from workflow.core.db import make_engine
from workflow.core.deadlines import reminder_times
from workflow.core.models import Bulletin, Outbox, Revisit
from workflow.jobs import bulletins as bulletin_jobs
from workflow.jobs import sweeps

NOTHING = {"reminded": 0, "escalated": 0, "overdue": 0, "skipped": 0}
MOXI_CODE = "510904102"  # 磨溪镇, another township on the Sichuan side


def at(day: str, hour: int = 9, minute: int = 0, second: int = 0) -> datetime:
    """A wall-clock time in Asia/Shanghai."""
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, second=second, tzinfo=SHANGHAI)


def sweep(world: World, **options: Any) -> dict[str, int]:
    """One deadline sweep at the world's current time."""
    return sweeps.deadline_sweep(world.app.uow, world.clock.now(), **options)


def revisit_sweep(world: World) -> dict[str, int]:
    """One revisit sweep at the world's current time."""
    return sweeps.revisit_sweep(world.app.uow, world.clock.now())


def handed_off(world: World, receiving: str = RECEIVING_CODE, **draft: Any) -> str:
    """A new issue reported by 太安镇 and handed to the other side now; returns its code."""
    code = world.report(**draft)
    world.fire(code, "hand_off", REPORTER, receiving=receiving)
    return code


def notices(world: World, prefix: str) -> list[Outbox]:
    """The scheduler's notices (outbox rows with a topic) whose topic starts with ``prefix``."""
    with world.app.reader() as uow:
        rows = uow.session.execute(sa.select(Outbox).where(Outbox.topic.is_not(None)).order_by(Outbox.id)).scalars()
        return [r for r in rows if r.topic.startswith(prefix)]


def codes_of(world: World, rows: list[Outbox]) -> set[str]:
    """The people (by code) the outbox rows go to."""
    by_id = {actor.id: code for code, actor in world.people.items()}
    return {by_id[r.recipient_id] for r in rows}


def event_outbox(world: World, code: str, trigger: str) -> set[str]:
    """Who is told of the issue's (latest) event with ``trigger``."""
    event = [e for e in world.events(code) if e.trigger == trigger][-1]
    return codes_of(world, [r for r in world.outbox(code) if r.event_id == event.id])


def ledger(world: World, code: str) -> list[tuple[str, str]]:
    """The issue's ledger as (trigger, actor code)."""
    return [(e.trigger, e.actor_code) for e in world.events(code)]


def revisits(world: World, code: str) -> list[Revisit]:
    """The issue's revisit rows in order."""
    issue_id = world.issue(code).id
    with world.app.reader() as uow:
        return list(
            uow.session.execute(
                sa.select(Revisit).where(Revisit.issue_id == issue_id).order_by(Revisit.cycle, Revisit.seq)
            ).scalars()
        )


def bulletins(world: World, kind: str) -> list[Bulletin]:
    """The bulletins of one kind, oldest first."""
    with world.app.reader() as uow:
        return list(
            uow.session.execute(sa.select(Bulletin).where(Bulletin.kind == kind).order_by(Bulletin.id)).scalars()
        )


def close_again(world: World, code: str) -> None:
    """Rectify, verify and close an issue that a rebound sent back to rectification."""
    world.fire(code, "report_done", RECEIVER, summary="再次整改完成")
    world.fire(code, "request_verify", REPORTER)
    world.fire(code, "pass_check", RECEIVER, checklist=CHECKLIST)
    world.fire(code, "pass_check", REPORTER, checklist=CHECKLIST)
    world.fire(code, "close", REPORTER)


# -- the deadline ladder ----------------------------------------------------------------------------


def test_a_hand_off_left_unanswered_is_reminded_before_its_deadline_and_dispatched_by_the_system_after_it(
    world: World,
) -> None:
    code = handed_off(world)  # Monday 2026-03-02 09:00
    issue = world.issue(code)
    assert issue.due_at == at("2026-03-05", 23, 59, 59)  # three working days: the end of Thursday

    results = {}
    for day in ("2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"):
        world.clock.set(at(day))
        results[day] = sweep(world)

    assert results["2026-03-03"] == results["2026-03-04"] == NOTHING
    assert results["2026-03-05"] == {**NOTHING, "reminded": 1}
    assert results["2026-03-06"] == {**NOTHING, "escalated": 1}
    reminders = notices(world, "remind_")
    assert len(reminders) == 1
    assert re.fullmatch(rf"remind_(day_before|fraction):{issue.id}:v2", reminders[0].topic)
    assert reminders[0].kind == "reminder"
    assert reminders[0].issue_id == issue.id
    assert codes_of(world, reminders) == {RECEIVER}  # 白马镇's chief, the side that must accept
    assert ledger(world, code)[-1] == ("dispatch", "system")
    dispatch = world.events(code)[-1]
    assert (dispatch.from_state, dispatch.to_state) == ("ban.handed_off", "ban.dispatched")
    assert dispatch.occurred_at == at("2026-03-06")
    assert event_outbox(world, code, "dispatch") == {REPORTER, RECEIVER, COORDINATOR}


def test_each_reminder_is_queued_once_at_its_own_time_when_the_sweep_runs_at_every_check(world: World) -> None:
    code = handed_off(world)
    issue_id = world.issue(code).id
    seen = []
    for _ in range(5):
        issue = world.issue(code)
        if issue.state != "ban.handed_off":
            break
        world.clock.set(issue.next_check_at)
        seen.append((issue.next_check_at.astimezone(SHANGHAI).replace(microsecond=0), sweep(world)))

    assert [when for when, _ in seen] == [
        at("2026-03-04", 23, 59, 59),  # day_before: the end of the working day before the due day
        at("2026-03-05", 6, 35, 59),  # fraction: 80% of Monday 09:00 → Thursday 23:59:59
        at("2026-03-05", 23, 59, 59),  # the deadline itself
    ]
    assert [result for _, result in seen] == [
        {**NOTHING, "reminded": 1},
        {**NOTHING, "reminded": 1},
        {**NOTHING, "escalated": 1},
    ]
    assert [r.topic for r in notices(world, "remind_")] == [
        f"remind_day_before:{issue_id}:v2",
        f"remind_fraction:{issue_id}:v2",
    ]
    assert world.issue(code).state == "ban.dispatched"


def test_up_the_ladder_an_unsettled_dispute_is_convened_and_a_stalled_meeting_or_rectification_is_dispatched(
    world: World,
) -> None:
    code = handed_off(world)
    world.fire(code, "dispute", RECEIVER, reason="排口不在我方")
    negotiating = world.issue(code)
    assert negotiating.due_at == at("2026-03-16", 23, 59, 59)  # ten working days
    rectifying = handed_off(world)
    world.fire(rectifying, "accept", RECEIVER)
    world.fire(rectifying, "start_rectify", RECEIVER, plan="封堵排口", deadline="2026-03-13")
    assert world.issue(rectifying).due_at == end_of_day(date(2026, 3, 13))  # the plan's own date

    world.clock.set(at("2026-03-13", 23, 59, 58))
    assert sweep(world)["escalated"] == 0
    world.clock.set(at("2026-03-14", 0, 0, 0))
    assert sweep(world)["escalated"] == 1
    last = world.events(rectifying)[-1]
    assert (last.trigger, last.actor_code, last.from_state, last.to_state) == (
        "dispatch",
        "system",
        "ban.rectifying",
        "ban.dispatched",
    )
    assert "整改逾期" in last.payload["order"]

    world.clock.set(negotiating.due_at - timedelta(seconds=1))
    sweep(world)
    assert world.issue(code).state == "ban.negotiating"
    world.clock.set(negotiating.due_at)
    assert sweep(world)["escalated"] == 1
    meeting = world.issue(code)
    assert meeting.state == "ban.joint_meeting"
    assert world.events(code)[-1].payload["level"] == "district"
    assert event_outbox(world, code, "convene") == {REPORTER, RECEIVER, COORDINATOR}
    # fifteen working days after 2026-03-16, Qingming (04-04..04-06) not counted
    assert meeting.due_at == at("2026-04-07", 23, 59, 59)

    world.clock.set(at("2026-04-08", 0, 0, 0))
    assert sweep(world)["escalated"] == 1
    assert ledger(world, code) == [
        ("report", REPORTER),
        ("hand_off", REPORTER),
        ("dispute", RECEIVER),
        ("convene", "system"),
        ("dispatch", "system"),
    ]
    assert world.issue(code).state == "ban.dispatched"


def test_a_missed_deadline_without_an_escalation_names_the_waiting_party_once_and_never_again(world: World) -> None:
    code = world.report()
    walk_to(world, code, "request_verify")  # du.verifying waits on the reporting side for 5 working days
    before = world.issue(code)
    assert before.state == "du.verifying"

    world.clock.set(at("2026-03-10"))
    assert sweep(world) == {**NOTHING, "overdue": 1}
    overdue = notices(world, "overdue:")
    assert {r.topic for r in overdue} == {f"overdue:{before.id}:v{before.version}"}
    assert {r.kind for r in overdue} == {"overdue"}
    assert codes_of(world, overdue) == {REPORTER, COORDINATOR}
    counts = world.counts()

    for day in ("2026-03-10", "2026-03-11", "2026-03-20", "2026-04-30"):
        world.clock.set(at(day, 18))
        assert sweep(world) == NOTHING
    assert world.counts() == counts
    after = world.issue(code)
    assert (after.state, after.version, after.next_check_at) == ("du.verifying", before.version, None)


def test_sweeping_twice_at_the_same_instant_acts_once(world: World) -> None:
    overdue = handed_off(world)
    world.clock.set(at("2026-03-04"))
    reminded = handed_off(world)  # due Monday 03-09; its day_before reminder falls on Friday night
    world.clock.set(at("2026-03-07"))

    assert sweep(world, batch=1) == {**NOTHING, "reminded": 1, "escalated": 1}  # batches of one reach both
    counts = world.counts()
    assert sweep(world) == NOTHING
    assert sweep(world, batch=1) == NOTHING

    assert world.counts() == counts
    assert [t for t, _ in ledger(world, overdue)].count("dispatch") == 1
    assert len(notices(world, "remind_")) == 1
    assert world.issue(reminded).state == "ban.handed_off"


def test_an_issue_accepted_between_the_sweeps_read_and_its_escalation_is_skipped_not_dispatched(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = handed_off(world)
    world.clock.set(at("2026-03-06"))
    real_apply = sweeps.apply

    def person_acts_first(*args: Any, **kwargs: Any) -> Any:
        world.fire(code, "accept", RECEIVER)  # the receiving side accepts a moment after the sweep read the row
        monkeypatch.setattr(sweeps, "apply", real_apply)
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(sweeps, "apply", person_acts_first)

    assert sweep(world) == {**NOTHING, "skipped": 1}
    assert world.issue(code).state == "ban.accepted"
    assert ledger(world, code) == [("report", REPORTER), ("hand_off", REPORTER), ("accept", RECEIVER)]
    assert sweep(world) == NOTHING  # the next sweep sees the new wait, not yet due


def test_an_issue_moved_between_the_sweeps_read_and_its_reminder_gets_no_stale_reminder(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = handed_off(world)
    world.clock.set(at("2026-03-05"))
    real_notice_once = sweeps._notice_once

    def person_acts_first(*args: Any, **kwargs: Any) -> Any:
        world.fire(code, "dispute", RECEIVER, reason="不属我方")  # after the sweep read the row, before it writes
        monkeypatch.setattr(sweeps, "_notice_once", real_notice_once)
        return real_notice_once(*args, **kwargs)

    monkeypatch.setattr(sweeps, "_notice_once", person_acts_first)

    assert sweep(world) == {**NOTHING, "skipped": 1}
    assert notices(world, "remind_") == []
    issue = world.issue(code)
    assert issue.state == "ban.negotiating"
    assert issue.next_check_at > world.clock.now()  # the new wait's own first check, untouched by the sweep


# -- closure, revisits, archive ---------------------------------------------------------------------


def test_a_closure_is_revisited_at_30_and_90_days_reminded_when_late_and_archived_by_the_system_after(
    world: World,
) -> None:
    code = world.report()
    walk_to(world, code, "close")  # closed on 2026-03-02
    first, second = revisits(world, code)
    assert [(r.cycle, r.seq, r.offset_days, r.due_on, r.status) for r in (first, second)] == [
        (1, 1, 30, date(2026, 4, 1), "planned"),
        (1, 2, 90, date(2026, 5, 31), "planned"),
    ]

    world.clock.set(at("2026-03-31", 23, 59))
    assert revisit_sweep(world) == {"due": 0, "reminded": 0, "archived": 0}
    world.clock.set(at("2026-04-01", 0, 15))
    assert revisit_sweep(world) == {"due": 1, "reminded": 0, "archived": 0}
    assert revisit_sweep(world) == {"due": 0, "reminded": 0, "archived": 0}
    due = notices(world, "revisit_due:")
    assert [(r.topic, r.kind) for r in due] == [(f"revisit_due:{first.id}", "revisit_due")]
    assert codes_of(world, due) == {AUDITOR}

    # ten working days after 04-01 is 04-16 (Qingming 04-04..06 off): reminded from the day after
    world.clock.set(at("2026-04-16", 18))
    assert revisit_sweep(world)["reminded"] == 0
    world.clock.set(at("2026-04-17"))
    assert revisit_sweep(world)["reminded"] == 1
    assert revisit_sweep(world)["reminded"] == 0
    late = notices(world, "revisit_overdue:")
    assert {r.topic for r in late} == {f"revisit_overdue:{first.id}"}
    assert codes_of(world, late) == {AUDITOR, COORDINATOR}

    world.fire(code, "start_revisit", AUDITOR)
    world.fire(code, "no_rebound", AUDITOR, finding="未反弹")
    assert [(r.status, r.outcome) for r in revisits(world, code)] == [("done", "clean"), ("planned", None)]
    assert revisit_sweep(world)["archived"] == 0  # a clean revisit, but one is still planned
    assert world.issue(code).state == "du.closed"

    world.clock.set(at("2026-05-31"))
    assert revisit_sweep(world) == {"due": 1, "reminded": 0, "archived": 0}
    world.fire(code, "start_revisit", AUDITOR)
    world.fire(code, "no_rebound", AUDITOR, finding="仍未反弹")
    assert [(r.status, r.outcome) for r in revisits(world, code)] == [("done", "clean"), ("done", "clean")]

    assert revisit_sweep(world) == {"due": 0, "reminded": 0, "archived": 1}
    assert world.issue(code).state == "archived"
    assert ledger(world, code)[-1] == ("archive", "system")
    assert revisit_sweep(world) == {"due": 0, "reminded": 0, "archived": 0}
    assert [t for t, _ in ledger(world, code)].count("archive") == 1


def test_a_rebound_cancels_the_planned_revisits_and_the_next_closure_plans_a_new_cycle(world: World) -> None:
    code = world.report()
    walk_to(world, code, "close")
    first, second = revisits(world, code)
    world.clock.set(at("2026-04-01", 10))
    revisit_sweep(world)
    world.fire(code, "start_revisit", AUDITOR)
    world.fire(code, "rebound", AUDITOR, finding="排口复现")
    assert world.issue(code).state == "ban.rectifying"
    assert [(r.id, r.status, r.outcome) for r in revisits(world, code)] == [
        (first.id, "done", "rebound"),
        (second.id, "cancelled", None),
    ]

    world.clock.set(at("2026-04-20", 10))
    close_again(world, code)
    cycle_two = [r for r in revisits(world, code) if r.cycle == 2]
    assert [(r.seq, r.due_on, r.status) for r in cycle_two] == [
        (1, date(2026, 5, 20), "planned"),
        (2, date(2026, 7, 19), "planned"),
    ]

    world.clock.set(at("2026-05-31"))  # the cancelled revisit's day: nobody is sent to it
    assert revisit_sweep(world)["due"] == 1  # only cycle two's first revisit, due 05-20
    assert {r.topic for r in notices(world, "revisit_due:")} == {
        f"revisit_due:{first.id}",
        f"revisit_due:{cycle_two[0].id}",
    }
    assert revisit_sweep(world)["archived"] == 0
    assert world.issue(code).state == "du.closed"


# -- bulletins and interview lists -----------------------------------------------------------------


def test_the_monthly_bulletin_counts_the_months_steps_and_names_the_overdue_side_and_its_chief(world: World) -> None:
    # February: one issue handed over and taken up (the year to date only).
    world.clock.set(at("2026-02-10"))
    february = handed_off(world, title="二月问题")
    world.fire(february, "accept", RECEIVER)
    world.fire(february, "start_rectify", RECEIVER, plan="清理", deadline="2026-04-30")

    # March: one closed, one disputed and settled at a joint meeting, one left to lapse.
    world.clock.set(at("2026-03-02"))
    closed = world.report(title="已销号")
    walk_to(world, closed, "close")
    met = handed_off(world, title="会办")
    world.fire(met, "dispute", RECEIVER, reason="异议")
    world.fire(met, "convene", COORDINATOR, level="district", agenda="会办")
    world.fire(met, "resolve", COORDINATOR, resolution="议定", plan="共同整改", deadline="2026-04-30")
    lapsed = handed_off(world, title="逾期未受理")
    world.clock.set(at("2026-03-06"))
    assert sweep(world)["escalated"] == 1  # the lapsed hand-off is dispatched by the system
    # Month ends are Shanghai's: one hand-off a minute before midnight, one a minute after.
    world.clock.set(at("2026-03-31", 23, 59))
    handed_off(world, title="三月最后一分钟")
    world.clock.set(at("2026-04-01", 0, 1))
    handed_off(world, title="四月第一分钟")

    assert bulletin_jobs.monthly_bulletin(world.app.uow, at("2026-04-01", 0, 30), "2026-03") == {"bulletins": 1}
    assert bulletin_jobs.monthly_bulletin(world.app.uow, at("2026-04-01", 0, 31), "2026-03") == {"bulletins": 0}

    (bulletin,) = bulletins(world, "monthly")
    assert bulletin.period == "2026-03"
    month, year = bulletin.figures["month"], bulletin.figures["year_to_date"]
    assert month == {
        "handed_over": 4,
        "accepted": 1,
        "disputed": 1,
        "negotiated": 1,
        "joint_meetings": 1,
        "dispatched": 1,
        "rectified": 1,
        "verified": 1,
        "closed": 1,
        "revisits": 0,
        "rebounds": 0,
        "archived": 0,
        "overdue": 1,
    }
    assert (year["handed_over"], year["accepted"], year["closed"], year["dispatched"]) == (5, 2, 1, 1)
    assert bulletin.parties == [
        {
            "party": "receiving",
            "jurisdiction_id": world.issue(lapsed).receiving_jurisdiction_id,
            "jurisdiction": "白马镇",
            "within": "安居区",
            "chiefs": ["黄德明"],
            "issues": [lapsed],
        }
    ]
    assert codes_of(world, notices(world, "bulletin:QJ:2026-03")) == {COORDINATOR}


def test_the_quarterly_interview_list_names_a_side_overdue_in_all_three_months_and_not_one_late_in_two(
    world: World,
) -> None:
    world.clock.set(at("2026-01-05"))
    all_quarter = handed_off(world, title="一季度全程逾期")
    world.clock.set(at("2026-02-02"))
    two_months = handed_off(world, receiving=MOXI_CODE, segment=None, title="二、三月逾期")

    for month, first_day in (("2026-01", "2026-02-01"), ("2026-02", "2026-03-01"), ("2026-03", "2026-04-01")):
        bulletin_jobs.monthly_bulletin(world.app.uow, at(first_day, 0, 30), month)
    named = [[p["jurisdiction"] for p in b.parties] for b in bulletins(world, "monthly")]
    assert named == [["白马镇"], ["白马镇", "磨溪镇"], ["白马镇", "磨溪镇"]]

    assert bulletin_jobs.quarterly_interviews(world.app.uow, at("2026-04-01", 1), "2026-Q1") == {"interview_lists": 1}
    assert bulletin_jobs.quarterly_interviews(world.app.uow, at("2026-04-01", 2), "2026-Q1") == {"interview_lists": 0}
    (interview,) = bulletins(world, "interview")
    assert interview.figures == {"months": ["2026-01", "2026-02", "2026-03"], "named": 1}
    assert [(p["jurisdiction"], p["chiefs"], p["issues"]) for p in interview.parties] == [
        ("白马镇", ["黄德明"], [all_quarter])
    ]
    assert two_months not in str(interview.parties)
    assert codes_of(world, notices(world, "interview:QJ:2026-Q1")) == {COORDINATOR}


# -- reminder arithmetic over holidays -------------------------------------------------------------

NATIONAL = WorkCalendar(load_overrides([]))  # the State Council's days, no regional ones


@pytest.mark.parametrize(
    ("since", "due_day", "day_before"),
    [
        # Thu 02-12 + 3 working days: Fri 13, make-up Sat 14, then the holiday (15..23) → Tue 24
        (at("2026-02-12"), date(2026, 2, 24), date(2026, 2, 14)),
        # Thu 02-26 + 3 working days: Fri 27, make-up Sat 28 → Mon 03-02; the day before is Saturday
        (at("2026-02-26"), date(2026, 3, 2), date(2026, 2, 28)),
        # Tue 02-10 + 3 working days: Wed 11, Thu 12, Fri 13; the day before is Thursday
        (at("2026-02-10"), date(2026, 2, 13), date(2026, 2, 12)),
    ],
)
def test_the_day_before_reminder_across_the_spring_festival_falls_on_the_last_working_day_before_the_due_day(
    since: datetime, due_day: date, day_before: date
) -> None:
    due_at = NATIONAL.due_after(since, 3)
    assert due_at == end_of_day(due_day)

    times = dict(reminder_times(NATIONAL, since, due_at))

    assert times["day_before"] == end_of_day(day_before)
    assert since < times["fraction"] < due_at
    assert [kind for kind, _ in reminder_times(NATIONAL, since, due_at)] == sorted(times, key=lambda kind: times[kind])


def test_a_hand_off_before_the_spring_festival_is_first_reminded_at_the_end_of_the_make_up_saturday(
    sqlite_world: World,
) -> None:
    world = sqlite_world
    world.clock.set(at("2026-02-12"))
    code = handed_off(world)
    issue = world.issue(code)
    assert issue.due_at == at("2026-02-24", 23, 59, 59)
    assert issue.next_check_at == at("2026-02-14", 23, 59, 59)

    world.clock.set(issue.next_check_at)
    assert sweep(world) == {**NOTHING, "reminded": 1}
    assert [r.topic for r in notices(world, "remind_")] == [f"remind_day_before:{issue.id}:v2"]
    assert world.issue(code).next_check_at > at("2026-02-15", 0)


SICHUAN_THURSDAY_OFF = """
regions:
  "510000":
    2026:
      holidays: [2026-03-05]
"""


def test_reminders_count_the_days_off_of_the_side_the_wait_is_on(tmp_path: Path, sqlite_url: str) -> None:
    calendar_file = tmp_path / "calendar.yaml"
    calendar_file.write_text(SICHUAN_THURSDAY_OFF, encoding="utf-8")
    engine = make_engine(sqlite_url)
    upgrade(engine)
    clock = FrozenClock(at("2026-03-02"))
    settings = Settings(database_url=sqlite_url, calendar_file=calendar_file, data_dir=tmp_path)
    world = load_world(bootstrap(settings, clock=clock, engine=engine), clock)
    try:
        code = handed_off(world)  # to 白马镇 (四川), whose Thursday is off
        issue = world.issue(code)
        assert issue.due_at == at("2026-03-06", 23, 59, 59)
        assert issue.next_check_at == at("2026-03-04", 23, 59, 59)  # Wednesday: Sichuan's day before Friday

        world.clock.set(issue.next_check_at)
        assert sweep(world) == {**NOTHING, "reminded": 1}
        assert [r.topic for r in notices(world, "remind_")] == [f"remind_day_before:{issue.id}:v2"]
        # the next look is the 80% mark (Friday 01:47:59), not a national "day before" on Thursday night
        assert world.issue(code).next_check_at.replace(microsecond=0) == at("2026-03-06", 1, 47, 59)
    finally:
        engine.dispose()
