"""The API's resources beside issues: reference data, joint meetings, revisits, filed reports and the inbox.

Each is read as a client would, with the scoping and refusals that guard it: another compact's
people, meetings, revisits and reports do not exist for the caller, contact details reach only
those who may use them, and only an admin changes reference data.
"""

import hashlib
import json
import subprocess
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from riverchief.reporting import make_and_file
from tests.factories import AUDITOR, COORDINATOR, RECEIVER, RECEIVING_CODE, REPORTER, World, walk_to
from web.api import create_api
from workflow.accounts.tokens import create_token
from workflow.core.filing import Filed
from workflow.core.reference import load, parse_text

ADMIN = "root-admin"
OUTSIDER = "wh-chief"  # a chief of the 汉江 compact, which shares nothing with 琼江
OTHER_COORDINATOR = "hj-coord"
OFFICE = "tn-ops"  # a 潼南 office with every way to reach it filled in
ROBOT_SECRET = "SEC0123456789abcdef"

EXTRA = f"""
jurisdictions:
  - code: "420000"
    name: 湖北省
    level: province
    children:
      - {{code: "420100", name: 武汉市, level: city}}
      - {{code: "420600", name: 襄阳市, level: city}}
people:
  - {{code: {OUTSIDER}, name: 武汉河长, role: chief, jurisdiction: "420100", email: wh@wuhan.example.cn}}
  - {{code: {OTHER_COORDINATOR}, name: 汉江协调人, role: coordinator, email: hj@hanjiang.example.cn}}
  - {{code: {ADMIN}, name: 系统管理员, role: admin, email: admin@riverchief.example.cn}}
  - code: {OFFICE}
    name: 潼南区河长办值班室
    role: office
    jurisdiction: "500152"
    email: ops@tongnan.example.cn
    phone: "+86 23 4455 6677"
    contacts:
      webhook: https://hooks.tongnan.example.cn/rc
      dingtalk: {{url: "https://oapi.dingtalk.example.cn/robot/send?access_token=abc", secret: {ROBOT_SECRET}}}
compacts:
  - {{code: HJ, name: 汉江协作, members: ["420100", "420600"], coordinators: [{OTHER_COORDINATOR}]}}
rivers:
  - code: hanjiang
    name: 汉江
    segments:
      - {{code: hj-wuhan, name: 汉江武汉段, jurisdiction: "420100", chief: {OUTSIDER}}}
"""


# Checks of input and of the routes' own logic need one database; the queries run on both.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def world(world: World) -> World:
    """The demo's 琼江 compact, a 汉江 compact beside it, an admin, and an office with its contacts (each dialect)."""
    load(world.app.uow(), parse_text(EXTRA, "yaml"))
    return world


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_api(world.app)) as test_client:
        yield test_client


def auth(world: World, person: str) -> dict[str, str]:
    _, token = create_token(world.app.uow(), person, "test")
    return {"Authorization": f"Bearer {token}"}


def codes(items: list[dict[str, Any]]) -> list[str]:
    return [str(item["code"]) for item in items]


def fields_of(answer: Response) -> set[str]:
    """The fields a 422 names."""
    assert answer.status_code == 422, answer.text
    return {f["field"] for f in answer.json()["fields"]}


def counts_without_tokens(world: World) -> dict[str, int]:
    counts = world.counts()
    counts.pop("api_token")
    return counts


# -- reference data -------------------------------------------------------------------------------


def test_reference_data_needs_a_token(client: TestClient) -> None:
    for path in ("/api/v1/jurisdictions", "/api/v1/compacts/QJ", "/api/v1/segments", "/api/v1/people"):
        assert client.get(path).status_code == 401, path


def test_jurisdictions_are_read_as_a_tree(world: World, client: TestClient) -> None:
    headers = auth(world, REPORTER)
    children = client.get("/api/v1/jurisdictions?parent=510900", headers=headers).json()
    assert children == [
        {
            "code": "510904",
            "name": "安居区",
            "level": "district",
            "parent": "510900",
            "path": ["510000", "510900", "510904"],
        }
    ]
    provinces = client.get("/api/v1/jurisdictions?level=province", headers=headers).json()
    assert sorted(codes(provinces)) == ["420000", "500000", "510000"]
    assert all(p["parent"] is None for p in provinces)
    township = client.get("/api/v1/jurisdictions/500152102", headers=headers).json()
    assert (township["name"], township["parent"], township["path"]) == (
        "太安镇",
        "500152",
        ["500000", "500152", "500152102"],
    )

    missing = client.get("/api/v1/jurisdictions/999999", headers=headers)
    assert missing.status_code == 404
    assert "999999" in missing.json()["detail"]
    assert fields_of(client.get("/api/v1/jurisdictions?level=county", headers=headers)) == {"level"}
    assert fields_of(client.get("/api/v1/jurisdictions?parent=999999", headers=headers)) == {"parent"}


