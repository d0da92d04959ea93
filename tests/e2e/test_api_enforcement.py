"""Joint enforcement cases and litigation leads over the API, on both databases: opened, listed, read, linked,
closed, transferred and received; bad input named by field with nothing changed; a resent create made once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.e2e.test_api_race import bearer
from tests.factories import COORDINATOR, RECEIVER, REPORTER, World
from web.api import create_api

TAIAN, BAIMA = "500152102", "510904101"  # 太安镇 (Chongqing) and 白马镇 (Sichuan), across the border
CASE = {
    "compact": "QJ",
    "kind": "sand_mining",
    "title": "琼江太安—白马段非法采砂联合查处",
    "parties": [TAIAN, BAIMA],
    "opened_on": "2026-02-27",
    "team": ["潼南区农业农村委执法支队", "安居区水利局"],
}
LEAD = {
    "compact": "QJ",
    "jurisdiction": TAIAN,
    "title": "琼江沿岸非法排污公益诉讼线索",
    "procuratorate": "潼南区人民检察院",
    "transferred_on": "2026-02-26",
}


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_api(world.app)) as test_client:
        yield test_client


def fields_of(answer: httpx.Response) -> set[str]:
    """The fields a 422 names, in the API's refusal or in FastAPI's own shape."""
    assert answer.status_code == 422, answer.text
    body = answer.json()
    if "fields" in body:
        return {f["field"] for f in body["fields"]}
    return {str(d["loc"][-1]) for d in body["detail"]}


def test_a_case_is_opened_read_by_its_parties_linked_and_closed_once(world: World, client: TestClient) -> None:
    first, second = world.report(title="太安镇段采砂"), world.report(title="白马镇段采砂船")
    coordinator, taian, baima = bearer(world, COORDINATOR), bearer(world, REPORTER), bearer(world, RECEIVER)
    stranger = bearer(world, "tl-office")  # 铜梁区: a member of the compact, no party to the case

    opened = client.post("/api/v1/cases", json=CASE | {"issues": [first]}, headers=coordinator)
    assert opened.status_code == 201, opened.text
    case = opened.json()
    code = case["code"]
    assert code == "QJ-ZF-2026-001"
    assert (case["kind"], case["kind_label"], case["status"]) == ("sand_mining", "非法采砂", "open")
    assert case["parties"] == [{"code": TAIAN, "name": "太安镇"}, {"code": BAIMA, "name": "白马镇"}]
    assert case["team"] == CASE["team"]
    assert case["issues"] == [{"code": first, "title": "太安镇段采砂"}]

    assert [c["code"] for c in client.get("/api/v1/cases", headers=taian).json()] == [code]
    assert client.get("/api/v1/cases", headers=stranger).json() == []
    assert client.get(f"/api/v1/cases/{code}", headers=baima).json() == case | {"leads": []}
    assert client.get(f"/api/v1/cases/{code}", headers=stranger).status_code == 404
    assert client.post(f"/api/v1/cases/{code}/issues", json={"issue": second}, headers=stranger).status_code == 404

    linked = client.post(f"/api/v1/cases/{code}/issues", json={"issue": second}, headers=baima)
    assert linked.status_code == 200, linked.text
    again = client.post(f"/api/v1/cases/{code}/issues", json={"issue": second}, headers=taian)
    assert [i["code"] for i in again.json()["issues"]] == sorted([first, second])

    closing = {"closed_on": "2026-03-01", "outcome": "查扣采砂船2艘，移送公安"}
    assert client.post(f"/api/v1/cases/{code}/close", json=closing, headers=stranger).status_code == 404
    closed = client.post(f"/api/v1/cases/{code}/close", json=closing, headers=taian)
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["closed_on"], closed.json()["outcome"]) == (
        "closed",
        "2026-03-01",
        "查扣采砂船2艘，移送公安",
    )
    before = world.counts()
    assert fields_of(client.post(f"/api/v1/cases/{code}/close", json=closing, headers=coordinator)) == {"closed_on"}
    third = world.report(title="另一处")
    after_report = world.counts()
    assert fields_of(client.post(f"/api/v1/cases/{code}/issues", json={"issue": third}, headers=baima)) == {"issue"}
    assert world.counts() == after_report
    assert before["enforcement_issue"] == after_report["enforcement_issue"]


def test_a_case_between_sides_the_caller_is_not_above_is_refused_and_another_compacts_is_unknown(
    world: World, client: TestClient
) -> None:
    stranger, taian = bearer(world, "tl-office"), bearer(world, REPORTER)
    before = world.counts()
    refused = client.post("/api/v1/cases", json=CASE, headers=stranger)
    assert (refused.status_code, refused.json()["error"]) == (403, "NotPermitted")
    assert fields_of(client.post("/api/v1/cases", json=CASE | {"compact": "XX"}, headers=taian)) == {"compact"}
    assert client.get("/api/v1/cases", params={"compact": "XX"}, headers=taian).status_code == 404
    assert world.counts() == before


BAD_CASES: list[tuple[dict[str, Any], str]] = [
    ({"title": "   "}, "title"),
    ({"kind": "poaching"}, "kind"),
    ({"opened_on": "2026-03-09"}, "opened_on"),  # after today (2026-03-02)
    ({"opened_on": "1900-01-01"}, "opened_on"),
    ({"opened_on": "2026-02-30"}, "opened_on"),
    ({"parties": [TAIAN, "999999"]}, "parties[1]"),
    ({"parties": [TAIAN]}, "parties"),
    ({"parties": [TAIAN, "420100"]}, "parties[1]"),  # no such division here
    ({"issues": ["QJ-2099-9999"]}, "issues[0]"),
    ({"team": ["安居区水利局", " "]}, "team[1]"),
]


def test_a_bad_case_names_its_field_and_opens_nothing(world: World, client: TestClient) -> None:
    headers = bearer(world, COORDINATOR)
    before = world.counts()
    for change, field in BAD_CASES:
        answer = client.post("/api/v1/cases", json=CASE | change, headers=headers)
        assert fields_of(answer) == {field}, change
    assert world.counts() == before


def test_a_bad_close_or_link_names_its_field_and_changes_nothing(world: World, client: TestClient) -> None:
    headers = bearer(world, COORDINATOR)
    code = client.post("/api/v1/cases", json=CASE, headers=headers).json()["code"]
    before = world.counts()
    for body, field in (
        ({"closed_on": "2026-02-20", "outcome": "结案"}, "closed_on"),  # before it was opened
        ({"closed_on": "2026-03-05", "outcome": "结案"}, "closed_on"),  # after today
        ({"closed_on": "2026-03-01", "outcome": ""}, "outcome"),
    ):
        assert fields_of(client.post(f"/api/v1/cases/{code}/close", json=body, headers=headers)) == {field}
    assert fields_of(client.post(f"/api/v1/cases/{code}/issues", json={"issue": "QJ-2099-9999"}, headers=headers)) == {
        "issue"
    }
    assert world.counts() == before
    assert client.get(f"/api/v1/cases/{code}", headers=headers).json()["status"] == "open"


def test_a_case_sent_again_with_its_key_is_opened_once(world: World, client: TestClient) -> None:
    headers = bearer(world, REPORTER) | {"Idempotency-Key": "case-draft-1"}
    first = client.post("/api/v1/cases", json=CASE, headers=headers)
    after_first = world.counts()
    again = client.post("/api/v1/cases", json=CASE, headers=headers)
    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert world.counts() == after_first
    assert after_first["enforcement_case"] == 1
    other = client.post("/api/v1/cases", json=CASE | {"title": "另一起"}, headers=headers)
    assert fields_of(other) == {"Idempotency-Key"}
    assert world.counts() == after_first


def test_a_lead_is_transferred_read_by_its_side_and_takes_one_receipt(world: World, client: TestClient) -> None:
    issue = world.report(title="沿岸偷排")
    taian, office, baima = bearer(world, REPORTER), bearer(world, "tn-office"), bearer(world, RECEIVER)
    case = client.post("/api/v1/cases", json=CASE, headers=taian).json()["code"]
    made = client.post("/api/v1/leads", json=LEAD | {"issue": issue, "case": case}, headers=taian)
    assert made.status_code == 201, made.text
    lead = made.json()
    code = lead["code"]
    assert (code, lead["status"], lead["receipt_no"]) == ("QJ-XS-2026-001", "transferred", None)
    assert lead["jurisdiction"] == {"code": TAIAN, "name": "太安镇"}
    assert (lead["issue"], lead["case"]) == ({"code": issue, "title": "沿岸偷排"}, case)

    assert [x["code"] for x in client.get("/api/v1/leads", headers=office).json()] == [code]
    assert client.get("/api/v1/leads", headers=baima).json() == []  # the other side of the case does not see it
    assert client.get(f"/api/v1/leads/{code}", headers=baima).status_code == 404
    assert client.get(f"/api/v1/cases/{case}", headers=taian).json()["leads"] == [
        {"code": code, "title": LEAD["title"]}
    ]
    assert client.get(f"/api/v1/cases/{case}", headers=baima).json()["leads"] == []

    receipt = {"receipt_no": "潼检收〔2026〕3号", "received_on": "2026-02-28"}
    assert client.post(f"/api/v1/leads/{code}/receipt", json=receipt, headers=baima).status_code == 404
    received = client.post(f"/api/v1/leads/{code}/receipt", json=receipt, headers=office)
    assert received.status_code == 200, received.text
    assert (received.json()["status"], received.json()["outcome"]) == ("received", None)
    with_outcome = client.post(
        f"/api/v1/leads/{code}/receipt", json=receipt | {"outcome": "已立案审查"}, headers=bearer(world, COORDINATOR)
    )
    assert with_outcome.json()["outcome"] == "已立案审查"
    before = world.counts()
    replaced = client.post(f"/api/v1/leads/{code}/receipt", json=receipt | {"receipt_no": "另号"}, headers=office)
    assert fields_of(replaced) == {"receipt_no"}
    changed = client.post(f"/api/v1/leads/{code}/receipt", json=receipt | {"outcome": "不予立案"}, headers=office)
    assert fields_of(changed) == {"outcome"}
    assert world.counts() == before
    assert client.get(f"/api/v1/leads/{code}", headers=office).json()["receipt_no"] == "潼检收〔2026〕3号"


BAD_LEADS: list[tuple[dict[str, Any], str]] = [
    ({"title": ""}, "title"),
    ({"procuratorate": " "}, "procuratorate"),
    ({"transferred_on": "2026-03-03"}, "transferred_on"),
    ({"transferred_on": "not a day"}, "transferred_on"),
    ({"jurisdiction": "999999"}, "jurisdiction"),
    ({"issue": "QJ-2099-9999"}, "issue"),
    ({"case": "QJ-ZF-2026-099"}, "case"),
]


def test_a_bad_lead_names_its_field_and_records_nothing(world: World, client: TestClient) -> None:
    headers = bearer(world, COORDINATOR)
    before = world.counts()
    for change, field in BAD_LEADS:
        answer = client.post("/api/v1/leads", json=LEAD | change, headers=headers)
        assert fields_of(answer) == {field}, change
    assert world.counts() == before


def test_a_receipt_before_the_transfer_is_refused_by_field(world: World, client: TestClient) -> None:
    headers = bearer(world, COORDINATOR)
    code = client.post("/api/v1/leads", json=LEAD, headers=headers | {"Idempotency-Key": "lead-1"}).json()["code"]
    again = client.post("/api/v1/leads", json=LEAD, headers=headers | {"Idempotency-Key": "lead-1"})
    assert again.json()["code"] == code
    before = world.counts()
    early = {"receipt_no": "潼检收〔2026〕1号", "received_on": "2026-02-25"}
    assert fields_of(client.post(f"/api/v1/leads/{code}/receipt", json=early, headers=headers)) == {"received_on"}
    assert world.counts() == before
    assert before["lead_transfer"] == 1
