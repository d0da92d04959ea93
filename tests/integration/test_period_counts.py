"""The grouped counts of a period (steps, each member's steps, the hand-off cohort) equal the same figures
counted one trigger and one issue at a time from the ledger, beside steps before and after the period and
steps of another compact."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

import pytest
import sqlalchemy as sa

from tests.factories import AUDITOR, CHECKLIST, COORDINATOR, RECEIVER, RECEIVING_CODE, REPORTER, World
from workflow.core.actors import load_actor
from workflow.core.clock import SHANGHAI
from workflow.core.models import Compact, Event, Issue, Jurisdiction, table_of
from workflow.core.reference import load, parse_text
from workflow.reading.figures import FIGURE_SIDES, FIGURES, stats
from workflow.reading.practice import period_figures, sides_figures

# A second compact whose steps fall in the same days, with chiefs on both sides.
HANJIANG = """
jurisdictions:
  - code: "420000"
    name: 湖北省
    level: province
    children:
      - {code: "420100", name: 武汉市, level: city}
      - {code: "420600", name: 襄阳市, level: city}
people:
  - {code: wh-chief, name: 武汉河长, role: chief, jurisdiction: "420100"}
  - {code: xy-chief, name: 襄阳河长, role: chief, jurisdiction: "420600"}
  - {code: hj-coord, name: 汉江协调人, role: coordinator}
compacts:
  - {code: HJ, name: 汉江协作, members: ["420100", "420600"], coordinators: [hj-coord]}
rivers:
  - code: hanjiang
    name: 汉江
    segments:
      - {code: hj-wuhan, name: 汉江武汉段, jurisdiction: "420100", chief: wh-chief}
