"""The permission matrix over HTTP: every role, every trigger a person can fire, every relation to the issue.

The expected outcomes are written out here from the chart's definition of each
party (states/chart.py ``Party``) and the rules DESIGN.md and workflow/actors.py
state in words, not computed by ``workflow.core.actors.parties``: a chief or office
acts for the side its jurisdiction is or is above; a chief above the receiving
side (but not above both) is also its higher chief; coordinators and auditors act
for their compact; an admin manages reference data and is no party to an issue;
another compact's issues do not exist for the caller (404).

The usual test issue is reported by 太安镇 (Chongqing) and handed to 白马镇
(Sichuan). Each case fires one trigger from a state where the chart enables it:
a case the table forbids must get 403 and change nothing; a case it permits
must not get 403, and when it goes through, the ledger records exactly the
parties the table says the caller holds.

One migrated SQLite database serves the whole module: a refused case reuses
one witness issue per state, a permitted case gets a fresh issue walked to its
state, so the order the cases run in does not matter.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from riverchief.bootstrap import bootstrap
from riverchief.migrate import upgrade
from riverchief.settings import Settings
from states import INITIAL, TABLE, FieldKind, Party, Transition
from states.chart import SERVICE_TRIGGERS, TRANSITIONS
from tests.factories import (
    CHECKLIST,
    COORDINATOR,
    RECEIVER,
    RECEIVING_CODE,
    REPORTER,
    START,
    World,
    load_world,
    walk_to,
)
from web.api import create_api
from workflow.accounts.tokens import create_token
from workflow.core.actors import load_actor
from workflow.core.clock import FrozenClock
from workflow.core.db import make_engine
from workflow.core.evidence import add_evidence
from workflow.core.models import Compact, Issue
from workflow.core.reference import load, parse
from workflow.core.services import IssueDraft, report_issue

P = Party

# A second compact, its staff and an admin in each compact, beside the demo's 琼江 compact.
EXTRA_PEOPLE = """
jurisdictions:
  - code: "420000"
    name: 湖北省
    level: province
    children:
      - {code: "420100", name: 武汉市, level: city}
      - {code: "420600", name: 襄阳市, level: city}
people:
  - {code: wh-chief, name: 武汉河长, role: chief, jurisdiction: "420100"}
  - {code: wh-office, name: 武汉河长办, role: office, jurisdiction: "420100"}
  - {code: hj-coord, name: 汉江协调人, role: coordinator}
  - {code: hj-auditor, name: 汉江回访员, role: auditor}
  - {code: hj-admin, name: 汉江管理员, role: admin, jurisdiction: "420100"}
  - {code: qj-admin, name: 琼江管理员, role: admin, jurisdiction: "500152"}
compacts:
  - {code: HJ, name: 汉江协作, members: ["420100", "420600"], coordinators: [hj-coord], auditors: [hj-auditor]}
