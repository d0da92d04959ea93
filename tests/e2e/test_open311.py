"""Open311 GeoReport v2 as a reporting app sees it: services, filing by position, reading back, errors."""

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from states.policy import CATEGORIES
from tests.factories import RECEIVER, REPORTER, World, happy_path
from web.api import create_api
from workflow.accounts.tokens import create_token, revoke_token
from workflow.core.models import Jurisdiction, MapFeature, table_of
from workflow.core.reference import load, parse
from workflow.core.services import IssueDraft, report_issue

TAIAN, BAIMA, FAR_AWAY = "500152102", "510904101", "420100"
# Two townships facing each other across the border at longitude 105.700: 白马镇 (Sichuan) west, 太安镇 east.
MAP = {
    BAIMA: (105.60, 30.10, 105.70, 30.30),
    TAIAN: (105.70, 30.10, 105.80, 30.30),
    FAR_AWAY: (114.0, 30.4, 114.6, 30.8),  # 武汉市: known to riverchief, in no compact
}
INSIDE_TAIAN = {"lat": "30.22", "long": "105.72"}  # about 2 km from the border, 670 m from 琼江太安镇段
AT_THE_BORDER = {"lat": "30.25", "long": "105.701"}  # 太安镇, about 100 m from 白马镇
OUTSIDE = {"lat": "39.9", "long": "116.4"}
NO_COMPACT = {"lat": "30.6", "long": "114.3"}
OFFICE = "tn-office"  # 潼南区河长办: the account a district's public reporting app files with

SPEC_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}


def draw_map(world: World, tmp_path: Path) -> None:
    """Jurisdiction polygons as the map import stores them (a rectangle each)."""
    extra = tmp_path / "wuhan.yaml"
    extra.write_text('jurisdictions:\n  - {code: "420100", name: 武汉市, level: city}\n', encoding="utf-8")
    load(world.app.uow(), parse(extra))
    features, places = table_of(MapFeature), table_of(Jurisdiction)
    with world.app.uow() as uow:
        ids = {row.code: row.id for row in uow.connection.execute(sa.select(places.c.code, places.c.id))}
        for code, (west, south, east, north) in MAP.items():
            ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
            uow.connection.execute(
                features.insert(),
                {
                    "layer": "jurisdiction",
                    "code": code,
                    "name": code,
                    "jurisdiction_id": ids[code],
                    "properties": {},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                    "min_lon": west,
                    "min_lat": south,
                    "max_lon": east,
                    "max_lat": north,
                    "imported_at": world.clock.now(),
                },
            )
        uow.commit()


def open311(world: World, tmp_path: Path) -> Iterator[TestClient]:
    draw_map(world, tmp_path)
    with TestClient(create_api(world.app)) as test_client:
        yield test_client


@pytest.fixture
def client(sqlite_world: World, tmp_path: Path) -> Iterator[TestClient]:
    yield from open311(sqlite_world, tmp_path)


@pytest.fixture
def any_client(world: World, tmp_path: Path) -> Iterator[TestClient]:
    """The client on each dialect."""
    yield from open311(world, tmp_path)


def key(world: World, person: str = OFFICE) -> str:
    return create_token(world.app.uow(), person, "reporting app")[1]


def file(client: TestClient, api_key: str | None, **fields: str) -> Any:
    form = {"service_code": "domestic_sewage", **INSIDE_TAIAN, **fields}
    if api_key is not None:
        form["api_key"] = api_key
    return client.post("/open311/v2/requests.json", data=form)


def read(client: TestClient, code: str) -> dict[str, Any]:
    answer = client.get(f"/open311/v2/requests/{code}.json")
    assert answer.status_code == 200
    body = answer.json()
    assert isinstance(body, list)
    assert len(body) == 1
    return dict(body[0])


def assert_georeport_request(request: dict[str, Any]) -> None:
    """Every GeoReport v2 field, with the spec's types."""
    assert set(request) == SPEC_FIELDS
    for name in ("service_request_id", "status_notes", "service_name", "service_code", "description"):
        assert isinstance(request[name], str), name
    assert request["status"] in ("open", "closed")
    assert isinstance(request["agency_responsible"], str)
    assert request["agency_responsible"]
    for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
        if request[name] is not None:
            assert datetime.fromisoformat(request[name]).tzinfo is not None, name
    assert request["requested_datetime"] is not None
    assert request["updated_datetime"] is not None
    for name in ("service_notice", "expected_datetime", "address", "address_id", "media_url"):
        assert request[name] is None or isinstance(request[name], str), name
    assert request["zipcode"] is None
    assert request["lat"] is None or isinstance(request["lat"], float)
    assert request["long"] is None or isinstance(request["long"], float)