"""

START, END = date(2026, 3, 1), date(2026, 4, 1)  # the period: March
SINCE, UNTIL = (datetime.combine(d, time(0), tzinfo=SHANGHAI) for d in (START, END))

# What the practice counts of the cohort handed over in the period, by the steps that reach each figure.
REACHED = {
    "accepted": {"accept", "agree", "resolve", "start_rectify"},
    "disputed": {"dispute"},
    "negotiated": {"dispute", "negotiate"},
    "dispatched": {"dispatch"},
    "rectified": {"report_done"},
    "closed": {"close"},
}

# day, trigger, who, and the payload (made on the day where it names a deadline)
Step = tuple[str, str, str, dict[str, Any] | Callable[[World], dict[str, Any]]]


def _plan(world: World) -> dict[str, Any]:
    return {"plan": "封堵排口", "deadline": world.deadline(10)}


def _resolution(world: World) -> dict[str, Any]:
    return {"resolution": "由接收方整改", **_plan(world)}


HAND_OFF: Step = ("", "hand_off", REPORTER, {"receiving": RECEIVING_CODE})


def _on(day: str, step: Step) -> Step:
    return (day, *step[1:])


# Each issue of 琼江: the days of its steps, from February (before the period) to April (after it).
QJ_PATHS: list[list[Step]] = [
    # handed over and accepted in February, worked on and closed in March, revisited in April
    [
        _on("02-10", HAND_OFF),
        ("02-12", "accept", RECEIVER, {}),
        ("03-03", "start_rectify", RECEIVER, _plan),
        ("03-09", "report_done", RECEIVER, {"summary": "已封堵"}),
        ("03-10", "request_verify", REPORTER, {}),
        ("03-11", "pass_check", RECEIVER, {"checklist": CHECKLIST}),
        ("03-11", "pass_check", REPORTER, {"checklist": CHECKLIST}),
        ("03-12", "close", REPORTER, {}),
        ("04-02", "start_revisit", AUDITOR, {}),
        ("04-03", "rebound", AUDITOR, {"finding": "排口复开"}),
    ],
    # handed over in March, closed at the first check, revisited and rebounding in March too
    [
        _on("03-02", HAND_OFF),
        ("03-02", "accept", RECEIVER, {}),
        ("03-03", "start_rectify", RECEIVER, _plan),
        ("03-04", "report_done", RECEIVER, {"summary": "已封堵"}),
        ("03-05", "request_verify", REPORTER, {}),
        ("03-05", "pass_check", RECEIVER, {"checklist": CHECKLIST}),
        ("03-05", "pass_check", REPORTER, {"checklist": CHECKLIST}),
        ("03-06", "close", REPORTER, {}),
        ("03-16", "start_revisit", AUDITOR, {}),
        ("03-17", "rebound", AUDITOR, {"finding": "排口复开"}),
        ("03-24", "report_done", RECEIVER, {"summary": "再次封堵"}),
    ],
    # handed over in March, closed in March and revisited clean in April (一次性销号未反弹)
    [
        _on("03-09", HAND_OFF),
        ("03-09", "accept", RECEIVER, {}),
        ("03-10", "start_rectify", RECEIVER, _plan),
        ("03-11", "report_done", RECEIVER, {"summary": "已封堵"}),
        ("03-12", "request_verify", REPORTER, {}),
        ("03-12", "pass_check", RECEIVER, {"checklist": CHECKLIST}),
        ("03-12", "pass_check", REPORTER, {"checklist": CHECKLIST}),
        ("03-13", "close", REPORTER, {}),
        ("04-07", "start_revisit", AUDITOR, {}),
    ],
    # disputed in March, agreed in April: in the cohort, disputed and negotiated, not accepted by the end
    [
        _on("03-16", HAND_OFF),
        ("03-17", "dispute", RECEIVER, {"reason": "不在本方"}),
        ("04-02", "agree", REPORTER, _resolution),
    ],
    # disputed and put to a joint meeting in March, its decision in March: accepted through the meeting
    [
        _on("03-18", HAND_OFF),
        ("03-19", "dispute", RECEIVER, {"reason": "责任不清"}),
        ("03-20", "convene", COORDINATOR, {"level": "district", "agenda": "责任划分"}),
        ("03-23", "resolve", COORDINATOR, _resolution),
    ],
    # accepted, then negotiated and agreed in March
    [
        _on("03-20", HAND_OFF),
        ("03-20", "accept", RECEIVER, {}),
        ("03-23", "negotiate", RECEIVER, {"reason": "需上游配合"}),
        ("03-25", "agree", REPORTER, _resolution),
    ],
    # handed over late in March, dispatched by the coordinators in April
    [
        _on("03-30", HAND_OFF),
        ("04-08", "dispatch", COORDINATOR, {"order": "限期受理"}),
        ("04-09", "start_rectify", RECEIVER, _plan),
    ],
    # dispatched in March
    [
        _on("03-04", HAND_OFF),
        ("03-25", "dispatch", COORDINATOR, {"order": "限期受理"}),
    ],
    # handed over and accepted in April only
    [_on("04-06", HAND_OFF), ("04-06", "accept", RECEIVER, {})],
    # handed over and accepted in March, then merged into another report as its duplicate
    [_on("03-06", HAND_OFF), ("03-07", "accept", RECEIVER, {})],
]

# The other compact's issues, stepping on the same days.
HJ_PATHS: list[list[Step]] = [
    [
        ("03-02", "hand_off", "wh-chief", {"receiving": "420600"}),
        ("03-03", "accept", "xy-chief", {}),
        ("03-04", "start_rectify", "xy-chief", _plan),
        ("03-05", "report_done", "xy-chief", {"summary": "已处理"}),
    ],
    [
        ("03-10", "hand_off", "wh-chief", {"receiving": "420600"}),
        ("03-11", "dispute", "xy-chief", {"reason": "不在本方"}),
    ],
]


def _at(day: str) -> datetime:
    month, dd = (int(x) for x in day.split("-"))
    return datetime(2026, month, dd, 10, 0, tzinfo=SHANGHAI)


def _play(world: World) -> None:
    """Every issue reported in January, then every step fired on its day, in day order across issues."""
    world.clock.set(_at("01-20"))
    codes: list[tuple[str, list[Step]]] = [(world.report(), path) for path in QJ_PATHS]
    codes += [
        (world.report("wh-chief", compact="HJ", segment="hj-wuhan", title="汉江武汉段排污口"), path)
        for path in HJ_PATHS
    ]
    steps = sorted(
        (day, n, i, code, trigger, who, payload)
        for i, (code, path) in enumerate(codes)
        for n, (day, trigger, who, payload) in enumerate(path)
    )
    for day, _, _, code, trigger, who, payload in steps:
        world.clock.set(_at(day))
        world.fire(code, trigger, who, **(payload(world) if callable(payload) else payload))
    issue = table_of(Issue)
    duplicate, original = codes[len(QJ_PATHS) - 1][0], codes[0][0]
    with world.app.uow() as uow:  # merged as mark_duplicate merges (the original's own step aside)
        original_id = sa.select(issue.c.id).where(issue.c.code == original).scalar_subquery()
        uow.connection.execute(issue.update().where(issue.c.code == duplicate).values(duplicate_of_id=original_id))
        uow.commit()


def _ledger(world: World) -> list[Any]:
    """Every event with what the figures ask of its issue: compact, duplicate, sides' paths, closure."""
    event, issue, compact = table_of(Event), table_of(Issue), table_of(Compact)
    reporting, receiving = table_of(Jurisdiction).alias("reporting"), table_of(Jurisdiction).alias("receiving")
    with world.app.reader() as uow:
        return list(
            uow.connection.execute(
                sa.select(
                    event.c.issue_id,
                    event.c.trigger,
                    event.c.occurred_at,
                    compact.c.code.label("compact"),
                    issue.c.duplicate_of_id,
                    issue.c.closed_at,
                    issue.c.check_round,
                    issue.c.rebound_count,
                    reporting.c.path.label("reporting"),
                    receiving.c.path.label("receiving"),
                )
                .join(issue, issue.c.id == event.c.issue_id)
                .join(compact, compact.c.id == issue.c.compact_id)
                .join(reporting, reporting.c.id == issue.c.reporting_jurisdiction_id)
                .outerjoin(receiving, receiving.c.id == issue.c.receiving_jurisdiction_id)
            ).all()
        )


