"""The permission matrix of 查 over HTTP: every seat of the issue matrix against a joint enforcement case and a
litigation lead.

The expectations are written out here, not computed by ``workflow.enforcement.basics.can_see``. The case is
between 太安镇 (Chongqing) and 白马镇 (Sichuan), the test issue's two sides; the lead was transferred by
太安镇. A case is seen, opened, linked and closed by a chief or office at or above one of its parties and by the
compact's coordinator; a lead by a chief or office at or above its side and by the coordinator. A member of
the compact who is no party (铜梁), the auditor and an admin do not see them: membership reads the compact's
issues, not its enforcement files. To anyone outside the compact they do not exist (404), and a case or lead
they try to make names a compact unknown to them (422). Within the compact, one who may not make it gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from tests.e2e.test_permission_matrix import SEATS, Seat, Stage, stage  # noqa: F401 (a fixture)
from tests.factories import COORDINATOR
from workflow.enforcement.cases import open_case
from workflow.enforcement.leads import transfer_lead

TAIAN, BAIMA = "500152102", "510904101"
OPENED = date(2026, 3, 1)  # the stage's clock stands at 2026-03-02

# person: (sees and acts on the case, sees and acts on the lead)
EXPECTED: dict[str, tuple[bool, bool]] = {
    "tn-taian": (True, True),  # chief of 太安镇: the case's party and the lead's side
    "sn-baima": (True, False),  # chief of 白马镇: the case's other party, not the lead's side
    "tl-anju": (False, False),  # a member, no party
    "wh-chief": (False, False),
    "tn-office": (True, True),  # 潼南区, above 太安镇
    "sn-office": (True, False),  # 安居区, above 白马镇
    "tl-office": (False, False),
    "wh-office": (False, False),
    "tn-chief": (True, True),
    "sn-chief": (True, False),  # 遂宁市, above 白马镇
    COORDINATOR: (True, True),
    "hj-coord": (False, False),
    "ngo-auditor": (False, False),
    "hj-auditor": (False, False),
    "qj-admin": (False, False),  # sits in 潼南区 and reads its issues; no party to enforcement
    "hj-admin": (False, False),
}


@dataclass(frozen=True)
class Records:
    """A case and a lead from it that every seat looks at (made once for the module; nobody changes them)."""

    case: str
    lead: str


@pytest.fixture(scope="module")
def records(stage: Stage) -> Records:  # noqa: F811 (the fixture)
    case = new_case(stage, "共用案件")
    return Records(case, new_lead(stage, "共用线索", case=case))


def new_case(on: Stage, title: str) -> str:
    world = on.world
    return open_case(world.app.uow(), world.actor(COORDINATOR), "QJ", "discharge", title, [TAIAN, BAIMA], OPENED)


def new_lead(on: Stage, title: str, case: str | None = None) -> str:
    world = on.world
    coordinator = world.actor(COORDINATOR)
    return transfer_lead(world.app.uow(), coordinator, "QJ", TAIAN, title, "潼南区人民检察院", OPENED, case=case)


def test_the_table_covers_every_seat() -> None:
    assert set(EXPECTED) == {seat.person for seat in SEATS}


@pytest.mark.parametrize("seat", SEATS, ids=lambda s: s.label)
def test_a_case_and_a_lead_are_read_only_by_their_parties_and_the_coordinator(
    stage: Stage,  # noqa: F811 (the fixture)
    records: Records,
    seat: Seat,
) -> None:
    sees_case, sees_lead = EXPECTED[seat.person]
    headers = stage.tokens[seat.person]
    client = stage.client
    assert client.get(f"/api/v1/cases/{records.case}", headers=headers).status_code == (200 if sees_case else 404)
    assert client.get(f"/api/v1/leads/{records.lead}", headers=headers).status_code == (200 if sees_lead else 404)
    cases = client.get("/api/v1/cases", headers=headers)
    leads = client.get("/api/v1/leads", headers=headers)
    assert (cases.status_code, leads.status_code) == (200, 200)
    assert (records.case in {c["code"] for c in cases.json()}) == sees_case
    assert (records.lead in {x["code"] for x in leads.json()}) == sees_lead
    if sees_case:  # a lead from the case is listed with it only to who sees the lead
        shown = client.get(f"/api/v1/cases/{records.case}", headers=headers).json()
        assert [x["code"] for x in shown["leads"]] == ([records.lead] if sees_lead else [])


@pytest.mark.parametrize("seat", SEATS, ids=lambda s: s.label)
def test_a_case_is_opened_linked_and_closed_only_by_a_party_or_the_coordinator(
    stage: Stage,  # noqa: F811 (the fixture)
    seat: Seat,
) -> None:
    sees_case, _ = EXPECTED[seat.person]
    headers = stage.tokens[seat.person]
    client = stage.client
    body = {"compact": "QJ", "kind": "fishing", "title": f"{seat.label} 立案", "parties": [TAIAN, BAIMA]}
    opened = client.post("/api/v1/cases", json=body | {"opened_on": OPENED.isoformat()}, headers=headers)
    if sees_case:
        assert opened.status_code == 201, opened.text
    elif seat.compact == "QJ":
        assert (opened.status_code, opened.json()["error"]) == (403, "NotPermitted")
    else:
        assert (opened.status_code, [f["field"] for f in opened.json()["fields"]]) == (422, ["compact"])

    code = new_case(stage, f"{seat.label} 的案件")
    coordinator = stage.tokens[COORDINATOR]
    link = client.post(f"/api/v1/cases/{code}/issues", json={"issue": stage.read_issue}, headers=headers)
    assert link.status_code == (200 if sees_case else 404), link.text
    close = {"closed_on": OPENED.isoformat(), "outcome": "已查处"}
    closed = client.post(f"/api/v1/cases/{code}/close", json=close, headers=headers)
    assert closed.status_code == (200 if sees_case else 404), closed.text
    after = client.get(f"/api/v1/cases/{code}", headers=coordinator).json()
    assert (after["status"], len(after["issues"])) == (("closed", 1) if sees_case else ("open", 0))


@pytest.mark.parametrize("seat", SEATS, ids=lambda s: s.label)
def test_a_lead_is_transferred_and_received_only_by_its_side_or_the_coordinator(
    stage: Stage,  # noqa: F811 (the fixture)
    seat: Seat,
) -> None:
    _, sees_lead = EXPECTED[seat.person]
    headers = stage.tokens[seat.person]
    client = stage.client
    body = {
        "compact": "QJ",
        "jurisdiction": TAIAN,
        "title": f"{seat.label} 线索",
        "procuratorate": "潼南区人民检察院",
        "transferred_on": OPENED.isoformat(),
    }
    made = client.post("/api/v1/leads", json=body, headers=headers)
    if sees_lead:
        assert made.status_code == 201, made.text
    elif seat.compact == "QJ":
        assert (made.status_code, made.json()["error"]) == (403, "NotPermitted")
    else:
        assert (made.status_code, [f["field"] for f in made.json()["fields"]]) == (422, ["compact"])

    code = new_lead(stage, f"{seat.label} 的线索")
    receipt = {"receipt_no": "潼检收〔2026〕1号", "received_on": OPENED.isoformat()}
    answer = client.post(f"/api/v1/leads/{code}/receipt", json=receipt, headers=headers)
    assert answer.status_code == (200 if sees_lead else 404), answer.text
    after = client.get(f"/api/v1/leads/{code}", headers=stage.tokens[COORDINATOR]).json()
    assert after["status"] == ("received" if sees_lead else "transferred")
