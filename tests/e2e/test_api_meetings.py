"""Joint meetings as records: a coordinator convenes one on several issues, records who came and what was
decided, and follows the action items; the compact reads them, and nobody else finds them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from httpx import Response

from tests.factories import COORDINATOR, RECEIVER, REPORTER, World, walk_to
from web.api import create_api
from workflow.accounts.tokens import create_token
from workflow.core.errors import Conflict, InvalidTransition
from workflow.core.models import Event, Issue, Meeting, MeetingIssue, Outbox, table_of
from workflow.core.reference import load, parse_text
from workflow.meetings.records import MeetingDraft, convene_meeting

SECOND_COORDINATOR = "qj-coord-2"
OUTSIDER = "wh-chief"
EXTRA = f"""
jurisdictions:
  - {{code: "420000", name: 湖北省, level: province, children: [{{code: "420100", name: 武汉市, level: city}}]}}
people:
  - {{code: {SECOND_COORDINATOR}, name: 琼江第二协调人, role: coordinator, email: qj2@qiongjiang.example.cn}}
  - {{code: {OUTSIDER}, name: 武汉河长, role: chief, jurisdiction: "420100", email: wh@wuhan.example.cn}}
compacts:
  - {{code: QJ, name: 琼江流域联防联控, members: ["500152", "500151", "510900", "512000"],
     coordinators: [qj-coord, {SECOND_COORDINATOR}], auditors: [ngo-auditor]}}
"""


@pytest.fixture
def world(world: World) -> World:
    """The demo's 琼江 compact with a second coordinator, and a chief of another province outside it."""
    load(world.app.uow(), parse_text(EXTRA, "yaml"))
    for code in (SECOND_COORDINATOR, OUTSIDER, COORDINATOR):
        world.people.pop(code, None)
    from workflow.core.actors import load_actor

    with world.app.reader() as uow:
        for code in (SECOND_COORDINATOR, OUTSIDER, COORDINATOR):
            world.people[code] = load_actor(uow.session, code)
    return world


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_api(world.app)) as test_client:
        yield test_client


def auth(world: World, person: str) -> dict[str, str]:
    _, token = create_token(world.app.uow(), person, "test")
    return {"Authorization": f"Bearer {token}"}


def fields_of(answer: Response) -> set[str]:
    assert answer.status_code == 422, answer.text
    return {f["field"] for f in answer.json()["fields"]}


def handed_off(world: World, title: str) -> str:
    code = world.report(title=title)
    walk_to(world, code, "hand_off")
    return code


def stuck_issues(world: World) -> list[str]:
    """Three issues waiting in 办: one unaccepted, one accepted, one disputed."""
    first = handed_off(world, "白马镇段排污口")
    second = handed_off(world, "太安镇段养殖废水")
    world.fire(second, "accept", RECEIVER)
    third = handed_off(world, "交界处垃圾堆放")
    world.fire(third, "dispute", RECEIVER, reason="位置在对方一侧")
    return [first, second, third]


def meeting_body(issues: list[str], **extra: Any) -> dict[str, Any]:
    body = {
        "compact": "QJ",
        "title": "琼江跨界问题联席会议",
        "starts_at": "2026-03-05T09:30:00+08:00",
        "place": "潼南区河长办会议室",
        "agenda": issues,
    }
    body.update(extra)
    return body


def outbox_topics(world: World, prefix: str) -> list[tuple[str, str]]:
    with world.app.reader() as uow:
        rows = uow.connection.execute(
            sa.select(table_of(Outbox).c.topic, table_of(Outbox).c.kind).where(
                table_of(Outbox).c.topic.startswith(prefix)
            )
        ).all()
    return [(r.topic, r.kind) for r in rows]