def _in(e: Any, compact: str | None, since: datetime | None, until: datetime | None) -> bool:
    return (
        (compact is None or e.compact == compact)
        and (since is None or e.occurred_at >= since)
        and (until is None or e.occurred_at < until)
    )


def _steps_one_by_one(
    ledger: list[Any], compact: str | None, since: datetime | None, until: datetime | None, member: str | None = None
) -> dict[str, int]:
    """Each figure's steps counted trigger by trigger (a member: on the side the figure counts for)."""
    counted = {}
    for key, triggers in FIGURES:
        n = 0
        for trigger in triggers:
            for e in ledger:
                if e.trigger != trigger or e.duplicate_of_id is not None or not _in(e, compact, since, until):
                    continue
                sides = {"reporting": e.reporting, "receiving": e.receiving or ""}
                if member is None or any(sides[side].startswith(member) for side in FIGURE_SIDES[key]):
                    n += 1
        counted[key] = n
    return counted


def _cohort_one_by_one(ledger: list[Any], since: datetime, until: datetime, side: str | None) -> dict[str, int]:
    """The issues of 琼江 handed over in the period (by the side), and for each figure those that reached it."""
    cohort = {
        e.issue_id
        for e in ledger
        if e.trigger == "hand_off"
        and e.duplicate_of_id is None
        and _in(e, "QJ", since, until)
        and (side is None or e.reporting.startswith(side))
    }
    counted = {"handed_over": len(cohort)}
    for key, triggers in REACHED.items():
        counted[key] = len(
            {e.issue_id for e in ledger if e.issue_id in cohort and e.trigger in triggers and e.occurred_at < until}
        )
    issues = {e.issue_id: e for e in ledger if e.issue_id in cohort}
    counted["closed_without_rebound"] = sum(
        1
        for e in issues.values()
        if e.closed_at is not None and e.closed_at < until and e.check_round == 1 and e.rebound_count == 0
    )
    return counted