def test_compacts_name_their_members_and_staff(world: World, client: TestClient) -> None:
    headers = auth(world, OUTSIDER)  # reference data is for every caller, whatever their compact
    assert codes(client.get("/api/v1/compacts", headers=headers).json()) == ["HJ", "QJ"]
    qj = client.get("/api/v1/compacts/QJ", headers=headers).json()
    assert codes(qj["members"]) == ["500151", "500152", "510900", "512000"]
    assert qj["coordinators"] == [{"code": COORDINATOR, "name": "许慧敏"}]
    assert codes(qj["auditors"]) == [AUDITOR]
    missing = client.get("/api/v1/compacts/XX", headers=headers)
    assert missing.status_code == 404
    assert "XX" in missing.json()["detail"]


def test_rivers_and_segments_with_their_course_as_geojson(world: World, client: TestClient) -> None:
    headers = auth(world, REPORTER)
    assert codes(client.get("/api/v1/rivers", headers=headers).json()) == ["hanjiang", "moxi-he", "qiongjiang"]
    moxi = client.get("/api/v1/rivers/moxi-he", headers=headers).json()
    assert moxi == {"code": "moxi-he", "name": "磨溪河", "segments": ["mx-moxi", "mx-biekou"]}
    assert client.get("/api/v1/rivers/yangtze", headers=headers).status_code == 404

    baima = client.get("/api/v1/segments/qj-baima", headers=headers).json()
    assert baima == {
        "code": "qj-baima",
        "name": "琼江白马镇段",
        "river": "qiongjiang",
        "jurisdiction": RECEIVING_CODE,
        "chief": RECEIVER,
        "counterpart": "qj-taian",
        "relation": "left_bank",
        "length_km": 9.6,
        "geometry": {"type": "LineString", "coordinates": [[105.660, 30.154], [105.700, 30.204], [105.730, 30.274]]},
    }
    assert client.get("/api/v1/segments/hj-wuhan", headers=headers).json()["geometry"] is None
    assert codes(client.get("/api/v1/segments?river=moxi-he", headers=headers).json()) == ["mx-moxi", "mx-biekou"]
    under_tongnan = client.get("/api/v1/segments?jurisdiction=500152", headers=headers).json()
    assert sorted(codes(under_tongnan)) == ["mx-biekou", "qj-chonglong", "qj-taian", "qj-yuxi"]
    assert fields_of(client.get("/api/v1/segments?river=yangtze", headers=headers)) == {"river"}
    missing = client.get("/api/v1/segments/qj-nowhere", headers=headers)
    assert missing.status_code == 404
    assert "qj-nowhere" in missing.json()["detail"]


