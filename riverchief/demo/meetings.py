"""办/督 in the demo: a year of joint meetings on several issues at different levels, their decisions and action
items, minutes, and the progress bulletins the coordinators call for; then the year's figures, as the practice
reports them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from riverchief.bootstrap import App
from states.chart import MEETING_LEVELS
from states.words import word
from workflow.core.actors import load_actor
from workflow.core.calendar import local_today
from workflow.core.clock import SHANGHAI, FrozenClock
from workflow.core.services import IssueDraft, apply, report_issue
from workflow.meetings.actions import add_action_item, complete_action_item
from workflow.meetings.bulletins import issue_progress_bulletin
from workflow.meetings.records import MeetingDraft, convene_meeting, decide, record_attendance
from workflow.reading.meetings import meeting_view
from workflow.reading.practice import FIGURES, period_figures

# (reporting chief, segment, receiving jurisdiction, title, category, difficulty)
PROBLEMS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("tn-yuxi", "qj-anju", "500151101", "安居镇段岸线生活垃圾堆放", "solid_waste", "easy"),
    ("tn-yuxi", "qj-anju", "500151101", "安居镇段漂浮物聚集", "solid_waste", "easy"),
    ("tn-yuxi", "qj-anju", "500151101", "安居镇段养殖尾水直排", "livestock", "normal"),
    ("tn-yuxi", "qj-anju", "500151101", "安居镇段雨污混流排口", "domestic_sewage", "normal"),
    ("tn-chonglong", "qj-longtai", "512021101", "龙台镇段非法采砂", "sand_mining", "hard"),
    ("tn-chonglong", "qj-longtai", "512021101", "龙台镇段工业园区废水", "industrial_discharge", "hard"),
)
# (day, title, place, agenda by PROBLEMS index, level or None for the suggested one, reason)
MEETINGS: tuple[tuple[date, str, str, tuple[int, ...], str | None, str | None], ...] = (
    (date(2026, 5, 19), "玉溪—安居垃圾问题乡镇会办", "安居镇政府会议室", (0, 1), None, None),
    (date(2026, 7, 8), "潼南—铜梁跨界排口会办", "铜梁区河长办会议室", (2, 3), None, None),
    (
        date(2026, 9, 15),
        "琼江上游采砂与工业废水联席会议",
        "遂宁市河长办会议室",
        (4, 5),
        "city",
        "两市河长办已有联合执法机制，由市级会办即可，不必提请省级",
    ),
)


def _at(day: date, hour: int = 9, minute: int = 30) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def play(app: App, clock: FrozenClock) -> dict[str, Any]:
    """Play the year's meetings and bulletins; return what was made."""
    with app.reader() as uow:
        people = {c: load_actor(uow.session, c) for c in ("tn-yuxi", "tn-chonglong", "qj-coord", "tl-anju")}
    coordinator = people["qj-coord"]
    clock.set(max(clock.now(), _at(date(2026, 5, 6))))
    issues = []
    for who, segment, receiving, title, category, difficulty in PROBLEMS:
        problem = IssueDraft(compact="QJ", title=title, category=category, segment=segment, difficulty=difficulty)
        made = report_issue(app.uow(), people[who], problem)
        apply(app.uow(), made.issue_code, "hand_off", people[who], {"receiving": receiving}, made.version)
        issues.append(made.issue_code)
        clock.advance(hours=5)
    meetings = []
    for day, title, place, agenda, level, reason in MEETINGS:
        clock.set(max(clock.now(), _at(day - timedelta(days=7))))
        draft = MeetingDraft(
            compact="QJ",
            title=title,
            starts_at=_at(day),
            place=place,
            level=level,
            level_reason=reason,
            agenda=tuple(issues[i] for i in agenda),
        )
        convened = convene_meeting(app.uow(), coordinator, draft)
        clock.set(_at(day, 11))
        with app.reader() as uow:
            invited = meeting_view(uow.connection, convened.code, clock.now()).invitees
        record_attendance(app.uow(), coordinator, convened.code, {i.code: "present" for i in invited})
        deadline = app.calendar.add_working_days(local_today(clock.now()), 20)
        for i in agenda:
            decide(
                app.uow(),
                coordinator,
                convened.code,
                issues[i],
                f"{PROBLEMS[i][3]}由属地牵头整改，上游方配合监测",
                "制定整改方案，限期整改到位后申请联合复核",
                deadline,
            )
        meetings.append(convened)
    # The July meeting sets up a joint enforcement team (done in time); September's asks for a monitoring
    # station on the upper river, still open at the year's end.
    clock.set(_at(date(2026, 7, 8), 15))
    team = add_action_item(
        app.uow(), coordinator, "QJ", "建立潼南—铜梁联合执法小组", "500152", date(2026, 8, 14), meeting=meetings[1].code
    )
    clock.set(_at(date(2026, 8, 10), 10))
    complete_action_item(app.uow(), coordinator, team, "联合执法小组已于8月10日成立，首次联合巡查已开展")
    clock.set(_at(date(2026, 9, 15), 15))
    add_action_item(
        app.uow(),
        coordinator,
        "QJ",
        "在琼江上游交界断面建设水质自动监测站",
        "510904",
        date(2026, 11, 30),
        meeting=meetings[2].code,
    )
    numbers = []
    for issued_on, first, last in (
        (date(2026, 6, 30), date(2026, 5, 1), date(2026, 7, 1)),
        (date(2026, 10, 30), date(2026, 7, 1), date(2026, 10, 30)),
        (date(2026, 12, 10), date(2026, 1, 1), date(2026, 12, 10)),
    ):
        clock.set(max(clock.now(), _at(issued_on, 16)))
        numbers.append(issue_progress_bulletin(app.uow(), coordinator, "QJ", first, last))
    return {"meetings": meetings, "bulletins": numbers}


def show(app: App, console: Console, held: dict[str, Any]) -> None:
    """Print the year's meetings, bulletins and figures (after the scheduler's jobs have run)."""
    meetings, bulletins = held["meetings"], [n.number for n in held["bulletins"]]
    levels = {level: word(f"common.level.{level}", False) for level in MEETING_LEVELS}
    table = Table(title="联席会议 joint meetings", show_lines=False)
    for column in ("编号", "层级", "建议层级", "会办问题"):
        table.add_column(column)
    for m in meetings:
        table.add_row(m.code, levels[m.level], levels[m.suggested_level], "、".join(m.convened))
    console.print()
    console.print(table)
    console.print("通报整改情况 progress bulletins: " + "、".join(bulletins))
    with app.reader() as uow:
        year = period_figures(uow.connection, "QJ", date(2026, 1, 1), date(2027, 1, 1))
    figures = Table(title="琼江 2026 年跨界联防联控数据（全年）")
    figures.add_column("事项")
    figures.add_column("数量", justify="right")
    for key in FIGURES:
        figures.add_row(word(f"progress.figure.{key}", False), str(year[key]))
    by_level = year["joint_meetings_by_level"]
    figures.add_row("其中：" + "，".join(f"{levels[k]}{by_level[k]}" for k in levels), "")
    console.print(figures)