def _events_one_by_one(ledger: list[Any], trigger: str, since: datetime, until: datetime, side: str | None) -> int:
    return sum(
        1
        for e in ledger
        if e.trigger == trigger
        and _in(e, "QJ", since, until)
        and (side is None or e.reporting.startswith(side) or (e.receiving or "").startswith(side))
    )


@pytest.fixture
def played(world: World) -> list[Any]:
    load(world.app.uow(), parse_text(HANJIANG, "yaml"))
    with world.app.reader() as uow:
        for code in ("wh-chief", "xy-chief", "hj-coord"):
            world.people[code] = load_actor(uow.session, code)
    _play(world)
    return _ledger(world)


def test_the_world_has_steps_outside_the_period_and_in_another_compact(played: list[Any]) -> None:
    march = _steps_one_by_one(played, "QJ", SINCE, UNTIL)
    assert [key for key, n in march.items() if not n] == ["archived"]  # every other figure has steps in March
    cohort = _cohort_one_by_one(played, SINCE, UNTIL, None)
    assert [key for key, n in cohort.items() if not n] == []
    assert march != _steps_one_by_one(played, "QJ", None, None)  # steps before and after March count elsewhere
    assert march != _steps_one_by_one(played, None, SINCE, UNTIL)  # and so do the other compact's
    # and issues handed over in March reach further figures after it
    handed = {e.issue_id for e in played if e.trigger == "hand_off" and _in(e, "QJ", SINCE, UNTIL)}
    later = {e.trigger for e in played if e.issue_id in handed and e.occurred_at >= UNTIL}
    assert later & set().union(*REACHED.values())


def test_the_periods_steps_equal_the_steps_counted_trigger_by_trigger(world: World, played: list[Any]) -> None:
    with world.app.reader() as uow:
        figures = stats(uow.connection, "QJ", SINCE, UNTIL)
        paths = dict(
            uow.connection.execute(sa.select(table_of(Jurisdiction).c.code, table_of(Jurisdiction).c.path)).all()
        )
    assert {key: figures[key] for key, _ in FIGURES} == _steps_one_by_one(played, "QJ", SINCE, UNTIL)
    assert [party["code"] for party in figures["parties"]] == ["500151", "500152", "510900", "512000"]
    for party in figures["parties"]:
        expected = _steps_one_by_one(played, "QJ", SINCE, UNTIL, member=paths[party["code"]])
        assert {key: party[key] for key, _ in FIGURES} == expected, party["code"]


@pytest.mark.parametrize("side", [None, "500152", "510904", "512000"])
def test_the_cohorts_counts_equal_the_issues_counted_one_by_one(
    world: World, played: list[Any], side: str | None
) -> None:
    with world.app.reader() as uow:
        figures = period_figures(uow.connection, "QJ", START, END, side=side)
        path = (
            None
            if side is None
            else uow.connection.execute(
                sa.select(table_of(Jurisdiction).c.path).where(table_of(Jurisdiction).c.code == side)
            ).scalar_one()
        )
    expected = _cohort_one_by_one(played, SINCE, UNTIL, path)
    assert {key: figures[key] for key in expected} == expected
    assert figures["rebounds"] == _events_one_by_one(played, "rebound", SINCE, UNTIL, path)
    assert figures["revisits"] == _events_one_by_one(played, "start_revisit", SINCE, UNTIL, path)