def test_a_coordinator_convenes_one_meeting_on_three_issues_and_each_is_put_to_it(
    world: World, client: TestClient
) -> None:
    issues = stuck_issues(world)
    answer = client.post("/api/v1/meetings", json=meeting_body(issues), headers=auth(world, COORDINATOR))
    assert answer.status_code == 201, answer.text
    meeting = answer.json()
    assert meeting["code"] == "QJ-HY-2026-001"
    assert [a["issue"] for a in meeting["agenda"]] == issues
    assert {a["state"] for a in meeting["agenda"]} == {"ban.joint_meeting"}
    # Two provinces' sides on one agenda: one level above the normal difficulty's district.
    assert (meeting["level"], meeting["suggested_level"]) == ("city", "city")
    invited = {i["code"] for i in meeting["invitees"]}
    assert {REPORTER, RECEIVER, COORDINATOR, SECOND_COORDINATOR} <= invited
    for code in issues:
        convene = [e for e in world.events(code) if e.trigger == "convene"]
        assert [e.payload["meeting"] for e in convene] == [meeting["code"]]
    invitations = outbox_topics(world, f"meeting:{meeting['code']}:")
    assert len(invitations) == len(invited)
    assert {kind for _, kind in invitations} == {"meeting_invited"}


def test_a_meeting_whose_agenda_holds_an_issue_that_cannot_be_convened_is_refused_whole(
    world: World, client: TestClient
) -> None:
    issues = stuck_issues(world)
    fresh = world.report(title="刚上报的问题")  # still 巡: nothing to meet about yet
    before = {code: world.issue(code).version for code in issues}
    answer = client.post("/api/v1/meetings", json=meeting_body([*issues, fresh]), headers=auth(world, COORDINATOR))
    assert answer.status_code == 409, answer.text
    assert fresh in answer.json()["detail"]
    assert {code: world.issue(code).version for code in issues} == before
    with world.app.reader() as uow:
        assert uow.connection.execute(sa.select(sa.func.count()).select_from(table_of(Meeting))).scalar() == 0
    assert outbox_topics(world, "meeting:") == []


def test_a_level_other_than_the_suggested_one_needs_its_reason(world: World, client: TestClient) -> None:
    issues = stuck_issues(world)[:1]
    headers = auth(world, COORDINATOR)
    without = client.post("/api/v1/meetings", json=meeting_body(issues, level="township"), headers=headers)
    assert fields_of(without) == {"level_reason"}
    reason = "问题已有初步方案，由乡镇层级会办即可"
    kept = client.post(
        "/api/v1/meetings", json=meeting_body(issues, level="township", level_reason=reason), headers=headers
    )
    assert kept.status_code == 201, kept.text
    assert (kept.json()["level"], kept.json()["level_reason"]) == ("township", reason)
    unknown = client.post("/api/v1/meetings", json=meeting_body([], level="county"), headers=headers)
    assert "level" in fields_of(unknown)


def test_only_coordinators_convene_and_only_the_compact_reads(world: World, client: TestClient) -> None:
    issues = stuck_issues(world)
    refused = client.post("/api/v1/meetings", json=meeting_body(issues), headers=auth(world, REPORTER))
    assert refused.status_code == 403
    code = client.post("/api/v1/meetings", json=meeting_body(issues), headers=auth(world, COORDINATOR)).json()["code"]
    assert client.get(f"/api/v1/meetings/{code}", headers=auth(world, RECEIVER)).status_code == 200
    assert client.get(f"/api/v1/meetings/{code}", headers=auth(world, OUTSIDER)).status_code == 404
    assert client.get("/api/v1/meetings", headers=auth(world, OUTSIDER)).json() == []
    listed = client.get("/api/v1/meetings?compact=QJ", headers=auth(world, RECEIVER)).json()
    assert [(m["code"], m["issues"]) for m in listed] == [(code, 3)]
    assert client.get("/api/v1/meetings?compact=QJ", headers=auth(world, OUTSIDER)).status_code == 404