def test_people_are_listed_only_within_the_callers_compacts(world: World, client: TestClient) -> None:
    seen_by_reporter = set(codes(client.get("/api/v1/people", headers=auth(world, REPORTER)).json()))
    assert {REPORTER, RECEIVER, COORDINATOR, AUDITOR, OFFICE} <= seen_by_reporter
    assert seen_by_reporter.isdisjoint({OUTSIDER, OTHER_COORDINATOR, ADMIN})
    seen_by_outsider = set(codes(client.get("/api/v1/people", headers=auth(world, OUTSIDER)).json()))
    assert seen_by_outsider == {OUTSIDER, OTHER_COORDINATOR}
    seen_by_admin = set(codes(client.get("/api/v1/people", headers=auth(world, ADMIN)).json()))
    assert seen_by_reporter | seen_by_outsider | {ADMIN} <= seen_by_admin

    hidden = client.get(f"/api/v1/people/{OUTSIDER}", headers=auth(world, REPORTER))
    assert hidden.status_code == 404
    assert OUTSIDER in hidden.json()["detail"]
    assert client.get(f"/api/v1/people/{ADMIN}", headers=auth(world, ADMIN)).json()["role"] == "admin"
    coordinators = client.get("/api/v1/people?role=coordinator", headers=auth(world, ADMIN)).json()
    assert sorted(codes(coordinators)) == [OTHER_COORDINATOR, COORDINATOR]
    under_suining = client.get("/api/v1/people?jurisdiction=510900", headers=auth(world, REPORTER)).json()
    assert sorted(codes(under_suining)) == ["sn-baima", "sn-chief", "sn-moxi", "sn-office"]
    assert fields_of(client.get("/api/v1/people?role=mayor", headers=auth(world, REPORTER))) == {"role"}


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("reader", "sees"),
    [(OFFICE, True), (COORDINATOR, True), (ADMIN, True), (RECEIVER, False), ("tn-chief", False), (AUDITOR, False)],
    ids=[
        "themselves",
        "their compact's coordinator",
        "an admin",
        "a chief across the border",
        "their own chief",
        "an auditor",
    ],
)
def test_contact_details_reach_only_the_person_their_coordinators_and_admins(
    world: World, client: TestClient, reader: str, sees: bool
) -> None:
    headers = auth(world, reader)
    one = client.get(f"/api/v1/people/{OFFICE}", headers=headers)
    assert one.status_code == 200
    listed = next(p for p in client.get("/api/v1/people", headers=headers).json() if p["code"] == OFFICE)
    for shown in (one.json(), listed):
        assert shown["name"] == "潼南区河长办值班室"
        assert shown["jurisdiction"] == "500152"
        if sees:
            assert (shown["email"], shown["phone"]) == ("ops@tongnan.example.cn", "+86 23 4455 6677")
            assert shown["contacts"]["webhook"] == "https://hooks.tongnan.example.cn/rc"
            assert shown["contacts"]["dingtalk"]["signed"] is True
        else:
            assert {"email", "phone", "contacts", "channels"}.isdisjoint(shown)
    assert ROBOT_SECRET not in one.text  # a robot's signing secret is never read back, not even by an admin


def test_a_coordinator_of_another_compact_cannot_find_the_person(world: World, client: TestClient) -> None:
    assert client.get(f"/api/v1/people/{OFFICE}", headers=auth(world, OTHER_COORDINATOR)).status_code == 404


# -- loading reference data -----------------------------------------------------------------------

NEW_TOWN = {
    "jurisdictions": [
        {
            "code": "420000",
            "name": "湖北省",
            "level": "province",
            "children": [
                {
                    "code": "420600",
                    "name": "襄阳市",
                    "level": "city",
                    "children": [{"code": "420602", "name": "襄城区", "level": "district"}],
                }
            ],
        }
    ],
    "people": [{"code": "xy-chief", "name": "襄城区河长", "role": "chief", "jurisdiction": "420602"}],
}


def test_only_an_admin_loads_reference_data(world: World, client: TestClient) -> None:
    before = counts_without_tokens(world)
    refused = client.post("/api/v1/admin/reference", json=NEW_TOWN, headers=auth(world, COORDINATOR))
    assert refused.status_code == 403
    assert refused.json()["error"] == "NotPermitted"
    assert counts_without_tokens(world) == before

    loaded = client.post("/api/v1/admin/reference", json=NEW_TOWN, headers=auth(world, ADMIN))
    assert loaded.status_code == 200
    assert loaded.json() == {"jurisdictions": 3, "people": 1, "compacts": 0, "rivers": 0, "segments": 0}
    town = client.get("/api/v1/jurisdictions/420602", headers=auth(world, ADMIN)).json()
    assert town["path"] == ["420000", "420600", "420602"]
    assert client.get("/api/v1/people/xy-chief", headers=auth(world, ADMIN)).json()["jurisdiction"] == "420602"


