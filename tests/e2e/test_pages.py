"""The pages as a browser without script sees them: sign-in, redirects, CSRF, scoping, escaping, language."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.factories import AUDITOR, CHECKLIST, COORDINATOR, RECEIVER, RECEIVING_CODE, REPORTER, World, walk_to
from web.api import create_api
from web.pages.routes import safe_next
from workflow.accounts.signin import set_password
from workflow.core.reference import load, parse_text

PASSWORD = "琼江清水长流-2026"


@pytest.fixture
def client(sqlite_world: World) -> Iterator[TestClient]:
    for person in (REPORTER, RECEIVER, COORDINATOR, AUDITOR, "tl-anju"):
        set_password(sqlite_world.app.uow(), person, PASSWORD)
    with TestClient(create_api(sqlite_world.app)) as test_client:
        yield test_client


def sign_in(client: TestClient, person: str) -> None:
    answer = client.post("/login", data={"person": person, "password": PASSWORD, "next": "/"}, follow_redirects=False)
    assert answer.status_code == 303


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_pages_send_a_stranger_to_sign_in_and_back_where_they_were_going(client: TestClient) -> None:
    answer = client.get("/queue?x=1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/queue%3Fx%3D1"
    signed = client.post(
        "/login", data={"person": RECEIVER, "password": PASSWORD, "next": "/queue"}, follow_redirects=False
    )
    assert signed.headers["location"] == "/queue"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


@pytest.mark.parametrize(
    ("target", "goes_to"),
    [("/issues/QJ-1", "/issues/QJ-1"), ("//evil.example/x", "/"), ("https://evil.example", "/"), ("/\\evil", "/")],
)
def test_after_sign_in_only_same_site_paths_are_followed(target: str, goes_to: str) -> None:
    assert safe_next(target) == goes_to


def test_a_wrong_password_shows_the_form_again_and_many_are_throttled(client: TestClient) -> None:
    wrong = {"person": RECEIVER, "password": "not the password", "next": "/"}
    answer = client.post("/login", data=wrong)
    assert answer.status_code == 401
    assert "账号或密码不正确" in answer.text
    assert 'value="sn-baima"' in answer.text
    statuses = [client.post("/login", data=wrong).status_code for _ in range(6)]
    assert statuses[-1] == 429
    refused = client.post("/login", data={**wrong, "password": PASSWORD})
    assert refused.status_code == 429
    assert "分钟后再试" in refused.text


def test_a_page_form_without_its_csrf_token_changes_nothing(sqlite_world: World, client: TestClient) -> None:
    code = sqlite_world.report()
    sqlite_world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    sign_in(client, RECEIVER)
    for token in ("", "forged"):
        answer = client.post(
            f"/issues/{code}/act", data={"csrf_token": token, "trigger": "accept", "expected_version": "2"}
        )
        assert answer.status_code == 403
        assert "表单已过期" in answer.text
    assert sqlite_world.issue(code).state == "ban.handed_off"
    page = client.get(f"/issues/{code}")
    accepted = client.post(
        f"/issues/{code}/act",
        data={"csrf_token": csrf_of(page.text), "trigger": "accept", "expected_version": "2"},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    assert sqlite_world.issue(code).state == "ban.accepted"


def test_an_issue_page_escapes_user_text_and_offers_only_this_persons_actions(
    sqlite_world: World, client: TestClient
) -> None:
    code = sqlite_world.report(title="<script>alert(1)</script>", description='<img src=x onerror="alert(2)">')
    sqlite_world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    sign_in(client, RECEIVER)
    html = client.get(f"/issues/{code}").text
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    offered = re.findall(r'<details class="action" data-trigger="([a-z_]+)"', html)
    assert sorted(offered) == ["accept", "dispute", "mark_duplicate"]
    sign_in(client, REPORTER)
    html = client.get(f"/issues/{code}").text
    assert re.findall(r'<details class="action" data-trigger="([a-z_]+)"', html) == []


def test_only_a_form_that_picks_a_place_lists_the_compacts_places_and_the_timeline_names_them(
    sqlite_world: World, client: TestClient
) -> None:
    code = sqlite_world.report()
    sign_in(client, REPORTER)
    html = client.get(f"/issues/{code}").text
    assert 'data-trigger="hand_off"' in html
    assert RECEIVING_CODE in re.findall(r'<option value="(\d+)"', html)
    sqlite_world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    sign_in(client, RECEIVER)
    html = client.get(f"/issues/{code}").text
    assert re.findall(r'<option value="(\d+)"', html) == []  # accepting, disputing, merging pick no place
    timeline = html.split('data-testid="timeline"', 1)[1]
    assert "白马镇" in timeline
    assert RECEIVING_CODE not in timeline


def test_another_compacts_people_cannot_open_an_issue_page(sqlite_world: World, client: TestClient) -> None:
    code = sqlite_world.report()
    sign_in(client, AUDITOR)
    assert client.get(f"/issues/{code}").status_code == 200
    assert client.get("/issues/QJ-2099-9999").status_code == 404


def test_a_field_error_comes_back_beside_its_field_with_what_was_typed(sqlite_world: World, client: TestClient) -> None:
    code = sqlite_world.report()
    sqlite_world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    sqlite_world.fire(code, "accept", RECEIVER)
    sign_in(client, RECEIVER)
    page = client.get(f"/issues/{code}")
    answer = client.post(
        f"/issues/{code}/act",
        data={
            "csrf_token": csrf_of(page.text),
            "trigger": "start_rectify",
            "expected_version": "3",
            "plan": "清淤 <b>疏浚</b>",
            "deadline": "2020-01-01",
        },
    )
    assert answer.status_code == 422
    assert 'data-testid="error-deadline"' in answer.text
    assert "清淤 &lt;b&gt;疏浚&lt;/b&gt;" in answer.text
    assert sqlite_world.issue(code).state == "ban.accepted"


def test_the_queue_sorts_hand_offs_and_the_other_sides_waits(sqlite_world: World, client: TestClient) -> None:
    waiting_for_me = sqlite_world.report(title="待受理")
    sqlite_world.fire(waiting_for_me, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    mine_to_do = sqlite_world.report(title="已受理待方案")
    sqlite_world.fire(mine_to_do, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    sqlite_world.fire(mine_to_do, "accept", RECEIVER)
    sign_in(client, RECEIVER)
    html = client.get("/queue").text
    counts = dict(re.findall(r'data-testid="count-([a-z_]+)">(\d+)<', html))
    assert counts == {"to_accept": "1", "overdue": "0", "due_soon": "0", "on_me": "1", "on_others": "0"}
    sign_in(client, REPORTER)
    html = client.get("/queue").text
    counts = dict(re.findall(r'data-testid="count-([a-z_]+)">(\d+)<', html))
    assert counts["on_others"] == "2"
    assert counts["to_accept"] == "0"
    # A chief of an uninvolved township sees neither.
    sign_in(client, "tl-anju")
    html = client.get("/queue").text
    assert "待受理" not in html


def test_the_language_switch_keeps_the_page_and_speaks_english(client: TestClient) -> None:
    sign_in(client, RECEIVER)
    switched = client.get("/lang/en?next=/queue", follow_redirects=False)
    assert switched.headers["location"] == "/queue"
    html = client.get("/queue").text
    assert "Hand-offs awaiting my acceptance" in html
    assert '<html lang="en">' in html


def test_signing_out_ends_the_session(client: TestClient) -> None:
    sign_in(client, RECEIVER)
    page = client.get("/queue")
    out = client.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/queue", follow_redirects=False).status_code == 303


ADMIN = """
people:
  - {code: qj-admin, name: 系统管理员, role: admin}
