"""A report made offline, sent later: observed_at checked and kept; its photos resent add nothing; keys pruned."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from riverchief.scheduler import JOBS_BY_NAME
from states.policy import IDEMPOTENCY_KEEP_DAYS
from tests.e2e.test_api_race import bearer
from tests.factories import REPORTER, START, World, blank_png
from web.api import create_api
from web.pages.offline import WORKER_POLICY, shell_version, worker_script
from workflow.accounts.signin import set_password
from workflow.core.clock import FrozenClock
from workflow.core.models import Attachment, Event, IdempotencyKey, Issue
from workflow.jobs.prunes import prune_idempotency_keys

REPORT = {
    "compact": "QJ",
    "title": "断电时看到的排污口",
    "category": "industrial_discharge",
    "lon": 105.62,
    "lat": 30.18,
}
PASSWORD = "琼江清水长流-2026"


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_api(world.app)) as test_client:
        yield test_client


def count(world: World, table: type) -> int:
    with world.app.uow() as uow:
        return int(uow.connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_a_report_says_when_the_problem_was_seen_in_the_issue_the_ledger_and_the_api(
    world: World, client: TestClient
) -> None:
    seen = START - timedelta(hours=2, minutes=15)
    headers = bearer(world, REPORTER)
    answer = client.post("/api/v1/issues", json=REPORT | {"observed_at": seen.isoformat()}, headers=headers)
    assert answer.status_code == 201, answer.text
    code = answer.json()["code"]

    view = client.get(f"/api/v1/issues/{code}", headers=headers).json()
    assert view["observed_at"] is not None
    assert view["observed_at"] != view["created_at"]
    assert datetime.fromisoformat(view["observed_at"]) == seen
    assert datetime.fromisoformat(view["created_at"]) == START
    (report,) = [e for e in world.events(code) if e.trigger == "report"]
    assert datetime.fromisoformat(report.payload["observed_at"]) == seen


def test_without_observed_at_the_issue_has_none(world: World, client: TestClient) -> None:
    headers = bearer(world, REPORTER)
    code = client.post("/api/v1/issues", json=REPORT, headers=headers).json()["code"]
    assert client.get(f"/api/v1/issues/{code}", headers=headers).json()["observed_at"] is None
    (report,) = [e for e in world.events(code) if e.trigger == "report"]
    assert "observed_at" not in report.payload


@pytest.mark.parametrize(
    ("observed_at", "reason"),
    [
        ("2026-03-02T08:00:00", "offset"),  # no offset: whose eight o'clock?
        ((START + timedelta(minutes=6)).isoformat(), "future"),
        ((START - timedelta(days=30, minutes=1)).isoformat(), "days ago"),
        ("yesterday at dusk", ""),
    ],
)
def test_an_observed_at_without_an_offset_in_the_future_or_too_old_is_refused_naming_it(
    world: World, client: TestClient, observed_at: str, reason: str
) -> None:
    before = (count(world, Issue), count(world, Event), count(world, IdempotencyKey))
    headers = bearer(world, REPORTER) | {"Idempotency-Key": "draft-bad-time"}
    answer = client.post("/api/v1/issues", json=REPORT | {"observed_at": observed_at}, headers=headers)
    assert answer.status_code == 422, answer.text
    if reason:
        (field,) = answer.json()["fields"]
        assert (field["field"], reason in field["reason"]) == ("observed_at", True)
    else:  # not a time at all: refused while the body is read, with the field's place
        assert [e["loc"][-1] for e in answer.json()["detail"]] == ["observed_at"]
    assert (count(world, Issue), count(world, Event), count(world, IdempotencyKey)) == before


def test_a_phone_clock_a_few_minutes_fast_and_a_draft_a_month_old_are_accepted(
    world: World, client: TestClient
) -> None:
    headers = bearer(world, REPORTER)
    for seen in (START + timedelta(minutes=4), START - timedelta(days=29, hours=23)):
        answer = client.post("/api/v1/issues", json=REPORT | {"observed_at": seen.isoformat()}, headers=headers)
        assert answer.status_code == 201, answer.text


def test_the_issue_page_shows_when_it_was_seen_beside_when_it_was_reported_only_when_they_differ(
    world: World, client: TestClient
) -> None:
    headers = bearer(world, REPORTER)
    late = client.post(
        "/api/v1/issues", json=REPORT | {"observed_at": "2026-03-02T06:40:00+08:00"}, headers=headers
    ).json()["code"]
    at_once = client.post("/api/v1/issues", json=REPORT | {"observed_at": START.isoformat()}, headers=headers).json()[
        "code"
    ]
    set_password(world.app.uow(), REPORTER, PASSWORD)
    client.post("/login", data={"person": REPORTER, "password": PASSWORD, "next": "/"})
    page = client.get(f"/issues/{late}").text
    assert '<dt>发现时间</dt><dd data-testid="observed-at">2026-03-02 06:40</dd>' in page
    assert '<dt>上报时间</dt><dd data-testid="reported-at">2026-03-02 09:00</dd>' in page
    same = client.get(f"/issues/{at_once}").text
    assert 'data-testid="reported-at"' in same
    assert "发现时间" not in same


def test_a_photo_sent_again_after_a_lost_answer_adds_no_second_attachment(world: World, client: TestClient) -> None:
    headers = bearer(world, REPORTER)
    code = client.post("/api/v1/issues", json=REPORT, headers=headers).json()["code"]
    photo = blank_png(40, 30)
    first = client.post(f"/api/v1/issues/{code}/attachments", files={"file": ("a.png", photo)}, headers=headers)
    again = client.post(f"/api/v1/issues/{code}/attachments", files={"file": ("a.png", photo)}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert (first.json()["new"], again.json()["new"]) == (True, False)
    assert again.json()["sha256"] == first.json()["sha256"]
    assert count(world, Attachment) == 1
    assert [e.trigger for e in world.events(code)].count("add_evidence") == 1


def test_the_daily_prune_removes_idempotency_keys_older_than_they_are_kept(
    world: World, client: TestClient, clock: FrozenClock
) -> None:
    headers = bearer(world, REPORTER)
    for key in ("old", "edge", "new"):
        body = REPORT | {"title": f"草稿 {key}"}
        assert client.post("/api/v1/issues", json=body, headers=headers | {"Idempotency-Key": key}).status_code == 201
        clock.advance(days=1 if key == "old" else 2)
    # The keys were stored at START, START+1 day and START+3 days.
    now = START + timedelta(days=IDEMPOTENCY_KEEP_DAYS, hours=12)
    assert prune_idempotency_keys(world.app.uow(), now) == {"idempotency_keys": 1}
    with world.app.uow() as uow:
        left = set(uow.connection.execute(sa.select(IdempotencyKey.key)).scalars())  # type: ignore[call-overload]
    assert left == {"edge", "new"}
    assert prune_idempotency_keys(world.app.uow(), now) == {"idempotency_keys": 0}
    # A key pruned is free again: the same request makes a new issue.
    clock.set(now)
    issues = count(world, Issue)
    body = REPORT | {"title": "草稿 old"}
    assert client.post("/api/v1/issues", json=body, headers=headers | {"Idempotency-Key": "old"}).status_code == 201
    assert count(world, Issue) == issues + 1


# -- the service worker's script --------------------------------------------------------------------------


def test_the_worker_is_served_from_the_root_uncached_with_the_shell_and_a_policy_that_lets_it_fetch(
    sqlite_world: World,
) -> None:
    with TestClient(create_api(sqlite_world.app)) as plain:
        answer = plain.get("/sw.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/javascript")
    assert answer.headers["cache-control"] == "no-cache"
    # Its own policy (a worker runs under its script's): the site's own pages and files, nothing else.
    assert answer.headers["content-security-policy"] == WORKER_POLICY
    assert "__SHELL" not in answer.text
    assert f'const VERSION = "{shell_version()}";' in answer.text
    shell = json.loads(answer.text.split("const SHELL = ", 1)[1].split(";", 1)[0])
    assert {"/static/app.css", "/static/app.js", "/static/drafts.js", "/report"} <= set(shell)
    assert "/static/sw.js" not in shell


def test_the_shell_version_changes_with_any_static_file(tmp_path: Path) -> None:
    for name, text in (("sw.js", 'const VERSION = "__SHELL_VERSION__";'), ("app.js", "a"), ("app.css", "b")):
        (tmp_path / name).write_text(text)
    before = shell_version(tmp_path)
    assert shell_version(tmp_path) == before
    (tmp_path / "app.css").write_text("b ")
    assert shell_version(tmp_path) != before
    assert before not in worker_script(tmp_path).decode()


def test_the_daily_prune_job_of_the_scheduler_prunes_the_keys_with_the_sign_in_records(
    world: World, client: TestClient
) -> None:
    headers = bearer(world, REPORTER) | {"Idempotency-Key": "draft-long-ago"}
    assert client.post("/api/v1/issues", json=REPORT, headers=headers).status_code == 201
    later = START + timedelta(days=IDEMPOTENCY_KEEP_DAYS + 1)
    ran = JOBS_BY_NAME["account_prune"].work(world.app, later, "unused")
    assert ran["idempotency_keys"] == 1
    assert {"attempts", "sessions"} <= set(ran)
    assert count(world, IdempotencyKey) == 0
