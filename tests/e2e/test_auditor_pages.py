"""The auditor's queue (第三方回访): due and overdue revisits are theirs to do now, each said late by working
days, and started from the list."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.factories import AUDITOR, World, walk_to
from web.api import create_api
from workflow.accounts.signin import set_password

PASSWORD = "琼江清水长流-2026"


@pytest.fixture
def client(sqlite_world: World) -> Iterator[TestClient]:
    set_password(sqlite_world.app.uow(), AUDITOR, PASSWORD)
    with TestClient(create_api(sqlite_world.app)) as test_client:
        yield test_client


def sign_in(client: TestClient) -> None:
    answer = client.post("/login", data={"person": AUDITOR, "password": PASSWORD, "next": "/"}, follow_redirects=False)
    assert answer.status_code == 303


def test_an_overdue_revisit_is_in_the_auditors_queue_said_late_and_started_from_it(
    sqlite_world: World, client: TestClient
) -> None:
    code = sqlite_world.report()
    walk_to(sqlite_world, code, "close")  # closure plans the revisits (30 and 90 days for sewage)
    sqlite_world.clock.advance(seconds=timedelta(days=45).total_seconds())
    sign_in(client)
    page = client.get("/revisits")
    assert page.status_code == 200
    queue = re.search(r'data-testid="list-due">(.*?)</ul>', page.text, re.S)
    assert queue is not None
    assert code in queue.group(1)
    late = re.search(rf'data-testid="late-{code}">逾期 (\d+) 个工作日', page.text)
    assert late is not None
    assert 5 <= int(late.group(1)) <= 15  # 15 days past the 30-day plan, counted in working days
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    version = re.search(rf'action="/revisits/{code}/start">.*?name="expected_version" value="(\d+)"', page.text, re.S)
    assert token is not None
    assert version is not None
    started = client.post(
        f"/revisits/{code}/start",
        data={"csrf_token": token.group(1), "expected_version": version.group(1)},
        follow_redirects=False,
    )
    assert started.status_code == 303
    assert sqlite_world.issue(code).state == "du.revisiting"
    again = client.get("/revisits").text
    assert f'data-testid="start-{code}"' not in again
    assert "回访中" in again
    # Under way, it is listed once: as under way, no longer as due.
    assert f'data-code="{code}"' not in again
    under_way = re.search(r'data-testid="list-revisiting">(.*?)</ul>', again, re.S)
    assert under_way is not None
    assert code in under_way.group(1)


def test_an_issue_with_two_revisits_come_due_has_one_start_button_saying_it_covers_both(
    sqlite_world: World, client: TestClient
) -> None:
    code = sqlite_world.report()
    walk_to(sqlite_world, code, "close")  # the 30- and 90-day revisits of sewage
    sqlite_world.clock.advance(seconds=timedelta(days=120).total_seconds())
    sign_in(client)
    page = client.get("/revisits").text
    assert page.count(f'data-testid="start-{code}"') == 1
    assert re.search(rf'data-testid="more-{code}">另有 1 次计划回访也已到期', page)
    assert "计划中的回访" in page