"""


@dataclass(frozen=True)
class Seat:
    """A person in a role, standing in one relation to the test issue, and the parties that gives them."""

    role: str
    relation: str
    person: str
    parties: frozenset[Party]  # once the issue has a receiving side
    compact: str = "QJ"

    @property
    def label(self) -> str:
        """A readable test id."""
        return f"{self.role}@{self.relation}({self.person})"

    def held(self, handed_off: bool) -> frozenset[Party]:
        """The parties held on an issue that has (or has not yet) been handed off.

        Before the hand-off there is no receiving side: the receiving side's people
        hold only their membership, and nobody is a chief above the receiving side.
        """
        return self.parties if handed_off else self.parties - {P.RECEIVING, P.HIGHER_CHIEF}


NONE: frozenset[Party] = frozenset()
SEATS: tuple[Seat, ...] = (
    Seat("chief", "reporting side", REPORTER, frozenset({P.MEMBER, P.REPORTING})),
    Seat("chief", "receiving side", RECEIVER, frozenset({P.MEMBER, P.RECEIVING})),
    Seat("chief", "neither side", "tl-anju", frozenset({P.MEMBER})),  # 铜梁 安居镇: a member, not a side
    Seat("chief", "other compact", "wh-chief", NONE, "HJ"),
    Seat("office", "reporting side", "tn-office", frozenset({P.MEMBER, P.REPORTING})),  # 潼南区, above 太安镇
    Seat("office", "receiving side", "sn-office", frozenset({P.MEMBER, P.RECEIVING})),  # 安居区, above 白马镇
    Seat("office", "neither side", "tl-office", frozenset({P.MEMBER})),
    Seat("office", "other compact", "wh-office", NONE, "HJ"),
    # A chief above one side acts for it; above the receiving side it is also the higher chief.
    Seat("higher chief", "above reporting side", "tn-chief", frozenset({P.MEMBER, P.REPORTING})),
    Seat("higher chief", "above receiving side", "sn-chief", frozenset({P.MEMBER, P.RECEIVING, P.HIGHER_CHIEF})),
    Seat("coordinator", "own compact", COORDINATOR, frozenset({P.COORDINATOR})),
    Seat("coordinator", "other compact", "hj-coord", NONE, "HJ"),
    Seat("auditor", "own compact", "ngo-auditor", frozenset({P.AUDITOR})),
    Seat("auditor", "other compact", "hj-auditor", NONE, "HJ"),
    Seat("admin", "reporting side", "qj-admin", NONE),  # reads the compact it sits in, acts on no issue
    Seat("admin", "other compact", "hj-admin", NONE, "HJ"),
)

# The states in which an issue has been handed off, so it has a receiving side.
HANDED_OFF = frozenset(
    {
        "ban.handed_off",
        "ban.accepted",
        "ban.negotiating",
        "ban.joint_meeting",
        "ban.dispatched",
        "ban.rectifying",
        "du.rectified",
        "du.verifying",
        "du.closed",
        "du.revisiting",
    }
)


def _walk(last: str, *extra: tuple[str, str, dict[str, Any]]) -> Callable[[World, str], None]:
    def go(world: World, code: str) -> None:
        if last:
            walk_to(world, code, last)
        for trigger, who, payload in extra:
            world.fire(code, trigger, who, **payload)

    return go


# The steps after a new report that leave an issue in each state a person can fire from.
RECIPES: dict[str, Callable[[World, str], None]] = {
    "kan.flagged": _walk(""),  # reported with flag=True
    "xun.reported": _walk(""),
    "cha.investigating": _walk("", ("investigate", REPORTER, {})),
    "cha.confirmed": _walk("", ("investigate", REPORTER, {}), ("confirm", REPORTER, {"findings": "属实"})),
    "ban.handed_off": _walk("hand_off"),
    "ban.accepted": _walk("accept"),
    "ban.negotiating": _walk("hand_off", ("dispute", RECEIVER, {"reason": "非我方排口"})),
    "ban.joint_meeting": _walk(
        "hand_off",
        ("dispute", RECEIVER, {"reason": "非我方排口"}),
        ("convene", COORDINATOR, {"level": "district", "agenda": "排口权属"}),
    ),
    "ban.dispatched": _walk("accept", ("dispatch", COORDINATOR, {"order": "限期整改"})),
    "ban.rectifying": _walk("start_rectify"),
    "du.rectified": _walk("report_done"),
    "du.verifying": _walk("request_verify"),
    "du.closed": _walk("no_rebound"),  # closed after a clean revisit, so it may be archived
    "du.revisiting": _walk("start_revisit"),
}


def person_triggers() -> list[tuple[str, Transition]]:
    """Every (source state, transition) a person can fire on an existing issue, in chart order."""
    return [
        (source, t)
        for t in TRANSITIONS
        if t.trigger not in SERVICE_TRIGGERS and t.parties - {P.SYSTEM}
        for source in t.sources
        if source != INITIAL
    ]


@dataclass
class Stage:
    """One loaded world behind one HTTP client, with a token per seat and issues made on demand."""

    world: World
    client: TestClient
    tokens: dict[str, dict[str, str]]
    witnesses: dict[str, str]
    other_compact_issue: str
    read_issue: str  # handed off, with one photo
    photo: str  # the photo's SHA-256
    meeting: str = ""  # a review-only meeting, convened on first use

    def new_issue(self, state: str) -> str:
        """A fresh issue walked to ``state``."""
        draft = IssueDraft(compact="QJ", title="白马镇段排污口", category="domestic_sewage", segment="qj-baima")
        reporter = self.world.actor(REPORTER)
        code = report_issue(self.world.app.uow(), reporter, draft, flag=state == "kan.flagged").issue_code
        RECIPES[state](self.world, code)
        assert self.world.issue(code).state == state
        return code

    def witness(self, state: str) -> str:
        """The issue in ``state`` that refused cases share (a refusal must leave it as it was)."""
        if state not in self.witnesses:
            self.witnesses[state] = self.new_issue(state)
        return self.witnesses[state]

    def fire(self, seat: Seat, code: str, trigger: str, payload: dict[str, Any], version: int) -> Any:
        """POST a transition as the seat's person."""
        body = {"trigger": trigger, "payload": payload, "expected_version": version}
        return self.client.post(f"/api/v1/issues/{code}/transitions", json=body, headers=self.tokens[seat.person])


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Stage]:
    """The 琼江 world plus a second compact, on one SQLite file for the whole module."""
    home = tmp_path_factory.mktemp("matrix")
    target = home / "riverchief.db"
    shutil.copyfile(sqlite_template, target)
    url = f"sqlite:///{target}"
    engine = make_engine(url)
    upgrade(engine)
    clock = FrozenClock(START)
    app = bootstrap(Settings(database_url=url, data_dir=home), clock=clock, engine=engine)
    world = load_world(app, clock)
    extra = home / "extra.yaml"
    extra.write_text(EXTRA_PEOPLE, encoding="utf-8")
    load(app.uow(), parse(extra))
    with app.reader() as uow:
        for seat in SEATS:
            world.people[seat.person] = load_actor(uow.session, seat.person)
    tokens = {
        seat.person: {"Authorization": f"Bearer {create_token(app.uow(), seat.person, 'matrix')[1]}"} for seat in SEATS
    }
    other = report_issue(
        app.uow(), world.actor("wh-chief"), IssueDraft(compact="HJ", title="汉江排口", category="domestic_sewage")
    ).issue_code
    with TestClient(create_api(app)) as client:
        stage = Stage(world, client, tokens, {}, other, "", "")
        stage.read_issue = stage.new_issue("ban.handed_off")
        photo = b"\xff\xd8\xff\xe0" + b"matrix-photo" + b"\x00" * 64  # a JPEG by its signature
        stage.photo = add_evidence(app.uow(), stage.read_issue, world.actor(REPORTER), photo, "排口.jpg", home).sha256
        yield stage
    engine.dispose()


