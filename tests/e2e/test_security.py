"""Security headers on pages, the API and the docs; no inline script; the client's address from trusted proxies only."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from riverchief.demo.play import DATA
from tests.factories import REPORTER, Cli, World
from web.api import create_api
from workflow.accounts import signin as accounts
from workflow.accounts.tokens import create_token
from workflow.core.models import LoginAttempt, table_of

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
WRONG = {"person": REPORTER, "password": "wrong-wrong-wrong"}


@pytest.fixture(autouse=True)
def quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id at its cheapest: these tests are about addresses and headers, not the hash."""
    monkeypatch.setattr(accounts, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def client(sqlite_world: World) -> Iterator[TestClient]:
    with TestClient(create_api(sqlite_world.app)) as test_client:
        yield test_client


def policy(answer: httpx.Response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: sources}."""
    directives = (part.split() for part in answer.headers["content-security-policy"].split(";") if part.strip())
    return {name: sources for name, *sources in directives}


def framing_and_referrer_are_refused(answer: httpx.Response) -> None:
    assert answer.headers["x-frame-options"] == "DENY"
    assert policy(answer)["frame-ancestors"] == ["'none'"]
    assert answer.headers["referrer-policy"] == "same-origin"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_page_runs_only_the_sites_own_script_files_and_may_not_be_framed(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    framing_and_referrer_are_refused(page)
    found = policy(page)
    assert found["script-src"] == ["'self'"]
    assert found["default-src"] == ["'self'"]
    assert found["object-src"] == found["base-uri"] == ["'none'"]
    assert '<script src="/static/app.js"' in page.text


def test_the_apis_json_carries_a_policy_that_runs_nothing_and_still_answers(
    sqlite_world: World, client: TestClient
) -> None:
    refused = client.get("/api/v1/issues")
    assert refused.status_code == 401
    assert refused.json()["error"] == "Unauthenticated"
    _, token = create_token(sqlite_world.app.uow(), REPORTER, "test")
    listed = client.get("/api/v1/issues", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    assert listed.json() == {"items": [], "next_cursor": None}
    for answer in (refused, listed, client.get("/api/v1/openapi.json")):
        framing_and_referrer_are_refused(answer)
        assert policy(answer)["default-src"] == ["'none'"]


def test_the_docs_page_may_load_exactly_what_it_names_and_its_own_inline_script(client: TestClient) -> None:
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    framing_and_referrer_are_refused(docs)
    found = policy(docs)
    assert found["default-src"] == ["'none'"]
    inline = re.findall(r"<script>(.*?)</script>", docs.text, re.DOTALL)
    named = re.findall(r'<script src="([^"]+)"', docs.text)
    assert inline
    assert named
    digests = [f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline]
    assert sorted(found["script-src"]) == sorted(named + digests)  # no 'unsafe-inline', no whole host
    stylesheets = re.findall(r'<link type="text/css" rel="stylesheet" href="([^"]+)"', docs.text)
    assert set(stylesheets) <= set(found["style-src"])
    assert found["connect-src"] == ["'self'"]
    assert client.get("/api/v1/openapi.json").status_code == 200


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_no_template_carries_inline_script_or_an_event_handler_attribute(template: str) -> None:
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    for tag in re.findall(r"<script\b[^>]*>", text, re.IGNORECASE):
        # A JSON data block is never run (and its contents come through |tojson, which escapes "<"; or, named
        # ..._json, were written in Python by the same htmlsafe_json_dumps, as the map's base kept between pages).
        data = re.fullmatch(r'<script type="application/json" id="[a-z-]+">', tag)
        assert re.search(r"\ssrc=", tag) or data, f"{template}: inline {tag}"
    for body in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', text, re.DOTALL):
        assert re.fullmatch(r"\{\{ ([a-z_]+\|tojson|[a-z_]+_json) \}\}", body), f"{template}: {body}"
    assert not re.findall(r"<[^>]*\son[a-z]+\s*=", text, re.IGNORECASE), template
    assert "javascript:" not in text.lower(), template


def attempt_keys(world_or_url: World | str) -> set[str]:
    """The keys sign-in attempts were counted under."""
    if isinstance(world_or_url, str):
        engine = sa.create_engine(world_or_url)
        try:
            with engine.connect() as conn:
                return set(conn.execute(sa.select(table_of(LoginAttempt).c.key)).scalars())
        finally:
            engine.dispose()
    with world_or_url.app.reader() as uow:
        return set(uow.connection.execute(sa.select(table_of(LoginAttempt).c.key)).scalars())


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(sqlite_world: World) -> None:
    with TestClient(create_api(sqlite_world.app), client=("203.0.113.5", 40000)) as client:
        answer = client.post("/api/v1/session", json=WRONG, headers={"X-Forwarded-For": "198.51.100.7"})
    assert answer.status_code == 401
    assert attempt_keys(sqlite_world) == {f"person:{REPORTER}", "addr:203.0.113.5"}


@pytest.mark.parametrize(
    ("forwarded", "counted"),
    [
        ("198.51.100.7", "198.51.100.7"),
        # The client's own claim, left of what the proxies wrote, is not believed.
        ("1.2.3.4, 198.51.100.7, 10.0.0.3", "198.51.100.7"),
        ("10.0.0.3", "10.0.0.3"),  # only proxies: the farthest one
        ("not-an-address", "10.0.0.2"),
    ],
)
def test_behind_a_trusted_proxy_the_client_is_the_first_untrusted_hop_from_the_right(
    sqlite_world: World, forwarded: str, counted: str
) -> None:
    sqlite_world.app.settings.trusted_proxies = ("10.0.0.0/8",)
    with TestClient(create_api(sqlite_world.app), client=("10.0.0.2", 40000)) as client:
        answer = client.post("/api/v1/session", json=WRONG, headers={"X-Forwarded-For": forwarded})
    assert answer.status_code == 401
    assert attempt_keys(sqlite_world) == {f"person:{REPORTER}", f"addr:{counted}"}


def test_the_sign_in_page_counts_the_same_address(sqlite_world: World) -> None:
    with TestClient(create_api(sqlite_world.app), client=("203.0.113.5", 40000)) as client:
        page = client.post(
            "/login", data={**WRONG, "next": "/"}, headers={"X-Forwarded-For": "198.51.100.7"}, follow_redirects=False
        )
    assert page.status_code == 401
    framing_and_referrer_are_refused(page)
    assert attempt_keys(sqlite_world) == {f"person:{REPORTER}", "addr:203.0.113.5"}


def test_serve_ignores_a_forwarded_for_sent_from_loopback(tmp_path: Path, sqlite_template: Path) -> None:
    # uvicorn on its own believes X-Forwarded-For from 127.0.0.1, so anyone on the machine could pick
    # the address the throttle counts; serve leaves it to RIVERCHIEF_TRUSTED_PROXIES (none here).
    cli = Cli(tmp_path)
    shutil.copyfile(sqlite_template, cli.database)
    cli.ok("load", str(DATA))
    server, base = cli.serve("--no-scheduler", "--no-dispatcher")
    try:
        answer = httpx.post(
            f"{base}/api/v1/session", json=WRONG, headers={"X-Forwarded-For": "198.51.100.7"}, timeout=10
        )
        assert answer.status_code == 401
        framing_and_referrer_are_refused(answer)
    finally:
        server.terminate()
        server.communicate(timeout=20)
    assert attempt_keys(f"sqlite:///{cli.database}") == {f"person:{REPORTER}", "addr:127.0.0.1"}
