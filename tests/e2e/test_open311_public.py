"""Open311's public reads carry the documented fields and nothing else, whatever the issue went through."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.e2e.test_open311 import SPEC_FIELDS, file, key, open311
from tests.factories import AUDITOR, CHECKLIST, COORDINATOR, RECEIVER, RECEIVING_CODE, REPORTER, World
from web.routes.open311 import PUBLIC_FIELDS

# Every private word an issue can gather, each unlike anything a public field could say.
CONTACT = {
    "first_name": "私名甲",
    "last_name": "私姓乙",
    "email": "private.reporter@example.org",
    "phone": "13912345678",
    "device_id": "device-secret-7",
    "account_id": "app-account-secret-42",
}
STEPS = [
    ("hand_off", REPORTER, {"receiving": RECEIVING_CODE}),
    ("accept", RECEIVER, {"note": "受理备注私密一"}),
    ("start_rectify", RECEIVER, {"plan": "整改方案私密二", "deadline": None}),
    ("progress", RECEIVER, {"note": "进展私密三", "percent": 50}),
    ("report_done", RECEIVER, {"summary": "完成总结私密四"}),
    ("request_verify", REPORTER, {}),
    ("pass_check", RECEIVER, {"checklist": CHECKLIST}),
    ("pass_check", REPORTER, {"checklist": CHECKLIST}),
    ("close", REPORTER, {}),
    ("start_revisit", AUDITOR, {}),
    ("no_rebound", AUDITOR, {"finding": "回头看私密五"}),
    ("archive", COORDINATOR, {}),
]
PRIVATE = [
    *CONTACT.values(),
    *(v for _, _, payload in STEPS for v in payload.values() if isinstance(v, str) and "私密" in v),
    REPORTER,
    RECEIVER,
    AUDITOR,
    COORDINATOR,
    "tn-office",
    "潼南区河长办",  # the filing account's name
    "Open311 公众上报",  # the intake block's mark, and so the block
    "上报应用",
    "建议交办",
]


@pytest.fixture
def client(sqlite_world: World, tmp_path: Path) -> Iterator[TestClient]:
    yield from open311(sqlite_world, tmp_path)


def test_the_public_fields_are_the_georeport_fields_and_no_more() -> None:
    assert set(PUBLIC_FIELDS) == SPEC_FIELDS
    assert len(PUBLIC_FIELDS) == len(SPEC_FIELDS)


def test_no_reporter_detail_step_payload_or_person_leaks_at_any_state(sqlite_world: World, client: TestClient) -> None:
    filed = file(client, key(sqlite_world), description="河边排污口", address_string="大桥下游", **CONTACT)
    assert filed.status_code == 201, filed.text
    code = filed.json()[0]["service_request_id"]
    internal = sqlite_world.report(title="内部标题私密六", description="内部描述", place="内部地点")

    def reads() -> list[str]:
        return [
            client.get(f"/open311/v2/requests/{code}.json").text,
            client.get(f"/open311/v2/requests/{code}.xml").text,
            client.get(f"/open311/v2/requests.json?service_request_id={code},{internal}").text,
            client.get("/open311/v2/requests.xml").text,
        ]

    seen = reads()
    for trigger, who, payload in STEPS:
        if "deadline" in payload:
            payload = {**payload, "deadline": sqlite_world.deadline(10)}
        sqlite_world.clock.advance(hours=1)
        sqlite_world.fire(code, trigger, who, **payload)
        seen.extend(reads())
    for body in seen:
        for private in [*PRIVATE, "内部标题私密六"]:
            assert private not in body, (private, body[:400])
    [archived] = client.get(f"/open311/v2/requests/{code}.json").json()
    assert tuple(archived) == PUBLIC_FIELDS
    assert (archived["description"], archived["address"]) == ("河边排污口", "大桥下游")