def valid_payload(stage: Stage, transition: Transition) -> dict[str, Any]:
    """A payload that passes the chart's field checks for ``transition`` (every field filled)."""
    values: dict[FieldKind, Callable[[Any], Any]] = {
        FieldKind.TEXT: lambda f: f"测试{f.name}",
        FieldKind.DATE: lambda _: stage.world.deadline(10),
        FieldKind.JURISDICTION: lambda _: RECEIVING_CODE,  # the other side of the test issue
        FieldKind.CHOICE: lambda f: f.choices[0],
        FieldKind.ITEMS: lambda _: CHECKLIST,
        FieldKind.PERCENT: lambda _: 50,
    }
    payload = {f.name: values[f.kind](f) for f in transition.fields}
    if transition.trigger == "mark_duplicate":
        # An open issue of the compact to merge into, so that a permitted merge goes through.
        payload["of"] = stage.read_issue
    return payload


def _cases() -> list[Any]:
    return [
        pytest.param(source, t, seat, id=f"{t.trigger}<-{source}-{seat.label}")
        for source, t in person_triggers()
        for seat in SEATS
    ]


def test_every_state_a_person_fires_from_has_a_recipe() -> None:
    sources = {source for source, _ in person_triggers()}
    assert sources == set(RECIPES), "add a recipe for each new source state, so the matrix covers it"