@SQLITE_ONLY
def test_an_admin_loads_yaml_and_the_same_document_again_changes_nothing(world: World, client: TestClient) -> None:
    headers = {**auth(world, ADMIN), "Content-Type": "application/yaml"}
    document = "rivers:\n  - code: fujiang\n    name: 涪江\n    segments:\n"
    document += '      - {code: fj-anju, name: 涪江安居段, jurisdiction: "510904", chief: sn-office}\n'
    first = client.post("/api/v1/admin/reference", content=document.encode(), headers=headers)
    assert first.status_code == 200, first.text
    assert (first.json()["rivers"], first.json()["segments"]) == (1, 1)
    before = counts_without_tokens(world)
    again = client.post(
        "/api/v1/admin/reference", content=document.encode(), headers={**headers, "Content-Type": "text/yaml"}
    )
    assert again.status_code == 200
    assert counts_without_tokens(world) == before
    assert client.get("/api/v1/segments/fj-anju", headers=headers).json()["chief"] == "sn-office"


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("document", "fields"),
    [
        (
            "people:\n  - {code: ok-person, name: 甲, role: chief, jurisdiction: '500152'}\n"
            "  - {code: bad-person, name: 乙, role: mayor, email: not-an-address}\n",
            {"people[1].role", "people[1].email"},
        ),
        (
            "jurisdictions:\n  - {code: '430000', name: 湖南省, level: province}\n"
            "compacts:\n  - {code: XJ, name: 湘江, members: ['430000', '439999']}\n",
            {"compacts[0].members[1]"},
        ),
        ("people: [\n  {code: x\n", {"body"}),
        ("- just\n- a list\n", {"body"}),
        ("people: &none []\nrivers: *none\n", {"body"}),  # aliases nest into exponential documents
    ],
    ids=["bad fields", "unknown member", "not YAML", "not a mapping", "an alias"],
)
def test_a_bad_document_is_refused_whole_naming_each_bad_path(
    world: World, client: TestClient, document: str, fields: set[str]
) -> None:
    before = counts_without_tokens(world)
    headers = {**auth(world, ADMIN), "Content-Type": "application/yaml"}
    refused = client.post("/api/v1/admin/reference", content=document.encode(), headers=headers)
    assert refused.status_code == 422
    assert fields_of(refused) == fields
    assert counts_without_tokens(world) == before  # the good parts of the document were not kept either


@SQLITE_ONLY
def test_an_oversized_or_unreadable_document_is_refused(world: World, client: TestClient) -> None:
    before = counts_without_tokens(world)
    headers = {**auth(world, ADMIN), "Content-Type": "application/json"}
    padding = " " * (5 * 1024 * 1024)
    too_big = client.post("/api/v1/admin/reference", content=json.dumps(NEW_TOWN) + padding, headers=headers)
    assert too_big.status_code == 413
    assert "5 MB" in too_big.json()["detail"]
    just_fits = client.post("/api/v1/admin/reference", content=json.dumps(NEW_TOWN) + " " * 1000, headers=headers)
    assert just_fits.status_code == 200
    plain = client.post(
        "/api/v1/admin/reference", content=json.dumps(NEW_TOWN), headers={**headers, "Content-Type": "text/plain"}
    )
    assert plain.status_code == 415
    latin = client.post("/api/v1/admin/reference", content="people: [{name: \xe9}]".encode("latin-1"), headers=headers)
    assert latin.status_code == 422
    assert fields_of(latin) == {"body"}
    before["jurisdiction"] += 1  # 420602; the province and the city were there
    before["person"] += 1
    assert counts_without_tokens(world) == before


