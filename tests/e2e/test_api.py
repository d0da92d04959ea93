"""The HTTP API as a client sees it: tokens, scoped reads, and each refusal with its status and fields."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.factories import COORDINATOR, RECEIVER, RECEIVING_CODE, REPORTER, World
from web.api import create_api
from workflow.accounts.tokens import create_token, revoke_token
from workflow.core.models import ApiToken, table_of
from workflow.core.reference import load, parse

OTHER_COMPACT = """
jurisdictions:
  - code: "420000"
    name: 湖北省
    level: province
    children:
      - {code: "420100", name: 武汉市, level: city}
      - {code: "420600", name: 襄阳市, level: city}
people:
  - {code: wh-chief, name: 武汉河长, role: chief, jurisdiction: "420100"}
compacts:
  - {code: HJ, name: 汉江协作, members: ["420100", "420600"]}
"""
_token = table_of(ApiToken)


@pytest.fixture
def client(sqlite_world: World) -> Iterator[TestClient]:
    with TestClient(create_api(sqlite_world.app)) as test_client:
        yield test_client


def auth(world: World, person: str) -> dict[str, str]:
    _, token = create_token(world.app.uow(), person, "test")
    return {"Authorization": f"Bearer {token}"}


def test_no_token_a_wrong_one_or_a_revoked_one_gets_401(sqlite_world: World, client: TestClient) -> None:
    assert client.get("/api/v1/issues").status_code == 401
    assert client.get("/api/v1/issues", headers={"Authorization": "Bearer rc_nonsense"}).status_code == 401
    token_id, token = create_token(sqlite_world.app.uow(), REPORTER, "phone")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/issues", headers=headers).status_code == 200
    revoke_token(sqlite_world.app.uow(), token_id)
    refused = client.get("/api/v1/issues", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("step", [False, True], ids=["an issue's GET", "a step's POST"])
def test_the_routes_that_find_their_caller_themselves_refuse_a_wrong_or_revoked_token_with_401(
    sqlite_world: World, client: TestClient, step: bool
) -> None:
    code = sqlite_world.report()
    token_id, token = create_token(sqlite_world.app.uow(), REPORTER, "phone")

    def ask(token: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        if step:
            body = {"trigger": "hand_off", "payload": {"receiving": RECEIVING_CODE}, "expected_version": 1}
            return client.post(f"/api/v1/issues/{code}/transitions", json=body, headers=headers)
        return client.get(f"/api/v1/issues/{code}", headers=headers)

    before = sqlite_world.counts()
    wrong = ask("rc_nonsense")
    assert (wrong.status_code, wrong.json()["error"]) == (401, "Unauthenticated")
    assert wrong.headers["WWW-Authenticate"] == "Bearer"
    revoke_token(sqlite_world.app.uow(), token_id)
    revoked = ask(token)
    assert (revoked.status_code, revoked.headers["WWW-Authenticate"]) == (401, "Bearer")
    assert sqlite_world.counts() == before
    assert client.get(f"/api/v1/issues/{code}").status_code == 401


def test_reading_an_issue_stamps_the_tokens_last_use_at_most_once_a_minute(
    sqlite_world: World, client: TestClient
) -> None:
    code = sqlite_world.report()
    token_id, token = create_token(sqlite_world.app.uow(), REPORTER, "phone")
    start = sqlite_world.clock.now()

    def read_and_stamp() -> datetime:
        assert client.get(f"/api/v1/issues/{code}", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        with sqlite_world.app.reader() as uow:
            stamped = uow.connection.execute(
                sa.select(_token.c.last_used_at).where(_token.c.id == token_id)
            ).scalar_one()
        return stamped.replace(tzinfo=start.tzinfo) if stamped.tzinfo is None else stamped

    assert read_and_stamp() == start
    for seconds, stamped in ((30, 0), (29, 0), (2, 61)):
        sqlite_world.clock.advance(seconds=seconds)
        assert read_and_stamp() == start + timedelta(seconds=stamped)


def test_a_chief_reports_hands_off_and_the_other_side_sees_what_it_may_do(
    sqlite_world: World, client: TestClient
) -> None:
    created = client.post(
        "/api/v1/issues",
        json={"title": "白马镇段排污口", "category": "domestic_sewage", "segment": "qj-baima"},
        headers=auth(sqlite_world, REPORTER),
    )
    assert created.status_code == 201
    code = created.json()["code"]
    moved = client.post(
        f"/api/v1/issues/{code}/transitions",
        json={"trigger": "hand_off", "payload": {"receiving": RECEIVING_CODE}, "expected_version": 1},
        headers=auth(sqlite_world, REPORTER),
    )
    assert moved.status_code == 200
    assert (moved.json()["state"], moved.json()["version"]) == ("ban.handed_off", 2)

    seen = client.get(f"/api/v1/issues/{code}", headers=auth(sqlite_world, RECEIVER)).json()
    assert seen["allowed_triggers"] == ["accept", "dispute", "mark_duplicate"]
    as_reporter = client.get(f"/api/v1/issues/{code}", headers=auth(sqlite_world, REPORTER)).json()
    assert "accept" not in as_reporter["allowed_triggers"]
    steps = client.get(f"/api/v1/issues/{code}/timeline", headers=auth(sqlite_world, COORDINATOR)).json()
    assert [s["trigger"] for s in steps] == ["report", "hand_off"]


@pytest.mark.parametrize(
    ("who", "body", "status", "error"),
    [
        (RECEIVER, {"trigger": "accept", "expected_version": 1}, 409, "Conflict"),
        (RECEIVER, {"trigger": "close"}, 409, "InvalidTransition"),
        (REPORTER, {"trigger": "accept"}, 403, "NotPermitted"),
        (RECEIVER, {"trigger": "dispute", "payload": {"reason": " ", "extra": 1}}, 422, "ValidationFailed"),
    ],
    ids=["stale version", "not allowed now", "wrong side", "bad fields"],
)
def test_refusals_carry_their_status_and_change_nothing(
    sqlite_world: World, client: TestClient, who: str, body: dict[str, object], status: int, error: str
) -> None:
    code = sqlite_world.report()
    sqlite_world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    before = sqlite_world.counts()
    refused = client.post(f"/api/v1/issues/{code}/transitions", json=body, headers=auth(sqlite_world, who))
    assert refused.status_code == status
    assert refused.json()["error"] == error
    if error == "ValidationFailed":
        assert {f["field"] for f in refused.json()["fields"]} == {"reason", "extra"}
    after = sqlite_world.counts()
    after.pop("api_token")
    before.pop("api_token")
    assert after == before


def test_nobody_sees_another_compacts_issues(sqlite_world: World, client: TestClient, tmp_path: Path) -> None:
    code = sqlite_world.report()
    extra = tmp_path / "hj.yaml"
    extra.write_text(OTHER_COMPACT, encoding="utf-8")
    load(sqlite_world.app.uow(), parse(extra))
    outsider = auth(sqlite_world, "wh-chief")
    assert client.get("/api/v1/issues", headers=outsider).json() == {"items": [], "next_cursor": None}
    assert client.get(f"/api/v1/issues/{code}", headers=outsider).status_code == 404
    fired = client.post(f"/api/v1/issues/{code}/transitions", json={"trigger": "dismiss"}, headers=outsider)
    assert fired.status_code == 404
    mine = client.get("/api/v1/issues", headers=auth(sqlite_world, REPORTER)).json()["items"]
    assert [i["code"] for i in mine] == [code]


def test_the_openapi_document_is_served(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/issues/{code}/transitions" in spec["paths"]


def test_riverchief_serve_answers_over_http_with_the_scheduler_and_dispatcher_inside(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    cli = str(Path(sys.executable).parent / "riverchief")
    env = {
        **os.environ,
        "RIVERCHIEF_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "RIVERCHIEF_DATA_DIR": str(tmp_path),
    }
    demo = Path(__file__).resolve().parents[2] / "riverchief" / "demo" / "qiongjiang.yaml"
    for args in (["init"], ["load", str(demo)]):
        subprocess.run([cli, *args], env=env, check=True, capture_output=True)
    token = subprocess.run(
        [cli, "token", "create", "qj-coord"], env=env, check=True, capture_output=True, text=True
    ).stdout.split()[4]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [cli, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/issues", headers={"Authorization": f"Bearer {token}"}, timeout=2
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not answer within 30 s"
                time.sleep(0.3)
        assert answer.status_code == 200
        assert answer.json() == {"items": [], "next_cursor": None}
    finally:
        server.terminate()
        log = server.communicate(timeout=20)[0]
    assert "active scheduler" in log


def test_a_database_behind_this_version_gets_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    cli = str(Path(sys.executable).parent / "riverchief")
    env = {
        **os.environ,
        "RIVERCHIEF_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite'}",
        "RIVERCHIEF_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run([cli, "issue", "list"], env=env, capture_output=True, text=True)
    assert done.returncode == 8
    assert done.stderr.strip().splitlines() == [
        "error: the database is not set up, or is behind this version: run `riverchief init`"
    ]


def test_stats_give_the_practices_figures_for_the_callers_compact(sqlite_world: World, client: TestClient) -> None:
    for _ in range(2):
        code = sqlite_world.report()
        sqlite_world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    sqlite_world.fire(code, "accept", RECEIVER)
    figures = client.get(
        "/api/v1/stats?compact=QJ&from=2026-03-01&to=2026-04-01", headers=auth(sqlite_world, COORDINATOR)
    ).json()
    assert (figures["handed_over"], figures["accepted"], figures["closed"]) == (2, 1, 0)
    earlier = client.get(
        "/api/v1/stats?compact=QJ&from=2026-01-01&to=2026-02-01", headers=auth(sqlite_world, COORDINATOR)
    ).json()
    assert earlier["handed_over"] == 0
    backwards = client.get("/api/v1/stats?from=2026-04-01&to=2026-03-01", headers=auth(sqlite_world, COORDINATOR))
    assert backwards.status_code == 422
    assert backwards.json()["fields"][0]["field"] == "to"
    assert client.get("/api/v1/stats?compact=HJ", headers=auth(sqlite_world, COORDINATOR)).status_code == 404


def test_evidence_is_uploaded_read_back_by_readers_and_refused_by_content(
    sqlite_world: World, client: TestClient, tmp_path: Path
) -> None:
    import io

    from PIL import Image

    sqlite_world.app.settings.data_dir = tmp_path
    code = sqlite_world.report()
    image = io.BytesIO()
    Image.new("RGB", (32, 24), (40, 90, 120)).save(image, "PNG")
    photo = image.getvalue()
    sent = client.post(
        f"/api/v1/issues/{code}/attachments",
        files={"file": ("排口.png", photo, "image/png")},
        data={"caption": "排口现场"},
        headers=auth(sqlite_world, REPORTER),
    )
    assert sent.status_code == 201
    body = sent.json()
    assert (body["content_type"], body["version"], body["new"]) == ("image/png", 2, True)

    back = client.get(f"/api/v1/issues/{code}/attachments/{body['sha256']}", headers=auth(sqlite_world, COORDINATOR))
    assert back.status_code == 200
    assert back.content == photo
    assert back.headers["content-type"] == "image/png"
    assert back.headers["x-content-type-options"] == "nosniff"

    disguised = client.post(
        f"/api/v1/issues/{code}/attachments",
        files={"file": ("photo.jpg", b"<script>alert(1)</script>", "image/jpeg")},
        headers=auth(sqlite_world, REPORTER),
    )
    assert disguised.status_code == 415
    assert disguised.json()["fields"][0]["field"] == "file"

    extra = tmp_path / "hj.yaml"
    extra.write_text(OTHER_COMPACT, encoding="utf-8")
    load(sqlite_world.app.uow(), parse(extra))
    outsider = client.get(f"/api/v1/issues/{code}/attachments/{body['sha256']}", headers=auth(sqlite_world, "wh-chief"))
    assert outsider.status_code == 404
    traversal = client.get(
        f"/api/v1/issues/{code}/attachments/..%2F..%2Fetc%2Fpasswd", headers=auth(sqlite_world, REPORTER)
    )
    assert traversal.status_code == 404