def refusal(answer: Any, status: int) -> str:
    """The description of an Open311 error answer, after checking its status and shape."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert isinstance(body, list)
    assert len(body) == 1
    assert set(body[0]) == {"code", "description"}
    assert body[0]["code"] == status
    return str(body[0]["description"])


def test_a_request_filed_by_position_is_read_back_and_closes_when_the_issue_is_closed(
    world: World, any_client: TestClient
) -> None:
    client = any_client
    filed = file(
        client,
        key(world),
        description="河边有一个排污口，水是黑色的",
        address_string="太安镇琼江大桥下游约200米",
        media_url="https://photos.example.org/p/1.jpg",
        first_name="小明",
        last_name="王",
        email="wang@example.org",
        phone="13800000000",
        device_id="device-7",
        account_id="app-user-42",
    )
    assert filed.status_code == 201, filed.text
    [created] = filed.json()
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    assert created["account_id"] is None
    code = created["service_request_id"]
    assert code.startswith("QJ-2026-")
    assert "太安镇" in created["service_notice"]

    issue = world.issue(code)
    assert issue.state == "xun.reported"
    first = world.events(code)[0]
    assert (first.trigger, first.actor_code) == ("report", OFFICE)
    assert "wang@example.org" in issue.description
    assert "13800000000" in issue.description

    request = read(client, code)
    assert_georeport_request(request)
    assert request["service_request_id"] == code
    assert (request["status"], request["status_notes"]) == ("open", "巡·已发现上报")
    assert (request["service_code"], request["service_name"]) == ("domestic_sewage", "生活污染")
    assert request["description"] == "河边有一个排污口，水是黑色的"
    assert request["agency_responsible"] == "太安镇"
    assert request["address"] == "太安镇琼江大桥下游约200米"
    assert request["address_id"] == "qj-taian"
    assert (request["lat"], request["long"]) == (30.22, 105.72)
    assert request["media_url"] == "https://photos.example.org/p/1.jpg"
    assert request["expected_datetime"] is not None
    assert request["requested_datetime"].endswith("+08:00")
    raw = client.get(f"/open311/v2/requests/{code}.json").text
    for private in ("wang@example.org", "13800000000", "小明", "device-7", "app-user-42", OFFICE):
        assert private not in raw

    steps = happy_path(world)
    closing = [t for t, _, _ in steps].index("close")
    for trigger, who, payload in steps[:1]:
        world.fire(code, trigger, who, **payload)
    handed = read(client, code)
    assert (handed["status"], handed["agency_responsible"]) == ("open", "白马镇")
    assert handed["status_notes"] == "办·已交办待受理"

    world.clock.advance(days=3)
    for trigger, who, payload in steps[1 : closing + 1]:
        world.fire(code, trigger, who, **payload)
    closed = read(client, code)
    assert_georeport_request(closed)
    assert closed["status"] == "closed"
    assert closed["status_notes"] == "已销号：问题已整改到位，并经双方联合复核验收（2026-03-05销号）"
    assert closed["updated_datetime"] > closed["requested_datetime"]
    assert closed["expected_datetime"] is None
    assert closed["service_notice"] is None

    for trigger, who, payload in steps[closing + 1 :]:
        world.fire(code, trigger, who, **payload)
    archived = read(client, code)
    assert archived["status"] == "closed"
    assert archived["status_notes"].startswith("已归档")
    assert "回头看未发现反弹" in archived["status_notes"]


def test_a_point_at_the_border_goes_to_its_own_side_and_proposes_the_other_for_hand_off(
    sqlite_world: World, client: TestClient
) -> None:
    filed = file(client, key(sqlite_world), description="界河边倾倒垃圾", **AT_THE_BORDER)
    assert filed.status_code == 201, filed.text
    [created] = filed.json()
    assert "建议交办白马镇" in created["service_notice"]
    code = created["service_request_id"]
    assert "建议交办接收方：白马镇（510904101）" in sqlite_world.issue(code).description
    request = read(client, code)
    assert request["agency_responsible"] == "太安镇"
    assert request["description"] == "界河边倾倒垃圾"
    sqlite_world.fire(code, "hand_off", REPORTER, receiving=BAIMA)
    assert read(client, code)["agency_responsible"] == "白马镇"


def test_any_member_chief_or_office_may_file_and_the_others_get_403(sqlite_world: World, client: TestClient) -> None:
    by_other_side = file(client, key(sqlite_world, "sn-office"))
    assert by_other_side.status_code == 201
    assert read(client, by_other_side.json()[0]["service_request_id"])["agency_responsible"] == "太安镇"
    assert file(client, key(sqlite_world, RECEIVER)).status_code == 201
    before = sqlite_world.counts()
    for person in ("qj-coord", "ngo-auditor"):
        assert "may not file" in refusal(file(client, key(sqlite_world, person)), 403)
    assert "api_key" in refusal(file(client, None), 403)
    assert "api_key" in refusal(file(client, "rc_not-a-token"), 403)
    token_id, token = create_token(sqlite_world.app.uow(), OFFICE, "revoked app")
    revoke_token(sqlite_world.app.uow(), token_id)
    assert "api_key" in refusal(file(client, token), 403)
    after = sqlite_world.counts()
    assert {k: v for k, v in after.items() if k != "api_token"} == {k: v for k, v in before.items() if k != "api_token"}


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"service_code": "potholes"}, "service_code"),
        ({"service_code": ""}, "service_code"),
        ({"lat": "", "long": ""}, "lat/long or address_string"),
        (OUTSIDE, "lat/long"),
        (NO_COMPACT, "lat/long"),
        ({"lat": "30.2", "long": ""}, "long"),
        ({"lat": "north", "long": "105.7"}, "lat"),
        ({"lat": "95", "long": "105.7"}, "lat"),
        ({"long": "nan"}, "long"),
        ({"media_url": "javascript:alert(1)"}, "media_url"),
        ({"email": "not an address"}, "email"),
        ({"description": "x" * 5000}, "description"),
        ({"jurisdiction_id": "HJ"}, "jurisdiction_id"),
    ],
    ids=[
        "unknown service",
        "no service",
        "no place",
        "outside every jurisdiction",
        "in no compact",
        "half a position",
        "not a number",
        "off the globe",
        "not finite",
        "not a web link",
        "bad email",
        "too long",
        "wrong compact",
    ],
)
def test_a_bad_request_gets_400_naming_the_field_and_files_nothing(
    sqlite_world: World, client: TestClient, fields: dict[str, str], named: str
) -> None:
    api_key = key(sqlite_world)
    before = sqlite_world.counts()
    described = refusal(file(client, api_key, **fields), 400)
    assert described.startswith(named + ":")
    assert sqlite_world.counts()["issue"] == before["issue"]
    assert sqlite_world.counts()["event"] == before["event"]


def test_an_address_without_a_position_goes_to_the_filing_accounts_own_side(
    sqlite_world: World, client: TestClient
) -> None:
    filed = file(client, key(sqlite_world), lat="", long="", address_string="琼江崇龛镇段右岸")
    assert filed.status_code == 201, filed.text
    request = read(client, filed.json()[0]["service_request_id"])
    assert request["agency_responsible"] == "潼南区"
    assert (request["lat"], request["long"], request["address"]) == (None, None, "琼江崇龛镇段右岸")


def test_markup_in_a_description_comes_back_as_the_same_text(sqlite_world: World, client: TestClient) -> None:
    script = '<script>alert("x")</script><img src=x onerror=alert(1)> & 【Open311 公众上报】\n媒体链接：x'
    filed = file(client, key(sqlite_world), description=script, first_name="<b>王</b>")
    code = filed.json()[0]["service_request_id"]
    answer = client.get(f"/open311/v2/requests/{code}.json")
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["x-content-type-options"] == "nosniff"
    [request] = answer.json()
    assert request["description"] == script.replace("【Open311 公众上报】", "[Open311]")
    assert request["media_url"] is None
    as_xml = client.get(f"/open311/v2/requests/{code}.xml")
    assert as_xml.headers["content-type"].startswith("text/xml")
    assert "<script>" not in as_xml.text
    assert "&lt;script&gt;" in as_xml.text
    description = ET.fromstring(as_xml.content).find("request/description")
    assert description is not None
    assert description.text == request["description"]


def test_services_list_every_category_with_the_spec_fields(client: TestClient) -> None:
    listed = client.get("/open311/v2/services.json").json()
    assert [s["service_code"] for s in listed] == list(CATEGORIES)
    for service in listed:
        assert set(service) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
        assert service["service_name"] == CATEGORIES[service["service_code"]].label_zh
        assert (service["metadata"], service["type"]) == (False, "realtime")
        assert isinstance(service["keywords"], str)
        assert isinstance(service["group"], str)
    root = ET.fromstring(client.get("/open311/v2/services.xml").content)
    assert root.tag == "services"
    assert [s.findtext("service_code") for s in root.findall("service")] == list(CATEGORIES)
    assert root.findtext("service/metadata") == "false"
    assert client.get("/open311/v2/services/livestock.json").json() == {"service_code": "livestock", "attributes": []}
    assert "potholes" in refusal(client.get("/open311/v2/services/potholes.json"), 404)


def test_discovery_names_the_endpoint_and_its_formats(client: TestClient) -> None:
    found = client.get("/open311/v2/discovery.json").json()
    [endpoint] = found["endpoints"]
    assert endpoint["url"].endswith("/open311/v2")
    assert endpoint["formats"] == ["application/json", "text/xml"]
    assert {"changeset", "contact", "key_service"} <= set(found)


def test_an_unknown_format_or_request_gets_an_open311_404(client: TestClient) -> None:
    assert "yaml" in refusal(client.get("/open311/v2/services.yaml"), 404)
    assert "QJ-2026-9999" in refusal(client.get("/open311/v2/requests/QJ-2026-9999.json"), 404)
    errors = ET.fromstring(client.get("/open311/v2/requests/QJ-2026-9999.xml").content)
    assert (errors.tag, errors.findtext("error/code")) == ("errors", "404")


def test_requests_filter_by_id_service_status_and_dates(sqlite_world: World, client: TestClient) -> None:
    api_key = key(sqlite_world)
    old = file(client, api_key, service_code="sand_mining").json()[0]["service_request_id"]
    sqlite_world.clock.advance(days=100)
    sewage = file(client, api_key).json()[0]["service_request_id"]
    fishing = file(client, api_key, service_code="illegal_fishing").json()[0]["service_request_id"]
    internal = sqlite_world.report(title="内部上报", description="镇河长巡河发现")
    flagged = report_issue(
        sqlite_world.app.uow(),
        sqlite_world.actor(REPORTER),
        IssueDraft(compact="QJ", title="敏感点", category="sand_mining"),
        flag=True,
    ).issue_code
    dismissed = file(client, api_key, service_code="other").json()[0]["service_request_id"]
    sqlite_world.fire(dismissed, "dismiss", REPORTER, reason="不属实")

    def codes(query: str = "") -> list[str]:
        answer = client.get(f"/open311/v2/requests.json{query}")
        assert answer.status_code == 200, answer.text
        listed = answer.json()
        for request in listed:
            assert_georeport_request(request)
        return [r["service_request_id"] for r in listed]

    assert codes() == [dismissed, internal, fishing, sewage]  # newest first, the last 90 days, no flagged point
    assert flagged not in codes("?start_date=2026-01-01T00:00:00Z")
    assert codes("?start_date=2026-03-01T00:00:00%2B08:00&end_date=2026-03-03T00:00:00%2B08:00") == [old]
    assert codes("?service_code=illegal_fishing,sand_mining") == [fishing]
    assert codes("?status=closed") == [dismissed]
    assert codes("?status=open") == [internal, fishing, sewage]
    assert codes(f"?service_request_id={old},{sewage},{flagged}&status=closed") == [sewage, old]
    assert codes("?jurisdiction_id=QJ&service_code=domestic_sewage") == [internal, sewage]
    [described] = client.get(f"/open311/v2/requests.json?service_request_id={internal}").json()
    assert described["description"] == "镇河长巡河发现"
    assert described["media_url"] is None
    [rejected] = client.get(f"/open311/v2/requests.json?service_request_id={dismissed}").json()
    assert rejected["status_notes"].startswith("不予立案")
    assert "不属实" not in rejected["status_notes"]
    assert refusal(client.get("/open311/v2/requests.json?status=pending"), 400).startswith("status:")
    assert refusal(client.get("/open311/v2/requests.json?start_date=yesterday"), 400).startswith("start_date:")
    assert refusal(client.get("/open311/v2/requests.json?service_code=potholes"), 400).startswith("service_code:")
    assert refusal(client.get("/open311/v2/requests.json?jurisdiction_id=XX"), 404).startswith("jurisdiction_id:")


def test_hostile_input_gets_an_open311_error_or_nothing_never_a_server_error(
    world: World, any_client: TestClient
) -> None:
    client = any_client
    code = file(client, key(world)).json()[0]["service_request_id"]
    flagged = report_issue(
        world.app.uow(),
        world.actor(REPORTER),
        IssueDraft(compact="QJ", title="敏感点", category="sand_mining"),
        flag=True,
    ).issue_code
    assert flagged in refusal(client.get(f"/open311/v2/requests/{flagged}.json"), 404)
    assert "service_request_id" in refusal(client.get("/open311/v2/requests/QJ%00.json"), 404)
    # A NUL in a query is refused at the edge, as on every interface, naming the parameter.
    assert refusal(client.get(f"/open311/v2/requests.json?service_request_id=%00,{code}"), 400).startswith(
        "service_request_id:"
    )
    assert refusal(client.get("/open311/v2/requests.json?jurisdiction_id=Q%00J"), 400).startswith("jurisdiction_id:")
    too_early = refusal(client.get("/open311/v2/requests.json?end_date=0001-01-01T00:00:00%2B14:00"), 400)
    assert too_early.startswith("end_date:")
    for field in ("description", "first_name", "address_string"):
        assert refusal(file(client, key(world), **{field: "排污\x00口"}), 400).startswith(field + ":")
    assert [r["service_request_id"] for r in client.get("/open311/v2/requests.json").json()] == [code]