def test_an_admin_deactivates_reactivates_and_moves_a_person(world: World, client: TestClient) -> None:
    admin = auth(world, ADMIN)
    moxi = auth(world, "sn-moxi")
    assert client.get("/api/v1/people/sn-moxi", headers=moxi).status_code == 200
    off = client.patch("/api/v1/admin/people/sn-moxi", json={"active": False}, headers=admin)
    assert off.status_code == 200
    assert off.json()["active"] is False
    assert client.get("/api/v1/people/sn-moxi", headers=moxi).status_code == 401  # their token no longer works
    back = client.patch("/api/v1/admin/people/sn-moxi", json={"active": True, "jurisdiction": "510904"}, headers=admin)
    assert (back.json()["active"], back.json()["jurisdiction"]) == (True, "510904")
    assert client.get("/api/v1/people/sn-moxi", headers=moxi).json()["jurisdiction"] == "510904"
    promoted = client.patch("/api/v1/admin/people/sn-moxi", json={"role": "office"}, headers=admin)
    assert promoted.json()["role"] == "office"


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("who", "person", "changes", "status", "fields"),
    [
        (COORDINATOR, "sn-moxi", {"active": False}, 403, None),
        (ADMIN, "nobody", {"active": False}, 404, None),
        (ADMIN, "sn-moxi", {"jurisdiction": "999999"}, 422, {"jurisdiction"}),
        (ADMIN, "sn-moxi", {"role": "mayor"}, 422, {"role"}),
        (ADMIN, "sn-moxi", {"active": "no", "name": "改名"}, 422, {"active", "name"}),
        (ADMIN, "sn-moxi", {"jurisdiction": None}, 422, {"jurisdiction"}),
        (ADMIN, COORDINATOR, {"role": "chief", "jurisdiction": "500152"}, 422, {"role"}),
        (ADMIN, ADMIN, {"active": False}, 422, {"active"}),
    ],
    ids=[
        "not an admin",
        "unknown person",
        "unknown jurisdiction",
        "unknown role",
        "bad and unknown fields",
        "a chief without a jurisdiction",
        "a coordinator still serving a compact",
        "the last admin",
    ],
)
def test_a_refused_change_to_a_person_names_the_field_and_changes_nothing(
    world: World,
    client: TestClient,
    who: str,
    person: str,
    changes: dict[str, object],
    status: int,
    fields: set[str] | None,
) -> None:
    headers = auth(world, who)
    before = client.get(f"/api/v1/people/{person}", headers=auth(world, ADMIN)).json()
    refused = client.patch(f"/api/v1/admin/people/{person}", json=changes, headers=headers)
    assert refused.status_code == status
    if fields is not None:
        assert fields_of(refused) == fields
    assert client.get(f"/api/v1/people/{person}", headers=auth(world, ADMIN)).json() == before


# -- joint meetings -------------------------------------------------------------------------------


def put_to_a_joint_meeting(world: World, meeting_date: str = "2026-03-10") -> str:
    """A new issue, accepted, then found difficult and put to a district-level joint meeting."""
    code = world.report()
    walk_to(world, code, "accept")
    world.fire(code, "negotiate", REPORTER, reason="排口归属有争议")
    world.fire(code, "convene", COORDINATOR, level="district", agenda="排口封堵责任划分", meeting_date=meeting_date)
    return code


def test_joint_meetings_list_each_issue_put_to_them_with_attendees_and_resolutions(
    world: World, client: TestClient
) -> None:
    code = put_to_a_joint_meeting(world)
    headers = auth(world, REPORTER)
    (meeting,) = client.get("/api/v1/meeting-items?compact=QJ", headers=headers).json()
    assert (meeting["issue"], meeting["compact"], meeting["date"]) == (code, "QJ", "2026-03-10")
    assert (meeting["level"], meeting["agenda"], meeting["state"]) == (
        "district",
        "排口封堵责任划分",
        "ban.joint_meeting",
    )
    assert meeting["resolution"] is None
    assert {COORDINATOR, REPORTER, RECEIVER} <= set(codes(meeting["attendees"]))
    assert OTHER_COORDINATOR not in codes(meeting["attendees"])

    deadline = world.deadline(15)
    world.fire(code, "resolve", COORDINATOR, resolution="由白马镇封堵排口", plan="三日内封堵", deadline=deadline)
    (resolved,) = client.get("/api/v1/meeting-items", headers=headers).json()
    assert (resolved["resolution"], resolved["plan"], resolved["deadline"]) == (
        "由白马镇封堵排口",
        "三日内封堵",
        deadline,
    )
    assert resolved["resolved_at"] is not None

    assert client.get("/api/v1/meeting-items?from=2026-03-10&to=2026-03-11", headers=headers).json() != []
    assert client.get("/api/v1/meeting-items?from=2026-03-11", headers=headers).json() == []
    assert client.get("/api/v1/meeting-items?to=2026-03-10", headers=headers).json() == []
    backwards = client.get("/api/v1/meeting-items?from=2026-03-11&to=2026-03-10", headers=headers)
    assert fields_of(backwards) == {"to"}


def test_another_compacts_meetings_do_not_exist_for_the_caller(world: World, client: TestClient) -> None:
    put_to_a_joint_meeting(world)
    outsider = auth(world, OUTSIDER)
    assert client.get("/api/v1/meeting-items", headers=outsider).json() == []
    assert client.get("/api/v1/meeting-items?compact=QJ", headers=outsider).status_code == 404
    assert client.get("/api/v1/meeting-items?compact=HJ", headers=outsider).json() == []


