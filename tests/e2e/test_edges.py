"""Bad input at the HTTP edge: NUL and lone surrogates, days out of range, huge numbers, and bodies over the limit.

Each gets a 4xx naming the field (or the body), never a 500, and alike on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from riverchief.settings import Settings
from tests.factories import CHECKLIST, COORDINATOR, REPORTER, World, walk_to
from web.api import create_api
from workflow.accounts.signin import set_password
from workflow.accounts.tokens import create_token

NUL = "白马\x00镇"
SURROGATE = "白马\ud800镇"
PASSWORD = "琼江清水长流-2026"


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_api(world.app), raise_server_exceptions=False) as test_client:
        yield test_client


def auth(world: World, person: str = REPORTER) -> dict[str, str]:
    _, token = create_token(world.app.uow(), person, "test")
    return {"Authorization": f"Bearer {token}"}


def post_json(client: TestClient, url: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    """POST a JSON body as a client would write it: a lone surrogate goes as its \\ud800 escape."""
    return client.post(url, content=json.dumps(body), headers={**(headers or {}), "content-type": "application/json"})


def refused_fields(answer: Any, status: int = 422) -> list[str]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] in ("ValidationFailed", "TooLarge"), body
    return [f["field"] for f in body["fields"]]


# -- NUL and lone surrogates -------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_a_report_with_a_nul_or_a_lone_surrogate_in_any_field_gets_422_naming_it_and_files_nothing(
    world: World, client: TestClient, bad: str
) -> None:
    headers = auth(world)
    before = world.counts()
    for field in ("compact", "segment", "title", "description", "place"):
        body = {"title": "白马镇段排污口", "category": "domestic_sewage", "segment": "qj-baima", field: bad}

        answer = post_json(client, "/api/v1/issues", body, headers)

        assert refused_fields(answer) == [field]
    assert world.counts() == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"trigger": "hand_off", "payload": {SURROGATE: "x"}}, "payload"),
        ({"trigger": "hand_off", "payload": {NUL: "x"}}, "payload"),
        ({"trigger": "hand_off", "payload": {"receiving": NUL}}, "payload.receiving"),
        (
            {"trigger": "hand_off", "payload": {"receiving": "510904101"}, "expected_version": SURROGATE},
            "expected_version",
        ),
        ({"trigger": NUL, "payload": {}}, "trigger"),
    ],
    ids=["key-surrogate", "key-nul", "value-nul", "version-surrogate", "trigger-nul"],
)
def test_a_step_with_bad_text_in_its_payload_or_version_gets_422_naming_it(
    world: World, client: TestClient, payload: dict[str, Any], field: str
) -> None:
    code = world.report()

    answer = post_json(client, f"/api/v1/issues/{code}/transitions", payload, auth(world))

    assert refused_fields(answer) == [field]
    assert [e.trigger for e in world.events(code)] == ["report"]


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_a_checklist_item_with_bad_text_gets_422_naming_the_item(world: World, client: TestClient, bad: str) -> None:
    code = world.report()
    walk_to(world, code, "request_verify")

    answer = post_json(
        client,
        f"/api/v1/issues/{code}/transitions",
        {"trigger": "pass_check", "payload": {"checklist": [*CHECKLIST[:2], bad]}},
        auth(world, "sn-baima"),
    )

    assert refused_fields(answer) == ["payload.checklist[2]"]


def test_expected_version_true_is_refused_not_taken_for_the_version_1(world: World, client: TestClient) -> None:
    code = world.report()

    answer = post_json(
        client,
        f"/api/v1/issues/{code}/transitions",
        {"trigger": "hand_off", "payload": {"receiving": "510904101"}, "expected_version": True},
        auth(world),
    )

    assert answer.status_code == 422, answer.text
    assert [e.trigger for e in world.events(code)] == ["report"]


@pytest.mark.parametrize(
    ("field", "body"),
    [("person", {"person": SURROGATE, "password": "x"}), ("password", {"person": REPORTER, "password": SURROGATE})],
)
def test_a_sign_in_with_a_lone_surrogate_gets_422_naming_the_field(
    client: TestClient, field: str, body: dict[str, str]
) -> None:
    assert refused_fields(post_json(client, "/api/v1/session", body)) == [field]


def test_a_sign_in_with_a_nul_in_the_person_gets_422_naming_it(world: World, client: TestClient) -> None:
    set_password(world.app.uow(), REPORTER, PASSWORD)
    assert refused_fields(post_json(client, "/api/v1/session", {"person": NUL, "password": PASSWORD})) == ["person"]


NUL_IN_URLS = [
    ("/api/v1/issues?q=%00", "q"),
    ("/api/v1/issues?party=5109%00", "party"),
    ("/api/v1/issues?compact=QJ%00", "compact"),
    ("/api/v1/stats?compact=QJ%00", "compact"),
    ("/api/v1/issues/QJ-2026-0001%00", "code"),
    ("/api/v1/issues/QJ%00/timeline", "code"),
    ("/api/v1/people/sn%00baima", "code"),
    ("/api/v1/reports?period=2026%00", "period"),
]


def test_a_nul_in_a_query_or_a_path_gets_422_naming_the_parameter(world: World, client: TestClient) -> None:
    world.report()
    headers = auth(world, COORDINATOR)
    for url, field in NUL_IN_URLS:
        assert refused_fields(client.get(url, headers=headers)) == [field], url


def test_a_nul_in_a_caption_gets_422_and_stores_no_evidence(world: World, client: TestClient) -> None:
    code = world.report()
    headers = auth(world)
    before = world.counts()

    answer = client.post(
        f"/api/v1/issues/{code}/attachments",
        files={"file": ("a.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")},
        data={"caption": NUL},
        headers=headers,
    )

    assert refused_fields(answer) == ["caption"]
    assert world.counts() == before


def test_open311_answers_a_nul_in_its_query_with_its_own_400(client: TestClient) -> None:
    answer = client.get("/open311/v2/requests.json", params={"service_request_id": NUL})
    assert answer.status_code == 400
    assert answer.json()[0]["description"].startswith("service_request_id:")


def test_a_page_form_with_a_nul_gets_422_and_reports_nothing(world: World, client: TestClient) -> None:
    set_password(world.app.uow(), REPORTER, PASSWORD)
    client.post("/login", data={"person": REPORTER, "password": PASSWORD, "next": "/"}, follow_redirects=False)
    page = client.get("/report").text
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    before = world.counts()

    answer = client.post(
        "/report",
        data={"csrf_token": csrf, "title": NUL, "category": "domestic_sewage", "compact": "QJ"},
        follow_redirects=False,
    )

    assert answer.status_code == 422
    assert "title" in answer.text
    assert world.counts() == before


# -- days and numbers ---------------------------------------------------------------------------------------------


DAYS_OUT_OF_RANGE = [
    ("/api/v1/issues?from=0001-01-01", "from"),
    ("/api/v1/issues?to=9999-12-31", "to"),
    ("/api/v1/stats?from=0001-01-01", "from"),
    ("/api/v1/stats?to=9999-12-31", "to"),
    ("/api/v1/meetings?from=1969-12-31", "from"),
    ("/api/v1/revisits?due_before=2101-01-01", "due_before"),
]


def test_a_day_outside_1970_to_2100_gets_422_naming_it(world: World, client: TestClient) -> None:
    headers = auth(world, COORDINATOR)
    for url, field in DAYS_OUT_OF_RANGE:
        assert refused_fields(client.get(url, headers=headers)) == [field], url


def test_an_offset_past_any_database_integer_gets_422(world: World, client: TestClient) -> None:
    answer = client.get("/api/v1/people?offset=99999999999999999999", headers=auth(world, COORDINATOR))
    assert answer.status_code == 422, answer.text


def test_an_id_or_a_version_past_a_database_integer_gets_422_naming_it(world: World, client: TestClient) -> None:
    code = world.report()
    headers = auth(world)
    past = 2**31  # PostgreSQL's integer, which every id and version here is, ends one short of it

    read = post_json(client, "/api/v1/inbox/read", {"ids": [1, past]}, headers)
    step = post_json(
        client, f"/api/v1/issues/{code}/transitions", {"trigger": "hand_off", "expected_version": past}, headers
    )

    assert read.status_code == 422, read.text
    assert step.status_code == 422, step.text
    assert client.get(f"/api/v1/reports/{past}/file", headers=headers).status_code == 422


def test_a_step_payload_with_a_day_outside_the_range_gets_422_naming_it(world: World, client: TestClient) -> None:
    code = world.report()
    walk_to(world, code, "accept")

    answer = post_json(
        client,
        f"/api/v1/issues/{code}/transitions",
        {"trigger": "start_rectify", "payload": {"plan": "封堵", "deadline": "9999-12-31"}},
        auth(world, "sn-baima"),
    )

    assert refused_fields(answer) == ["deadline"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"title": "x", "category": "domestic_sewage", "lon": ' + "9" * 5000 + "}", "lon"),
        ('{"title": "x", "category": "domestic_sewage", "lon": ' + "1" * 40 + "}", "lon"),
        ('{"title": "x", "category": "domestic_sewage", "place": ' + "[" * 500 + "]" * 500 + "}", "body"),
    ],
    ids=["5000-digits", "40-digits", "500-deep"],
)
def test_a_body_with_a_huge_number_or_deep_nesting_gets_422_before_it_is_used(
    world: World, client: TestClient, body: str, field: str
) -> None:
    headers = {**auth(world), "content-type": "application/json"}
    before = world.counts()
    answer = client.post("/api/v1/issues", content=body, headers=headers)
    assert refused_fields(answer) == [field]
    assert world.counts() == before


# -- the body's size --------------------------------------------------------------------------------------------


def small_limits(world: World, body_max_bytes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIVERCHIEF_BODY_MAX_BYTES", str(body_max_bytes))
    world.app.settings = Settings(database_url=str(world.app.engine.url), data_dir=world.app.settings.data_dir)
    assert world.app.settings.body_max_bytes == body_max_bytes


def test_a_body_over_the_configured_limit_gets_413_by_its_content_length(
    world: World, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_limits(world, 4096, monkeypatch)
    headers = auth(world)
    before = world.counts()
    body = {"title": "白马镇段排污口", "category": "domestic_sewage", "description": "长" * 2000}

    answer = post_json(client, "/api/v1/issues", body, headers)

    assert refused_fields(answer, 413) == ["body"]
    assert "4 KB" in answer.json()["detail"]
    assert world.counts() == before
    assert post_json(client, "/api/v1/issues", {**body, "description": "长"}, headers).status_code == 201


def test_a_chunked_body_is_counted_as_it_streams_and_refused_past_the_limit(
    world: World, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_limits(world, 4096, monkeypatch)
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for _ in range(64):  # 64 KB in all, with no Content-Length
            sent.append(1)
            yield b" " * 1024

    answer = client.post(
        "/api/v1/issues", content=chunks(), headers={**auth(world), "content-type": "application/octet-stream"}
    )

    assert refused_fields(answer, 413) == ["body"]


def test_an_upload_keeps_its_own_larger_limit(
    world: World, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_limits(world, 1024, monkeypatch)
    code = world.report()
    pdf = b"%PDF-1.4\n" + b"%" * 8192 + b"\n%%EOF\n"

    answer = client.post(
        f"/api/v1/issues/{code}/attachments", files={"file": ("a.pdf", pdf, "application/pdf")}, headers=auth(world)
    )

    assert answer.status_code == 201, answer.text


async def call(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    """Call the ASGI app with a 300 MB body it may pull in 1 MB chunks; returns (status, chunks it pulled)."""
    pulled = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"{" * 1048576, "more_body": pulled < 300}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-length", str(300 * 1048576).encode()), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return status, pulled


@pytest.mark.parametrize(
    ("path", "content_type", "status"),
    [
        ("/api/v1/issues", b"application/json", 401),
        ("/api/v1/admin/reference", b"application/yaml", 401),
        ("/report", b"application/x-www-form-urlencoded", 303),
    ],
)
def test_a_body_without_credentials_to_a_protected_route_is_not_read(
    sqlite_world: World, path: str, content_type: bytes, status: int
) -> None:
    app = create_api(sqlite_world.app)
    assert anyio.run(call, app, "POST", path, [(b"content-type", content_type)]) == (status, 0)


def test_a_body_over_the_limit_with_credentials_is_refused_before_it_is_read(sqlite_world: World) -> None:
    app = create_api(sqlite_world.app)
    token = auth(sqlite_world)["Authorization"].encode()
    headers = [(b"authorization", token), (b"content-type", b"application/json")]
    assert anyio.run(call, app, "POST", "/api/v1/issues", headers) == (413, 0)
