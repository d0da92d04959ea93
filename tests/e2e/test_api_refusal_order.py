"""A request through ``Access.answer`` is refused for who sends it before anything about what it sends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import World
from web.api import create_api


@pytest.fixture
def client(sqlite_world: World) -> Iterator[TestClient]:
    with TestClient(create_api(sqlite_world.app)) as c:
        yield c


def test_an_upload_without_a_token_is_refused_as_such_before_its_size_or_kind_is_judged(client: TestClient) -> None:
    photo = b"\xff\xd8\xff\xe0" + b"\x00" * 64  # a JPEG: a track upload refuses it as 415, once it knows who sent it
    for headers in ({}, {"Authorization": "Bearer rc_not-a-token"}):
        refused = client.post(
            "/api/v1/patrols/upload",
            files={"file": ("track.gpx", photo, "application/gpx+xml")},
            data={"segment": "qj-taian"},
            headers=headers,
        )
        assert refused.status_code == 401, refused.text


def test_a_list_with_bad_filters_from_an_unknown_caller_is_refused_as_unauthenticated(client: TestClient) -> None:
    refused = client.get("/api/v1/issues?limit=0&from=1800-01-01", headers={"Authorization": "Bearer rc_nobody"})
    assert refused.status_code == 401, refused.text