@pytest.mark.parametrize(("source", "transition", "seat"), _cases())
def test_firing_is_refused_exactly_when_the_seat_holds_none_of_the_transitions_parties(
    stage: Stage, source: str, transition: Transition, seat: Seat
) -> None:
    assert TABLE[(source, transition.trigger)] is transition
    held = seat.held(source in HANDED_OFF)
    payload = valid_payload(stage, transition)
    if seat.compact != "QJ" or not held & transition.parties:
        code = stage.witness(source)
        before = stage.world.issue(code).version
        refused = stage.fire(seat, code, transition.trigger, payload, before)
        expected = (404, "NotFound") if seat.compact != "QJ" else (403, "NotPermitted")
        assert (refused.status_code, refused.json()["error"]) == expected, refused.text
        after = stage.world.issue(code)
        assert (after.state, after.version) == (source, before)
        return

    code = stage.new_issue(source)
    version = stage.client.get(f"/api/v1/issues/{code}", headers=stage.tokens[seat.person]).json()["version"]
    answer = stage.fire(seat, code, transition.trigger, payload, version)
    assert answer.status_code != 403, answer.text
    if answer.status_code == 422:
        # The payload is valid, so only one of the transition's guards can have refused it.
        assert transition.guards, answer.text
        assert not any("required" in f["reason"] or "unknown field" in f["reason"] for f in answer.json()["fields"])
        return
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == (transition.dest or source)
    event = stage.world.events(code)[-1]
    assert (event.trigger, event.actor_code) == (transition.trigger, seat.person)
    assert set(event.parties.split(",")) == {str(p) for p in held}


@pytest.mark.parametrize("state", sorted(RECIPES))
@pytest.mark.parametrize("seat", SEATS, ids=lambda s: s.label)
def test_each_seat_is_offered_exactly_the_triggers_it_may_fire(stage: Stage, seat: Seat, state: str) -> None:
    code = stage.witness(state)
    seen = stage.client.get(f"/api/v1/issues/{code}", headers=stage.tokens[seat.person])
    if seat.compact != "QJ":
        assert seen.status_code == 404
        return
    held = seat.held(state in HANDED_OFF)
    expected = [t.trigger for source, t in person_triggers() if source == state and held & t.parties]
    assert seen.status_code == 200
    assert sorted(seen.json()["allowed_triggers"]) == sorted(expected)


@pytest.mark.parametrize("seat", SEATS, ids=lambda s: s.label)
def test_reporting_a_new_issue_takes_a_chief_or_office_of_a_member(stage: Stage, seat: Seat) -> None:
    body = {"compact": "QJ", "title": "新发现排口", "category": "domestic_sewage"}
    answer = stage.client.post("/api/v1/issues", json=body, headers=stage.tokens[seat.person])
    if P.MEMBER in seat.parties and seat.compact == "QJ":
        assert answer.status_code == 201, answer.text
        assert stage.world.events(answer.json()["code"])[-1].actor_code == seat.person
    else:
        assert answer.status_code == 403, answer.text


def listed(stage: Stage, seat: Seat) -> set[str]:
    """Every issue code the seat's person gets from GET /api/v1/issues, following the pages."""
    codes: set[str] = set()
    params: dict[str, Any] = {"limit": 200}
    while True:
        page = stage.client.get("/api/v1/issues", params=params, headers=stage.tokens[seat.person])
        assert page.status_code == 200, page.text
        body = page.json()
        items = body["items"] if isinstance(body, dict) else body
        codes |= {item["code"] for item in items}
        cursor = body.get("next_cursor") if isinstance(body, dict) else None
        if not cursor:
            return codes
        params["cursor"] = cursor


def codes_of(stage: Stage, compact: str) -> set[str]:
    """Every issue of a compact, from the database."""
    with stage.world.app.reader() as uow:
        return set(
            uow.session.execute(
                sa.select(col(Issue.code))
                .join(Compact, col(Compact.id) == col(Issue.compact_id))
                .where(col(Compact.code) == compact)
            ).scalars()
        )


@pytest.mark.parametrize("seat", SEATS, ids=lambda s: s.label)
def test_reads_are_scoped_to_the_callers_compact(stage: Stage, seat: Seat) -> None:
    code, sha = stage.read_issue, stage.photo
    headers = stage.tokens[seat.person]

    assert listed(stage, seat) == codes_of(stage, seat.compact)
    expected = 200 if seat.compact == "QJ" else 404
    for path in (
        f"/api/v1/issues/{code}",
        f"/api/v1/issues/{code}/timeline",
        f"/api/v1/issues/{code}/attachments/{sha}",
    ):
        assert stage.client.get(path, headers=headers).status_code == expected, path
    stats = stage.client.get("/api/v1/stats", params={"compact": "QJ"}, headers=headers)
    assert stats.status_code == expected
    own_stats = stage.client.get("/api/v1/stats", params={"compact": seat.compact}, headers=headers)
    assert own_stats.status_code == 200
    other = stage.other_compact_issue
    assert stage.client.get(f"/api/v1/issues/{other}", headers=headers).status_code == (
        200 if seat.compact == "HJ" else 404
    )