def test_decisions_send_each_issue_to_rectification_with_its_plan_and_deadline(
    world: World, client: TestClient
) -> None:
    issues = stuck_issues(world)
    headers = auth(world, COORDINATOR)
    code = client.post("/api/v1/meetings", json=meeting_body(issues), headers=headers).json()["code"]
    deadline = world.deadline(15)
    decision = {"issue": issues[0], "resolution": "由白马镇封堵排口", "plan": "三日内封堵", "deadline": deadline}
    early = client.post(f"/api/v1/meetings/{code}/decisions", json=decision, headers=headers)
    assert fields_of(early) == {"meeting"}  # the meeting is on the 5th; today is the 2nd

    world.clock.advance(seconds=timedelta(days=3).total_seconds())
    refused = client.post(f"/api/v1/meetings/{code}/decisions", json=decision, headers=auth(world, RECEIVER))
    assert refused.status_code == 403
    decided = client.post(f"/api/v1/meetings/{code}/decisions", json=decision, headers=headers)
    assert decided.status_code == 200, decided.text
    meeting = decided.json()
    assert meeting["status"] == "held"
    first = meeting["agenda"][0]
    assert first["state"] == "ban.rectifying"
    assert first["decision"] == {
        "resolution": "由白马镇封堵排口",
        "plan": "三日内封堵",
        "deadline": deadline,
        "owner": "白马镇",
    }
    issue = world.issue(issues[0])
    assert (issue.rectify_plan, issue.rectify_deadline.isoformat()) == ("三日内封堵", deadline)
    again = client.post(f"/api/v1/meetings/{code}/decisions", json=decision, headers=headers)
    assert fields_of(again) == {"issue"}
    off_agenda = client.post(
        f"/api/v1/meetings/{code}/decisions", json={**decision, "issue": world.report()}, headers=headers
    )
    assert fields_of(off_agenda) == {"issue"}


def test_attendance_is_recorded_for_invitees_only(world: World, client: TestClient) -> None:
    issues = stuck_issues(world)
    headers = auth(world, COORDINATOR)
    code = client.post("/api/v1/meetings", json=meeting_body(issues), headers=headers).json()["code"]
    world.clock.advance(seconds=timedelta(days=3).total_seconds())
    bad = client.post(
        f"/api/v1/meetings/{code}/attendance", json={"attendance": {OUTSIDER: "present"}}, headers=headers
    )
    assert fields_of(bad) == {f"attendance.{OUTSIDER}"}
    wrong = client.post(f"/api/v1/meetings/{code}/attendance", json={"attendance": {REPORTER: "late"}}, headers=headers)
    assert fields_of(wrong) == {f"attendance.{REPORTER}"}
    body = {"attendance": {REPORTER: "present", RECEIVER: "excused"}, "stand_ins": {RECEIVER: "白马镇副镇长"}}
    recorded = client.post(f"/api/v1/meetings/{code}/attendance", json=body, headers=headers).json()
    by_code = {i["code"]: i for i in recorded["invitees"]}
    assert by_code[REPORTER]["attendance"] == "present"
    assert (by_code[RECEIVER]["attendance"], by_code[RECEIVER]["stand_in"]) == ("excused", "白马镇副镇长")
    assert recorded["status"] == "held"


def test_a_moved_meeting_tells_every_invitee_and_a_stale_change_is_refused(world: World, client: TestClient) -> None:
    issues = stuck_issues(world)[:1]
    headers = auth(world, COORDINATOR)
    meeting = client.post("/api/v1/meetings", json=meeting_body(issues), headers=headers).json()
    invited = len(meeting["invitees"])
    moved = client.patch(
        f"/api/v1/meetings/{meeting['code']}",
        json={"expected_version": 1, "starts_at": "2026-03-06T14:00:00+08:00", "place": "遂宁市安居区会议中心"},
        headers=headers,
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["version"], moved.json()["place"]) == (2, "遂宁市安居区会议中心")
    changed = outbox_topics(world, f"meeting:{meeting['code']}:v2")
    assert len(changed) == invited
    assert {k for _, k in changed} == {"meeting_changed"}
    stale = client.patch(
        f"/api/v1/meetings/{meeting['code']}", json={"expected_version": 1, "place": "别处"}, headers=headers
    )
    assert stale.status_code == 409
    no_reason = client.patch(
        f"/api/v1/meetings/{meeting['code']}", json={"expected_version": 2, "status": "cancelled"}, headers=headers
    )
    assert fields_of(no_reason) == {"note"}
    cancelled = client.patch(
        f"/api/v1/meetings/{meeting['code']}",
        json={"expected_version": 2, "status": "cancelled", "note": "双方已协商一致，无需会办"},
        headers=headers,
    )
    assert cancelled.json()["status"] == "cancelled"
    assert {k for _, k in outbox_topics(world, f"meeting:{meeting['code']}:v3")} == {"meeting_cancelled"}