# -- revisits -------------------------------------------------------------------------------------


def test_revisits_of_a_closed_issue_are_listed_by_due_day_for_its_compact_only(
    world: World, client: TestClient
) -> None:
    code = world.report()
    walk_to(world, code, "close")
    headers = auth(world, AUDITOR)
    planned = client.get("/api/v1/revisits?compact=QJ&status=planned", headers=headers).json()
    assert planned
    assert {r["issue"] for r in planned} == {code}
    assert [r["due_on"] for r in planned] == sorted(r["due_on"] for r in planned)
    assert [r["seq"] for r in planned] == list(range(1, len(planned) + 1))
    assert client.get(f"/api/v1/issues/{code}/revisits", headers=auth(world, RECEIVER)).json() == planned
    first_due = planned[0]["due_on"]
    assert client.get(f"/api/v1/revisits?due_before={first_due}", headers=headers).json() == []
    assert len(client.get("/api/v1/revisits?due_before=2099-01-01", headers=headers).json()) == len(planned)
    assert client.get("/api/v1/revisits?status=done", headers=headers).json() == []

    world.fire(code, "start_revisit", AUDITOR)
    world.fire(code, "no_rebound", AUDITOR, finding="未反弹")
    done = client.get("/api/v1/revisits?status=done", headers=headers).json()
    assert [(r["seq"], r["outcome"]) for r in done] == [(1, "clean")]
    assert fields_of(client.get("/api/v1/revisits?status=maybe", headers=headers)) == {"status"}

    outsider = auth(world, OUTSIDER)
    assert client.get("/api/v1/revisits", headers=outsider).json() == []
    assert client.get("/api/v1/revisits?compact=QJ", headers=outsider).status_code == 404
    assert client.get(f"/api/v1/issues/{code}/revisits", headers=outsider).status_code == 404


# -- filed reports --------------------------------------------------------------------------------


def a_closed_issues_follow_up_filed(world: World) -> tuple[str, Filed, dict[str, str]]:
    """An issue walked to closure, its follow-up filed, and the receiving chief's headers."""
    code = world.report()
    walk_to(world, code, "close")
    return code, make_and_file(world.app, "followup", issue=code), auth(world, RECEIVER)


@SQLITE_ONLY
def test_a_filed_report_is_listed_and_downloaded_with_the_bytes_that_were_filed(
    world: World, client: TestClient
) -> None:
    code, filed, headers = a_closed_issues_follow_up_filed(world)
    (listed,) = client.get("/api/v1/reports?compact=QJ&kind=followup", headers=headers).json()
    assert (listed["id"], listed["issue"], listed["sha256"], listed["kind"]) == (
        filed.id,
        code,
        filed.sha256,
        "followup",
    )
    assert client.get("/api/v1/reports?kind=bulletin", headers=headers).json() == []

    download = client.get(f"/api/v1/reports/{filed.id}/file", headers=headers)
    assert download.status_code == 200
    assert download.content == filed.path.read_bytes()
    assert hashlib.sha256(download.content).hexdigest() == filed.sha256
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert f'filename="{filed.path.name}"' in disposition
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == f"{code} 跨界问题跟踪报告.pdf"
    assert fields_of(client.get("/api/v1/reports?kind=essay", headers=headers)) == {"kind"}


@SQLITE_ONLY
def test_an_english_copy_of_a_filed_follow_up_is_made_on_asking_and_nothing_is_filed(
    world: World, client: TestClient
) -> None:
    code, filed, headers = a_closed_issues_follow_up_filed(world)
    copy = client.get(f"/api/v1/reports/{filed.id}/file?lang=en", headers=headers)
    assert copy.status_code == 200
    assert copy.headers["content-type"] == "application/pdf"
    assert copy.headers["cache-control"] == "no-store"
    assert copy.headers["x-content-type-options"] == "nosniff"
    text = subprocess.run(["pdftotext", "-", "-"], input=copy.content, capture_output=True, check=True).stdout
    assert "Follow-up report on a cross-border issue" in text.decode()
    name = unquote(copy.headers["content-disposition"].split("filename*=UTF-8''", 1)[1])
    assert name == f"{code} follow-up report on a cross-border issue.pdf"
    assert [r["id"] for r in client.get("/api/v1/reports", headers=headers).json()] == [filed.id]
    assert client.get(f"/api/v1/reports/{filed.id}/file?lang=fr", headers=headers).status_code == 422


