"""``Idempotency-Key`` on creates: a draft sent twice creates one issue, on both databases, even at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.e2e.test_api_race import WAIT, Server, bearer, served  # noqa: F401 (a fixture)
from tests.factories import REPORTER, World
from web.api import create_api
from workflow.core.models import Event, IdempotencyKey, Issue

REPORT = {
    "compact": "QJ",
    "title": "白马河左岸排污口",
    "category": "industrial_discharge",
    "lon": 105.62,
    "lat": 30.18,
}


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_api(world.app)) as test_client:
        yield test_client


def counts(world: World) -> tuple[int, int, int]:
    """Issues, ledger events and stored keys."""
    with world.app.uow() as uow:
        return tuple(  # type: ignore[return-value]
            uow.connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (Issue, Event, IdempotencyKey)
        )


def test_the_same_report_sent_again_with_its_key_creates_one_issue(world: World, client: TestClient) -> None:
    headers = bearer(world, REPORTER) | {"Idempotency-Key": "draft-7f3a"}
    before = counts(world)
    first = client.post("/api/v1/issues", json=REPORT, headers=headers)
    assert first.status_code == 201, first.text
    after_first = counts(world)
    again = client.post("/api/v1/issues", json=REPORT, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert counts(world) == after_first
    assert after_first[0] == before[0] + 1
    assert after_first[2] == before[2] + 1


def test_without_a_key_each_report_is_new(world: World, client: TestClient) -> None:
    headers = bearer(world, REPORTER)
    codes = {client.post("/api/v1/issues", json=REPORT, headers=headers).json()["code"] for _ in range(2)}
    assert len(codes) == 2


def test_a_key_reused_for_another_body_is_refused_naming_the_header(world: World, client: TestClient) -> None:
    headers = bearer(world, REPORTER) | {"Idempotency-Key": "draft-1"}
    assert client.post("/api/v1/issues", json=REPORT, headers=headers).status_code == 201
    before = counts(world)
    other = client.post("/api/v1/issues", json=REPORT | {"title": "另一处垃圾堆放"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["fields"][0]["field"] == "Idempotency-Key"
    assert counts(world) == before


@pytest.mark.parametrize("key", [b"", "键".encode(), b"a b", b"x" * 101])
def test_a_malformed_key_is_refused_and_nothing_is_made(world: World, client: TestClient, key: bytes) -> None:
    before = counts(world)
    headers = [(name.encode(), value.encode()) for name, value in bearer(world, REPORTER).items()]
    answer = client.post("/api/v1/issues", json=REPORT, headers=[*headers, (b"Idempotency-Key", key)])
    assert answer.status_code == 422, answer.text
    assert answer.json()["fields"][0]["field"] == "Idempotency-Key"
    assert counts(world) == before


def test_a_refused_report_keeps_no_key_so_the_corrected_one_goes_through(world: World, client: TestClient) -> None:
    headers = bearer(world, REPORTER) | {"Idempotency-Key": "draft-2"}
    bad = client.post("/api/v1/issues", json=REPORT | {"category": "no-such"}, headers=headers)
    assert bad.status_code == 422
    headers_again = headers
    good = client.post("/api/v1/issues", json=REPORT, headers=headers_again)
    assert good.status_code == 201, good.text


def test_keys_are_per_person(world: World, client: TestClient) -> None:
    key = {"Idempotency-Key": "same-key"}
    one = client.post("/api/v1/issues", json=REPORT, headers=bearer(world, REPORTER) | key)
    other = client.post("/api/v1/issues", json=REPORT, headers=bearer(world, "tn-office") | key)
    assert one.status_code == other.status_code == 201
    assert one.json()["code"] != other.json()["code"]


@pytest.mark.slow
def test_the_same_draft_sent_at_once_from_two_connections_creates_one_issue(
    world: World,
    served: Server,  # noqa: F811 (the fixture)
) -> None:
    headers = bearer(world, REPORTER)
    before = counts(world)
    for round_ in range(5):
        barrier = threading.Barrier(3, timeout=WAIT)
        answers: list[httpx.Response] = []
        key = {"Idempotency-Key": f"race-{round_}"}

        def post(barrier: threading.Barrier, answers: list[httpx.Response], key: dict[str, str]) -> None:
            with httpx.Client(base_url=served.base_url, timeout=WAIT) as http:
                barrier.wait()
                answers.append(http.post("/api/v1/issues", json=REPORT, headers=headers | key))

        threads = [threading.Thread(target=post, args=(barrier, answers, key)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
        bodies: list[dict[str, Any]] = [a.json() for a in answers]
        assert bodies[0] == bodies[1] == bodies[2]
        assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 2
    issues, _, keys = counts(world)
    assert (issues, keys) == (before[0] + 5, before[2] + 5)
