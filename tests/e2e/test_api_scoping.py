"""Scoping across compacts: a report's segment belongs to its compact, and the figures default to the caller's own.

A second compact, 汉江 (HJ), sits beside the demo's 琼江 (QJ), with a river segment
of its own; the QJ coordinator also coordinates HJ, so serves two compacts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.test_api import auth
from tests.factories import COORDINATOR, REPORTER, World
from web.api import create_api
from workflow.core.reference import load, parse_text

HANJIANG = """
jurisdictions:
  - code: "420000"
    name: 湖北省
    level: province
    children:
      - {code: "420100", name: 武汉市, level: city}
      - {code: "420600", name: 襄阳市, level: city}
      - {code: "420900", name: 孝感市, level: city}
people:
  - {code: wh-chief, name: 武汉河长, role: chief, jurisdiction: "420100"}
  - {code: hj-coord, name: 汉江协调人, role: coordinator}
compacts:
  - {code: HJ, name: 汉江协作, members: ["420100", "420600"], coordinators: [hj-coord, qj-coord]}
rivers:
  - code: hanjiang
    name: 汉江
    segments:
      - {code: hj-wuhan, name: 汉江武汉段, jurisdiction: "420100", chief: wh-chief}
      - {code: hj-xiaogan, name: 汉江孝感段, jurisdiction: "420900"}
"""

FIGURES = ("handed_over", "accepted", "closed", "overdue", "parties")


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    load(world.app.uow(), parse_text(HANJIANG, "yaml"))
    with TestClient(create_api(world.app)) as test_client:
        yield test_client


def new_issue(**fields: Any) -> dict[str, Any]:
    return {"compact": "QJ", "title": "白马镇段排污口", "category": "domestic_sewage", **fields}


# -- a report's segment ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("segment", ["hj-wuhan", "hj-xiaogan"], ids=["another compact's", "no compact's"])
def test_a_segment_outside_the_reports_compact_is_refused_naming_segment(
    world: World, client: TestClient, segment: str
) -> None:
    headers = auth(world, REPORTER)
    before = world.counts()

    refused = client.post("/api/v1/issues", json=new_issue(segment=segment), headers=headers)

    assert refused.status_code == 422, refused.text
    assert [f["field"] for f in refused.json()["fields"]] == ["segment"]
    assert "QJ" in refused.json()["fields"][0]["reason"]
    assert world.counts() == before


def test_a_segment_of_the_reports_own_compact_is_taken(world: World, client: TestClient) -> None:
    mine = client.post("/api/v1/issues", json=new_issue(segment="qj-baima"), headers=auth(world, REPORTER))
    assert mine.status_code == 201, mine.text
    theirs = client.post(
        "/api/v1/issues", json=new_issue(compact="HJ", segment="hj-wuhan"), headers=auth(world, "wh-chief")
    )
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["code"].startswith("HJ-")


# -- the figures' default compact ------------------------------------------------------------------------------


def test_stats_default_to_the_only_compact_of_a_caller_outside_qj(world: World, client: TestClient) -> None:
    answer = client.get("/api/v1/stats", headers=auth(world, "hj-coord"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["compact"] == "HJ"
    assert all(key in answer.json() for key in FIGURES)


def test_stats_answer_for_each_compact_of_a_caller_in_several(world: World, client: TestClient) -> None:
    world.fire(world.report(), "hand_off", REPORTER, receiving="510904101")
    headers = auth(world, COORDINATOR)

    both = client.get("/api/v1/stats", params={"from": "2026-03-01", "to": "2026-04-01"}, headers=headers)

    assert both.status_code == 200, both.text
    body = both.json()
    assert [c["compact"] for c in body["compacts"]] == ["HJ", "QJ"]
    assert (body["from"], body["to"]) == ("2026-03-01T00:00:00+08:00", "2026-04-01T00:00:00+08:00")
    assert [c["handed_over"] for c in body["compacts"]] == [0, 1]
    assert all(key in c for c in body["compacts"] for key in FIGURES)
    one = client.get(
        "/api/v1/stats", params={"compact": "QJ", "from": "2026-03-01", "to": "2026-04-01"}, headers=headers
    )
    assert one.json() == body["compacts"][1]  # naming one gives that compact's answer, as before


def test_stats_for_a_caller_in_one_compact_keep_their_shape(world: World, client: TestClient) -> None:
    answer = client.get("/api/v1/stats", headers=auth(world, REPORTER))
    assert answer.status_code == 200, answer.text
    assert answer.json()["compact"] == "QJ"
    assert "compacts" not in answer.json()


@pytest.mark.parametrize(("person", "compact"), [("wh-chief", "QJ"), (REPORTER, "HJ"), (REPORTER, "XX")])
def test_stats_of_a_compact_the_caller_cannot_see_are_not_found(
    world: World, client: TestClient, person: str, compact: str
) -> None:
    assert client.get("/api/v1/stats", params={"compact": compact}, headers=auth(world, person)).status_code == 404


def test_the_stats_route_documents_its_default_and_its_shapes(client: TestClient) -> None:
    described = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/stats"]["get"]["description"]
    assert "compacts" in described
    assert "one compact" in described