@SQLITE_ONLY
def test_a_csv_export_is_served_as_csv(world: World, client: TestClient) -> None:
    world.report()
    filed = make_and_file(world.app, "ledger", fmt="csv")
    download = client.get(f"/api/v1/reports/{filed.id}/file", headers=auth(world, COORDINATOR))
    assert download.headers["content-type"].startswith("text/csv")
    assert download.content == filed.path.read_bytes()
    assert download.headers["content-disposition"].endswith(".csv")


def test_another_compacts_reports_do_not_exist_for_the_caller(world: World, client: TestClient) -> None:
    world.report()
    filed = make_and_file(world.app, "ledger", fmt="csv")
    outsider = auth(world, OUTSIDER)
    assert client.get("/api/v1/reports", headers=outsider).json() == []
    assert client.get("/api/v1/reports?compact=QJ", headers=outsider).status_code == 404
    assert client.get(f"/api/v1/reports/{filed.id}/file", headers=outsider).status_code == 404
    assert client.get("/api/v1/reports/99999/file", headers=auth(world, COORDINATOR)).status_code == 404


@SQLITE_ONLY
def test_an_altered_or_missing_report_file_is_refused_not_served(world: World, client: TestClient) -> None:
    world.report()
    filed = make_and_file(world.app, "ledger", fmt="csv")
    headers = auth(world, COORDINATOR)
    original = filed.path.read_bytes()
    filed.path.write_bytes(original.replace(b"QJ-2026-0001", b"QJ-2026-0009"))
    altered = client.get(f"/api/v1/reports/{filed.id}/file", headers=headers)
    assert altered.status_code == 409
    assert "SHA-256" in altered.json()["detail"]
    assert b"QJ-2026-0009" not in altered.content
    filed.path.unlink()
    missing = client.get(f"/api/v1/reports/{filed.id}/file", headers=headers)
    assert missing.status_code == 409
    assert "missing" in missing.json()["detail"]
    filed.path.write_bytes(original)
    assert client.get(f"/api/v1/reports/{filed.id}/file", headers=headers).content == original


# -- the inbox ------------------------------------------------------------------------------------


def test_the_caller_reads_their_inbox_and_marks_only_their_own_messages_read(world: World, client: TestClient) -> None:
    code = world.report()
    world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    handed_at = world.events(code)[-1].occurred_at
    world.clock.advance(hours=3)  # delivered later than it happened: both times are told
    world.app.dispatcher([]).drain()
    receiver = auth(world, RECEIVER)
    unread = client.get("/api/v1/inbox?unread=true", headers=receiver).json()
    assert unread
    assert all(m["read_at"] is None for m in unread)
    told = next(m for m in unread if code in m["subject"] or code in m["body"])
    assert told["occurred_at"] == handed_at.isoformat()
    assert told["created_at"] > told["occurred_at"]
    assert any(code in m["subject"] or code in m["body"] for m in unread)
    coordinator = auth(world, COORDINATOR)
    theirs = client.get("/api/v1/inbox", headers=coordinator).json()
    assert theirs
    assert {m["id"] for m in theirs}.isdisjoint(m["id"] for m in unread)

    others = client.post("/api/v1/inbox/read", json={"ids": [m["id"] for m in theirs]}, headers=receiver)
    assert others.json() == {"marked": 0}
    assert client.get("/api/v1/inbox?unread=true", headers=coordinator).json() == theirs

    first = unread[0]["id"]
    assert client.post("/api/v1/inbox/read", json={"ids": [first]}, headers=receiver).json() == {"marked": 1}
    assert client.post("/api/v1/inbox/read", json={"ids": [first]}, headers=receiver).json() == {"marked": 0}
    still = client.get("/api/v1/inbox?unread=true", headers=receiver).json()
    assert [m["id"] for m in still] == [m["id"] for m in unread[1:]]
    everything = client.get("/api/v1/inbox", headers=receiver).json()
    assert next(m for m in everything if m["id"] == first)["read_at"] is not None
    assert client.post("/api/v1/inbox/read", json={"ids": []}, headers=receiver).status_code == 422