# -- joint meetings and action items --------------------------------------------------------------

# Written out, not computed: the compact's coordinator convenes, changes, records and decides; everyone of the
# compact reads its meetings; an action item owned by 太安镇 is closed by the coordinator or a chief or office
# at or above 太安镇; to another compact's people none of it exists.
MEETING_WRITERS = frozenset({COORDINATOR})
ACTION_CLOSERS = frozenset({COORDINATOR, REPORTER, "tn-office", "tn-chief"})
OWNER = "500152102"  # 太安镇


def meeting_of(stage: Stage) -> str:
    """A review-only meeting of 琼江 (no agenda issue), convened once for the module."""
    from workflow.meetings.records import MeetingDraft, convene_meeting

    if not stage.meeting:
        draft = MeetingDraft(
            compact="QJ", title="季度进展调度会", starts_at=START + timedelta(days=7), place="潼南", agenda=()
        )
        stage.meeting = convene_meeting(stage.world.app.uow(), stage.world.actor(COORDINATOR), draft).code
    return stage.meeting


def expected(seat: Seat, allowed: frozenset[str], ok: int) -> int:
    """What a seat gets: ``ok`` when allowed, 403 within the compact, 404 outside it."""
    if seat.compact != "QJ":
        return 404
    return ok if seat.person in allowed else 403


@pytest.mark.parametrize("seat", SEATS, ids=lambda s: s.label)
def test_meetings_are_run_by_the_compacts_coordinator_and_read_by_the_compact(stage: Stage, seat: Seat) -> None:
    from workflow.meetings.actions import add_action_item

    code = meeting_of(stage)
    headers = stage.tokens[seat.person]
    client = stage.client
    assert client.get(f"/api/v1/meetings/{code}", headers=headers).status_code == (200 if seat.compact == "QJ" else 404)
    body = {"compact": "QJ", "title": "调度会", "starts_at": "2026-03-20T09:00:00+08:00", "place": "遂宁"}
    assert client.post("/api/v1/meetings", json=body, headers=headers).status_code == expected(
        seat, MEETING_WRITERS, 201
    )
    # Permitted but refused for what it says (a stale version, a day not come, an issue not on the agenda):
    # the point is that the refusal is not 403 or 404.
    stale = client.patch(f"/api/v1/meetings/{code}", json={"expected_version": 999, "place": "别处"}, headers=headers)
    assert stale.status_code == expected(seat, MEETING_WRITERS, 409)
    attendance = {"attendance": {REPORTER: "present"}}
    answer = client.post(f"/api/v1/meetings/{code}/attendance", json=attendance, headers=headers)
    assert answer.status_code == expected(seat, MEETING_WRITERS, 422)
    decision = {"issue": stage.read_issue, "resolution": "议定", "plan": "方案", "deadline": "2026-04-30"}
    answer = client.post(f"/api/v1/meetings/{code}/decisions", json=decision, headers=headers)
    assert answer.status_code == expected(seat, MEETING_WRITERS, 422)
    item = {"title": "建立联合执法小组", "owner": OWNER, "due_on": "2026-04-30"}
    answer = client.post(f"/api/v1/meetings/{code}/actions", json=item, headers=headers)
    assert answer.status_code == expected(seat, MEETING_WRITERS, 201)

    action = add_action_item(
        stage.world.app.uow(), stage.world.actor(COORDINATOR), "QJ", f"{seat.label} 的督办事项", OWNER, START.date()
    )
    done = client.post(f"/api/v1/actions/{action}/done", json={"outcome": "已办结"}, headers=headers)
    assert done.status_code == expected(seat, ACTION_CLOSERS, 200)
    listed = client.get("/api/v1/actions", headers=headers).json()
    assert (action in {a["code"] for a in listed}) == (seat.compact == "QJ")