def test_the_sides_asked_together_get_what_each_gets_alone_in_the_statements_of_one(
    world: World, played: list[Any]
) -> None:
    sides = [None, "500152", "510904", "512000"]
    sent: list[str] = []

    def keep(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        sent.append(statement)

    with world.app.reader() as uow:
        alone = [period_figures(uow.connection, "QJ", START, END, side=side) for side in sides]
        sa.event.listen(uow.connection, "before_cursor_execute", keep)
        together = sides_figures(uow.connection, "QJ", START, END, sides)
        one = len(sent)
        sides_figures(uow.connection, "QJ", START, END, ["500152"])
    assert together == alone
    assert len({repr(figures) for figures in alone}) > 1  # the sides count apart: not one answer four times
    # Each side beyond the first costs only its joint meetings (the meetings held and the steps convening one).
    assert one - (len(sent) - one) == 2 * (len(sides) - 1)


def _event_plans(world: World, read: Callable[[sa.Connection], object], index: str) -> list[str]:
    """The plan of each statement ``read`` sends that finds steps by the event's compact, with every other
    index of event dropped and sequential scans priced out (in a transaction rolled back)."""
    seen: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if "event.compact_id =" in statement:
            seen.append((statement, parameters))

    engine = world.app.engine
    postgresql = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        sa.event.listen(engine, "before_cursor_execute", keep)
        try:
            read(conn)
        finally:
            sa.event.remove(engine, "before_cursor_execute", keep)
        others = sa.text(
            "SELECT indexrelname FROM pg_stat_user_indexes WHERE relname = 'event'"
            if postgresql
            else "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'event'"
        )
        for other in set(conn.execute(others).scalars()) - {index}:
            if other.startswith("ix_"):
                conn.execute(sa.text(f"DROP INDEX {other}"))
        if postgresql:
            conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        explain = "EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN "
        plans = [
            "\n".join(str(row[-1]) for row in conn.exec_driver_sql(explain + statement, parameters))
            for statement, parameters in seen
        ]
        conn.rollback()
    return plans


def test_the_stats_read_the_compacts_steps_of_the_period_by_the_compact_on_the_ledger(
    world: World, played: list[Any]
) -> None:
    index = "ix_event_compact_trigger_occurred"
    # The year's stats with the practice's figures: the steps by trigger, the hand-off cohort, the rebounds and
    # revisits, the convenings; for the compact and for each member.
    plans = _event_plans(world, lambda conn: stats(conn, "QJ", SINCE, UNTIL), index)

    assert len(plans) >= 4
    for plan in plans:
        # Ranged by the compact in the index, not read whole for its other columns.
        held = "Index Cond: ((compact_id =" if world.app.engine.dialect.name == "postgresql" else "(compact_id=?"
        assert index in plan, plan
        assert held in plan, plan


def test_the_stats_read_the_sides_of_their_steps_issues_from_the_index_without_the_rows(
    world: World, played: list[Any]
) -> None:
    if world.app.engine.dialect.name != "postgresql":
        pytest.skip("an index-only scan with included columns is PostgreSQL's")
    index = "ix_issue_compact_sides"
    with world.app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM (ANALYZE) issue"))  # the visibility map set, as autovacuum keeps it
    # Each statement that joins the compact's steps of the period to their issues: the steps by trigger and
    # member, the hand-off cohort, the rebounds and revisits and the convenings of a member.
    seen: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if "JOIN issue ON issue.id = event.issue_id" in statement and "event.compact_id =" in statement:
            seen.append((statement, parameters))

    engine = world.app.engine
    with engine.connect() as conn:
        sa.event.listen(engine, "before_cursor_execute", keep)
        try:
            stats(conn, "QJ", SINCE, UNTIL)
        finally:
            sa.event.remove(engine, "before_cursor_execute", keep)
        for other in set(conn.execute(sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'issue'")).scalars()):
            if other.startswith("ix_") and other != index:
                conn.execute(sa.text(f"DROP INDEX {other}"))
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        conn.execute(sa.text("SET LOCAL enable_bitmapscan = off"))
        plans = [
            "\n".join(str(row[0]) for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            for statement, parameters in seen
        ]
        conn.rollback()
    assert len(plans) >= 6  # the steps, and for the compact and each member the cohort, rebounds and revisits
    for plan in plans:
        # The compact's issues by the index alone, their sides with them: no issue row read for the join.
        assert re.search(rf"Index Only Scan using {index} on issue .*\n\s*Index Cond: \(+compact_id =", plan), plan
