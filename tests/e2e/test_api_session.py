"""Signing in through the API as a browser does: the cookie, CSRF on unsafe requests, throttling, signing out."""

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from riverchief.bootstrap import bootstrap
from riverchief.demo.play import DATA
from riverchief.settings import Settings
from tests.factories import COORDINATOR, RECEIVING_CODE, REPORTER, Cli, World
from web.api import create_api
from workflow.accounts import signin as accounts
from workflow.accounts.signin import PERSON_FAILURES, SESSION_IDLE, SESSION_LIFETIME, set_password
from workflow.accounts.tokens import create_token

PASSWORD = "琼江 correct horse 2026"
ISSUE = {"title": "白马镇段排污口", "category": "domestic_sewage", "segment": "qj-baima"}


@pytest.fixture(autouse=True)
def quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id at its cheapest: these tests are about the HTTP side, not the hash's cost."""
    monkeypatch.setattr(accounts, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def client(sqlite_world: World) -> Iterator[TestClient]:
    """A browser-like client (it keeps cookies) for an app where the reporter has a password."""
    set_password(sqlite_world.app.uow(), REPORTER, PASSWORD)
    with TestClient(create_api(sqlite_world.app)) as test_client:
        yield test_client


def sign_in(client: TestClient, person: str = REPORTER, password: str = PASSWORD) -> str:
    """Sign in; returns the CSRF token (the cookie stays in the client)."""
    answer = client.post("/api/v1/session", json={"person": person, "password": password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["csrf_token"])


def cookie_attributes(header: str) -> dict[str, str]:
    """A Set-Cookie header's attributes, lower-cased names."""
    _, *attributes = (part.strip() for part in header.split(";"))
    return {name.lower(): value for name, _, value in (a.partition("=") for a in attributes)}


def test_signing_in_sets_an_http_only_lax_cookie_and_returns_who_and_the_csrf_token(
    sqlite_world: World, client: TestClient
) -> None:
    answer = client.post("/api/v1/session", json={"person": REPORTER, "password": PASSWORD})
    assert answer.status_code == 200
    body = answer.json()
    assert body["person"] == REPORTER
    assert body["role"] == "chief"
    assert body["jurisdiction"] == {"code": "500152102", "name": "太安镇"}
    assert body["name"] == sqlite_world.actor(REPORTER).name
    (set_cookie,) = answer.headers.get_list("set-cookie")
    assert set_cookie.startswith("rc_session=")
    attributes = cookie_attributes(set_cookie)
    assert attributes["max-age"] == str(int(SESSION_LIFETIME.total_seconds())) == "43200"
    assert (attributes["path"], attributes["samesite"].lower()) == ("/", "lax")
    assert "httponly" in attributes
    assert "secure" not in attributes  # plain http, and the settings do not ask for it
    assert answer.headers["cache-control"] == "no-store"
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["csrf_token"] == body["csrf_token"]


@pytest.mark.parametrize(("base_url", "setting"), [("https://testserver", False), ("http://testserver", True)])
def test_the_cookie_is_secure_over_https_or_when_the_settings_say_so(
    sqlite_world: World, base_url: str, setting: bool
) -> None:
    set_password(sqlite_world.app.uow(), REPORTER, PASSWORD)
    sqlite_world.app.settings.cookie_secure = setting
    with TestClient(create_api(sqlite_world.app), base_url=base_url) as client:
        answer = client.post("/api/v1/session", json={"person": REPORTER, "password": PASSWORD})
    assert "secure" in cookie_attributes(answer.headers["set-cookie"])


def test_bad_credentials_get_401_alike_and_set_no_cookie(client: TestClient) -> None:
    wrong = client.post("/api/v1/session", json={"person": REPORTER, "password": PASSWORD + "!"})
    unknown = client.post("/api/v1/session", json={"person": "nobody-here", "password": PASSWORD})
    no_password_yet = client.post("/api/v1/session", json={"person": COORDINATOR, "password": PASSWORD})
    for refused in (wrong, unknown, no_password_yet):
        assert refused.status_code == 401
        assert refused.json() == wrong.json()
        assert "set-cookie" not in refused.headers
    missing = client.post("/api/v1/session", json={"person": REPORTER})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "password"]
    assert client.get("/api/v1/me").status_code == 401


def test_after_too_many_failures_even_the_right_password_gets_429_until_retry_after(
    sqlite_world: World, client: TestClient
) -> None:
    for _ in range(PERSON_FAILURES):
        assert client.post("/api/v1/session", json={"person": REPORTER, "password": "guess-guess"}).status_code == 401
    throttled = client.post("/api/v1/session", json={"person": REPORTER, "password": PASSWORD})
    assert throttled.status_code == 429
    assert throttled.json()["error"] == "Throttled"
    assert "set-cookie" not in throttled.headers
    wait = int(throttled.headers["Retry-After"])
    assert wait == 15 * 60  # every failure came at the same frozen moment
    sqlite_world.clock.advance(seconds=wait - 1)
    assert client.post("/api/v1/session", json={"person": REPORTER, "password": PASSWORD}).status_code == 429
    sqlite_world.clock.advance(seconds=1)
    assert client.post("/api/v1/session", json={"person": REPORTER, "password": PASSWORD}).status_code == 200


def test_me_names_the_person_their_compacts_and_the_csrf_token_only_for_a_session(
    sqlite_world: World, client: TestClient
) -> None:
    csrf = sign_in(client)
    mine = client.get("/api/v1/me").json()
    assert (mine["code"], mine["role"], mine["csrf_token"]) == (REPORTER, "chief", csrf)
    assert mine["jurisdiction"]["name"] == "太安镇"
    assert [c["code"] for c in mine["compacts"]["member_of"]] == ["QJ"]
    _, token = create_token(sqlite_world.app.uow(), COORDINATOR, "script")
    client.cookies.clear()
    theirs = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert theirs["code"] == COORDINATOR
    assert [c["code"] for c in theirs["compacts"]["coordinates"]] == ["QJ"]
    assert "csrf_token" not in theirs


def test_a_cookie_post_needs_the_sessions_csrf_token(sqlite_world: World, client: TestClient) -> None:
    csrf = sign_in(client)
    before = sqlite_world.counts()
    forged = client.post("/api/v1/issues", json=ISSUE)
    assert forged.status_code == 403
    assert forged.json()["error"] == "CsrfRefused"
    assert "X-CSRF-Token" in forged.json()["detail"]
    wrong = client.post("/api/v1/issues", json=ISSUE, headers={"X-CSRF-Token": csrf[::-1]})
    assert wrong.status_code == 403
    other_session = TestClient(client.app)
    other_csrf = sign_in(other_session)
    borrowed = client.post("/api/v1/issues", json=ISSUE, headers={"X-CSRF-Token": other_csrf})
    assert borrowed.status_code == 403
    after = sqlite_world.counts()
    assert after.pop("web_session") == before.pop("web_session") + 1
    after.pop("login_attempt")
    before.pop("login_attempt")
    assert after == before
    assert client.get("/api/v1/issues").status_code == 200  # reading needs no token
    made = client.post("/api/v1/issues", json=ISSUE, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201
    assert made.json()["state"] == "xun.reported"


def test_an_issue_and_its_steps_know_a_session_and_a_step_needs_its_csrf_token(
    sqlite_world: World, client: TestClient
) -> None:
    code = sqlite_world.report()
    csrf = sign_in(client)
    read = client.get(f"/api/v1/issues/{code}")  # reading needs no CSRF token
    assert read.status_code == 200, read.text
    assert "hand_off" in read.json()["allowed_triggers"]
    step = {"trigger": "hand_off", "payload": {"receiving": RECEIVING_CODE}, "expected_version": 1}
    before = sqlite_world.counts()
    forged = client.post(f"/api/v1/issues/{code}/transitions", json=step)
    assert (forged.status_code, forged.json()["error"]) == (403, "CsrfRefused")
    wrong = client.post(f"/api/v1/issues/{code}/transitions", json=step, headers={"X-CSRF-Token": csrf[::-1]})
    assert (wrong.status_code, wrong.json()["error"]) == (403, "CsrfRefused")
    assert sqlite_world.counts() == before
    moved = client.post(f"/api/v1/issues/{code}/transitions", json=step, headers={"X-CSRF-Token": csrf})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["state"], moved.json()["version"]) == ("ban.handed_off", 2)


def test_a_bearer_post_needs_no_csrf_token_even_beside_a_cookie(sqlite_world: World, client: TestClient) -> None:
    sign_in(client)
    _, token = create_token(sqlite_world.app.uow(), REPORTER, "phone")
    made = client.post("/api/v1/issues", json=ISSUE, headers={"Authorization": f"Bearer {token}"})
    assert made.status_code == 201


def test_an_html_form_may_carry_the_csrf_token_as_a_field(sqlite_world: World, client: TestClient) -> None:
    from PIL import Image

    code = sqlite_world.report()
    csrf = sign_in(client)
    image = io.BytesIO()
    Image.new("RGB", (32, 24), (40, 90, 120)).save(image, "PNG")
    files = {"file": ("排口.png", image.getvalue(), "image/png")}
    without = client.post(f"/api/v1/issues/{code}/attachments", files=files, data={"caption": "排口"})
    assert without.status_code == 403
    wrong = client.post(f"/api/v1/issues/{code}/attachments", files=files, data={"csrf_token": csrf[:-2]})
    assert wrong.status_code == 403
    sent = client.post(f"/api/v1/issues/{code}/attachments", files=files, data={"csrf_token": csrf, "caption": "排口"})
    assert sent.status_code == 201, sent.text
    assert sent.json()["content_type"] == "image/png"


def test_signing_out_needs_the_csrf_token_clears_the_cookie_and_ends_the_session(client: TestClient) -> None:
    csrf = sign_in(client)
    cookie = client.cookies["rc_session"]
    assert client.delete("/api/v1/session").status_code == 403
    assert client.get("/api/v1/me").status_code == 200
    out = client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert cookie_attributes(out.headers["set-cookie"])["max-age"] == "0"
    assert "rc_session" not in client.cookies
    client.cookies.set("rc_session", cookie)  # a copy kept somewhere no longer works
    refused = client.get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"


def test_an_idle_session_cookie_gets_401(sqlite_world: World, client: TestClient) -> None:
    sign_in(client)
    sqlite_world.clock.advance(seconds=SESSION_IDLE.total_seconds() - 60)
    assert client.get("/api/v1/me").status_code == 200
    sqlite_world.clock.advance(seconds=SESSION_IDLE.total_seconds() - 60)
    assert client.get("/api/v1/me").status_code == 200
    sqlite_world.clock.advance(seconds=SESSION_IDLE.total_seconds())
    assert client.get("/api/v1/me").status_code == 401


def test_nothing_sent_gets_401_asking_for_a_sign_in_or_a_token(client: TestClient) -> None:
    refused = client.get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert "POST /api/v1/session" in refused.json()["detail"]


def test_a_password_set_on_the_command_line_from_stdin_signs_in(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.ok("init")
    cli.ok("load", str(DATA))
    short = cli("password", "set", REPORTER, "--stdin", input="short\n")
    assert short.returncode == 3
    lines = [line for line in short.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("error: password: 至少 10 个字符")
    out = cli.ok("password", "set", REPORTER, "--stdin", input=PASSWORD + "\n")
    assert f"password set for {REPORTER}" in out
    wired = bootstrap(Settings(database_url=f"sqlite:///{cli.database}", data_dir=tmp_path))
    try:
        with TestClient(create_api(wired)) as client:
            assert sign_in(client)
            assert client.get("/api/v1/me").json()["code"] == REPORTER
            wrong = client.post("/api/v1/session", json={"person": REPORTER, "password": PASSWORD + "\n"})
            assert wrong.status_code == 401
    finally:
        wired.engine.dispose()


def test_the_password_prompt_asks_twice_and_signs_out_the_persons_sessions(
    sqlite_world: World, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from riverchief import cli

    sign_in(client)
    monkeypatch.setattr(cli, "_app", lambda: sqlite_world.app)
    new = "a new one for 2026"
    done = CliRunner().invoke(cli.app, ["password", "set", REPORTER], input=f"{new}\n{new}x\n{new}\n{new}\n")
    assert done.exit_code == 0, done.output
    assert "do not match" in done.output
    assert new not in done.output
    assert f"password set for {REPORTER}; 1 session(s) signed out" in done.output
    assert client.get("/api/v1/me").status_code == 401
    assert sign_in(client, password=new)
