"""The data behind the joint-meeting minutes: who attends, and on which day a meeting with no date is held."""

from datetime import datetime
from typing import Any

from tests.factories import COORDINATOR, REPORTER, World, walk_to
from workflow.core.clock import SHANGHAI
from workflow.core.reference import load, parse_text
from workflow.reading.dossier import joint_meetings

OTHER_COORDINATOR = "hj-coord"

# A second compact beside 琼江, with a coordinator of its own and nothing shared.
OTHER_COMPACT = f"""
jurisdictions:
  - code: "420000"
    name: 湖北省
    level: province
    children:
      - {{code: "420100", name: 武汉市, level: city}}
      - {{code: "420600", name: 襄阳市, level: city}}
people:
  - {{code: wh-chief, name: 武汉河长, role: chief, jurisdiction: "420100"}}
  - {{code: {OTHER_COORDINATOR}, name: 汉江协调人, role: coordinator, title: 汉江联席会议协调人}}
compacts:
  - {{code: HJ, name: 汉江协作, members: ["420100", "420600"], coordinators: [{OTHER_COORDINATOR}]}}
"""

MARCH = (datetime(2026, 3, 1, tzinfo=SHANGHAI), datetime(2026, 4, 1, tzinfo=SHANGHAI))


def put_to_a_joint_meeting(world: World, meeting_date: str | None = None) -> str:
    """A new issue, accepted, then found difficult and put to a district-level joint meeting."""
    code = world.report()
    walk_to(world, code, "accept")
    world.fire(code, "negotiate", REPORTER, reason="排口归属有争议")
    dated: dict[str, Any] = {"meeting_date": meeting_date} if meeting_date else {}
    world.fire(code, "convene", COORDINATOR, level="district", agenda="排口封堵责任划分", **dated)
    return code


def minutes_of(world: World, compact: str) -> list[dict[str, Any]]:
    """The meetings the minutes of ``compact`` list for March 2026."""
    with world.app.reader() as uow:
        meetings: list[dict[str, Any]] = joint_meetings(uow.connection, compact, *MARCH)["meetings"]
    return meetings


def test_the_attendees_are_the_meetings_own_coordinators_and_the_chiefs_of_both_sides(world: World) -> None:
    load(world.app.uow(), parse_text(OTHER_COMPACT, "yaml"))
    put_to_a_joint_meeting(world, meeting_date="2026-03-10")

    (meeting,) = minutes_of(world, "QJ")
    assert meeting["date"] == "2026-03-10"
    assert [(p["name"], p["title"]) for p in meeting["attendees"]] == [
        ("许慧敏", "联席会议协调人"),
        ("陈志强", "太安镇镇级河长"),
        ("黄德明", "白马镇镇级河长"),
    ]
    assert minutes_of(world, "HJ") == []


def test_a_meeting_with_no_date_is_held_on_the_beijing_day_it_was_convened(world: World) -> None:
    world.clock.set(datetime(2026, 3, 2, 7, 30, tzinfo=SHANGHAI))  # 2026-03-01 23:30 UTC
    code = put_to_a_joint_meeting(world)

    (meeting,) = minutes_of(world, "QJ")
    assert meeting["date"] == "2026-03-02"
    assert [item["code"] for item in meeting["agenda"]] == [code]