def test_an_action_item_is_owned_reminded_listed_overdue_and_closed_by_its_owner(
    world: World, client: TestClient
) -> None:
    issues = stuck_issues(world)[:1]
    headers = auth(world, COORDINATOR)
    code = client.post("/api/v1/meetings", json=meeting_body(issues), headers=headers).json()["code"]
    item = {"title": "建立琼江联合执法小组", "owner": "500152102", "due_on": "2026-03-20"}
    created = client.post(f"/api/v1/meetings/{code}/actions", json=item, headers=headers)
    assert created.status_code == 201, created.text
    action = created.json()
    assert (action["code"], action["owner"]["name"], action["overdue"]) == ("QJ-DB-2026-001", "太安镇", False)
    assert outbox_topics(world, f"action:{action['code']}:")  # the owner's chiefs and offices are told
    outside = client.post(f"/api/v1/meetings/{code}/actions", json={**item, "owner": "420100"}, headers=headers)
    assert fields_of(outside) == {"owner"}

    world.clock.advance(seconds=timedelta(days=19).total_seconds())
    overdue = client.get("/api/v1/actions?overdue=true", headers=auth(world, RECEIVER)).json()
    assert [a["code"] for a in overdue] == [action["code"]]
    other_side = client.post(
        f"/api/v1/actions/{action['code']}/done", json={"outcome": "已建立"}, headers=auth(world, RECEIVER)
    )
    assert other_side.status_code == 403
    done = client.post(
        f"/api/v1/actions/{action['code']}/done", json={"outcome": "联合执法小组已成立"}, headers=auth(world, REPORTER)
    )
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["overdue"]) == ("done", False)
    assert client.get("/api/v1/actions?overdue=true", headers=headers).json() == []


def test_two_coordinators_convening_one_issue_at_once_one_wins_and_nothing_is_half_done(world: World) -> None:
    for round_no in range(5):
        code = handed_off(world, f"抢先召开的会议 {round_no}")
        barrier = threading.Barrier(2, timeout=30)
        outcomes: dict[str, object] = {}

        def convene(
            who: str,
            issue: str = code,
            title: str = f"第{round_no}轮会议",
            barrier: threading.Barrier = barrier,
            outcomes: dict[str, object] = outcomes,
        ) -> None:
            draft = MeetingDraft(
                compact="QJ",
                title=title,
                starts_at=world.clock.now() + timedelta(days=1),
                place="潼南",
                agenda=(issue,),
            )
            barrier.wait()
            try:
                outcomes[who] = convene_meeting(world.app.uow(), world.actor(who), draft).code
            except (Conflict, InvalidTransition) as refused:
                outcomes[who] = refused

        threads = [threading.Thread(target=convene, args=(who,)) for who in (COORDINATOR, SECOND_COORDINATOR)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(outcomes) == 2, outcomes
        assert sum(isinstance(v, str) for v in outcomes.values()) == 1, outcomes
        with world.app.reader() as uow:
            conn = uow.connection
            issue_id = conn.execute(sa.select(table_of(Issue).c.id).where(table_of(Issue).c.code == code)).scalar()
            agendas = conn.execute(sa.select(sa.func.count()).where(table_of(MeetingIssue).c.issue_id == issue_id))
            convenes = conn.execute(
                sa.select(sa.func.count()).where(
                    table_of(Event).c.issue_id == issue_id, table_of(Event).c.trigger == "convene"
                )
            )
            meetings = conn.execute(
                sa.select(sa.func.count()).where(table_of(Meeting).c.title == f"第{round_no}轮会议")
            )
            assert (agendas.scalar(), convenes.scalar(), meetings.scalar()) == (1, 1, 1)