"""
DEMO = Path(__file__).resolve().parents[2] / "riverchief" / "demo"


@pytest.fixture
def admin(sqlite_world: World, client: TestClient) -> TestClient:
    load(sqlite_world.app.uow(), parse_text(ADMIN, "yaml"))
    set_password(sqlite_world.app.uow(), "qj-admin", PASSWORD)
    sign_in(client, "qj-admin")
    return client


def test_only_admins_reach_the_import_page(client: TestClient) -> None:
    sign_in(client, COORDINATOR)
    assert client.get("/admin").status_code == 403


def test_an_admin_imports_reference_data_and_a_bad_document_names_its_path(
    sqlite_world: World, admin: TestClient
) -> None:
    page = admin.get("/admin")
    good = "people:\n  - {code: tn-new, name: 新河长, role: chief, jurisdiction: '500152101'}\n"
    answer = admin.post(
        "/admin/import",
        data={"csrf_token": csrf_of(page.text), "layer": ""},
        files={"document": ("people.yaml", good.encode(), "application/yaml")},
    )
    assert answer.status_code == 200
    assert "已导入" in answer.text
    bad = "people:\n  - {code: tn-bad, name: 错误, role: emperor}\n"
    refused = admin.post(
        "/admin/import",
        data={"csrf_token": csrf_of(page.text), "layer": ""},
        files={"document": ("people.yaml", bad.encode(), "application/yaml")},
    )
    assert refused.status_code == 422
    assert "people[0].role" in refused.text
    with sqlite_world.app.reader() as uow:
        codes = set(uow.connection.execute(sa.text("SELECT code FROM person")).scalars())
    assert "tn-new" in codes
    assert "tn-bad" not in codes


def test_a_map_layer_imported_on_the_admin_page_is_drawn_and_routes_points(admin: TestClient) -> None:
    page = admin.get("/admin")
    layer = (DEMO / "qiongjiang-jurisdiction.geojson").read_bytes()
    answer = admin.post(
        "/admin/import",
        data={"csrf_token": csrf_of(page.text), "layer": "jurisdiction"},
        files={"document": ("j.geojson", layer, "application/geo+json")},
    )
    assert answer.status_code == 200
    drawn = admin.get("/map").text
    assert drawn.count('class="jurisdiction"') == 14
    assert "行政区：14" in drawn
    sign_in(admin, REPORTER)
    routed = admin.get("/route.json", params={"lon": 105.70, "lat": 30.204}).json()
    assert routed["segment"] in ("qj-baima", "qj-taian")
    # The reporter's own side is never proposed as the receiving one.
    assert all(not p["code"].startswith("500152") for p in routed["proposed"])


def test_an_action_not_open_yet_is_explained_instead_of_offered(sqlite_world: World, client: TestClient) -> None:
    code = sqlite_world.report()
    walk_to(sqlite_world, code, "request_verify")
    sign_in(client, REPORTER)
    html = client.get(f"/issues/{code}").text
    offered = re.findall(r'<details class="action" data-trigger="([a-z_]+)"', html)
    # Closing needs both sides' signatures: the reporting side is told so, and may sign.
    assert "close" not in offered
    assert "pass_check" in offered
    blocked = re.search(r'<li data-trigger="close">([^<]+)</li>', html)
    assert blocked is not None
    # Said in the reader's words, not the guard's English.
    assert blocked.group(1) == "暂不能销号：双方尚未都签字确认复核"
    sqlite_world.fire(code, "pass_check", RECEIVER, checklist=CHECKLIST)
    sqlite_world.fire(code, "pass_check", REPORTER, checklist=CHECKLIST)
    html = client.get(f"/issues/{code}").text
    assert "close" in re.findall(r'<details class="action" data-trigger="([a-z_]+)"', html)
    # Signed once, a side is told it has signed rather than offered the form again.
    told = re.search(r'data-testid="blocked">(.*?)</ul>', html)
    assert told is not None
    assert re.findall(r'<li data-trigger="([a-z_]+)">', told.group(1)) == ["pass_check"]
    assert "本方已签字确认" in told.group(1)


def test_an_unknown_page_is_a_page_in_the_persons_language_and_the_api_keeps_json(client: TestClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "页面不存在" in missing.text
    assert '<link rel="stylesheet" href="/static/app.css">' in missing.text  # in the app's style
    client.get("/lang/en")
    assert "There is no such page" in client.get("/nope").text
    api = client.get("/api/v1/nope")
    assert api.status_code == 404
    assert api.json() == {"detail": "Not Found"}


def test_a_failure_is_a_page_saying_so_not_a_trace(sqlite_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import web.pages.routes as page_routes

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(page_routes, "safe_next", broken)
    with TestClient(create_api(sqlite_world.app), raise_server_exceptions=False) as failing:
        answer = failing.get("/login?next=/issues")
    assert answer.status_code == 500
    assert "服务出现故障" in answer.text
    assert "disk is full" not in answer.text


def test_the_favicon_is_served(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert 'rel="icon"' in client.get("/login").text


def test_the_reports_page_names_each_kind_and_format_in_the_persons_language(
    sqlite_world: World, client: TestClient
) -> None:
    from riverchief.reporting import make_and_file

    for fmt in ("csv", "xlsx"):
        make_and_file(sqlite_world.app, "ledger", fmt=fmt)
    sign_in(client, COORDINATOR)
    page = client.get("/reports").text
    assert page.count("QJ 全部跨界问题台账") == 2
    assert page.count('data-testid="report-kind">跨界问题台账<') == 2
    assert re.findall(r'data-testid="report-format">(\w+)<', page) == ["XLSX", "CSV"]  # newest first
    assert ">ledger<" not in page
    assert " all " not in page
    client.get("/lang/en")
    assert "Ledger of cross-border issues" in client.get("/reports").text


def test_in_english_each_filed_report_offers_an_english_copy_made_from_the_ledger(
    sqlite_world: World, client: TestClient
) -> None:
    from riverchief.reporting import make_and_file

    filed = make_and_file(sqlite_world.app, "ledger", fmt="csv")
    sign_in(client, COORDINATOR)
    assert 'data-testid="english-copy"' not in client.get("/reports").text  # a Chinese reader has the original
    client.get("/lang/en")
    (link,) = re.findall(r'href="([^"]+)"[^>]*data-testid="english-copy"', client.get("/reports").text)
    assert link == f"/api/v1/reports/{filed.id}/file?lang=en"
    copy = client.get(link)
    assert copy.status_code == 200
    heads = next(csv.reader(io.StringIO(copy.content.decode("utf-8-sig"))))
    assert heads[:3] == ["Code", "Issue", "Category"]
    assert copy.content != filed.path.read_bytes()  # the original stays as it was filed
    refused = client.get(f"/api/v1/reports/{filed.id}/file?lang=fr")
    assert refused.status_code == 422
    assert "lang" in refused.text
