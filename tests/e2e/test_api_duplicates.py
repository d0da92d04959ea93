"""Duplicate reports over the API: the open issues near a point, and marking one report a duplicate of another."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.test_api import OTHER_COMPACT, auth
from tests.factories import COORDINATOR, RECEIVER, RECEIVING_CODE, REPORTER, START, World, walk_to
from web.api import create_api
from workflow.core.actors import load_actor
from workflow.core.ledger import verify
from workflow.core.reference import load, parse
from workflow.reading.figures import stats
from workflow.reading.nearby import haversine_m
from workflow.reading.practice import period_figures

LON, LAT = 105.700, 30.204  # on 琼江白马镇段
NORTH_300M = 0.0027  # degrees of latitude: about 300 m
NORTH_800M = 0.0072  # about 800 m


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_api(world.app)) as test_client:
        yield test_client


def other_compact(world: World, tmp_path: Path) -> None:
    """汉江协作 beside 琼江, with its chief among the world's people."""
    extra = tmp_path / "hj.yaml"
    extra.write_text(OTHER_COMPACT, encoding="utf-8")
    load(world.app.uow(), parse(extra))
    with world.app.reader() as uow:
        world.people["wh-chief"] = load_actor(uow.session, "wh-chief")


def at(world: World, north: float = 0.0, who: str = REPORTER, **draft: Any) -> str:
    """An issue reported ``north`` degrees of latitude from the test point."""
    values: dict[str, Any] = {"lon": LON, "lat": LAT + north, "segment": "qj-baima"} | draft
    return world.report(who, **values)


def nearby(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    query = {"lon": LON, "lat": LAT, "category": "domestic_sewage"} | params
    return client.get("/api/v1/issues/nearby", params=query, headers=headers)


def nearby_codes(client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
    answer = nearby(client, headers, **params)
    assert answer.status_code == 200, answer.text
    return [item["code"] for item in answer.json()["items"]]


def test_nearby_gives_the_open_issues_of_the_category_within_the_radius_and_days_nearest_first(
    world: World, client: TestClient, tmp_path: Path
) -> None:
    other_compact(world, tmp_path)
    old = at(world)
    world.clock.advance(days=91)
    far = at(world, NORTH_800M)
    near = at(world, NORTH_300M)
    here = at(world)
    other_category = at(world, category="livestock")
    other_segment = at(world, segment="qj-taian")
    no_segment = at(world, segment=None)
    dismissed = at(world)
    world.fire(dismissed, "dismiss", REPORTER, reason="重复")
    unplaced = world.report(REPORTER)  # no position: no distance
    world.report("wh-chief", compact="HJ", title="汉江排口", lon=LON, lat=LAT, segment=None)
    headers = auth(world, REPORTER)

    answer = nearby(client, headers, segment="qj-baima")
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [i["code"] for i in items[:2]] == sorted([here, no_segment]), "the nearest first"
    assert [i["code"] for i in items] == [*sorted([here, no_segment]), near]
    assert items[0]["distance_m"] == 0
    assert items[-1]["distance_m"] == pytest.approx(round(haversine_m(LON, LAT, LON, LAT + NORTH_300M)), abs=1)
    assert 290 < items[-1]["distance_m"] < 310
    assert answer.json()["radius_m"] == 500
    assert answer.json()["days"] == 90
    for left_out in (old, far, other_category, other_segment, dismissed, unplaced):
        assert left_out not in {i["code"] for i in items}
    # Without a segment, an issue on another segment near the point is a candidate too.
    assert set(nearby_codes(client, headers)) == {here, no_segment, near, other_segment}
    assert nearby_codes(client, headers, category="livestock") == [other_category]


def test_nearby_keeps_to_the_callers_compacts_and_names_each_bad_parameter(
    world: World, client: TestClient, tmp_path: Path
) -> None:
    other_compact(world, tmp_path)
    here = at(world)
    theirs = world.report("wh-chief", compact="HJ", title="汉江排口", lon=LON, lat=LAT, segment=None)
    mine, outsider = auth(world, REPORTER), auth(world, "wh-chief")

    assert nearby_codes(client, mine, compact="QJ") == [here]
    assert nearby_codes(client, outsider) == [theirs]
    assert nearby(client, outsider, compact="QJ").status_code == 404
    assert nearby(client, mine, compact="HJ").status_code == 404
    for params, field in (
        ({"lon": 200}, "lon"),
        ({"lat": -91}, "lat"),
        ({"lat": "nan"}, "lat"),
        ({"category": "mystery"}, "category"),
        ({"segment": "no-such"}, "segment"),
    ):
        refused = nearby(client, mine, **params)
        assert refused.status_code == 422, (params, refused.text)
        assert [f["field"] for f in refused.json()["fields"]] == [field]
    missing = client.get("/api/v1/issues/nearby", params={"lon": LON, "category": "livestock"}, headers=mine)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["query", "lat"]
    # "nearby" is a route, not an issue code taken by /issues/{code}.
    assert client.get("/api/v1/issues/nearby", headers=mine).status_code == 422


def mark(client: TestClient, world: World, code: str, who: str | dict[str, str], **payload: Any) -> Any:
    """POST mark_duplicate as a person (by code, or with their headers)."""
    body = {"trigger": "mark_duplicate", "payload": {"reason": "同一排口"} | payload}
    headers = auth(world, who) if isinstance(who, str) else who
    return client.post(f"/api/v1/issues/{code}/transitions", json=body, headers=headers)


def test_marking_a_duplicate_closes_it_and_links_both_ledgers_which_still_verify(
    world: World, client: TestClient
) -> None:
    original = at(world)
    world.fire(original, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    world.clock.advance(hours=2)
    duplicate = at(world, NORTH_300M, who="sn-office")  # the other side found it too
    before = world.issue(original).version

    answer = mark(client, world, duplicate, COORDINATOR, of=original)
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "duplicate"

    row, first = world.issue(duplicate), world.issue(original)
    assert row.state == "duplicate"
    assert row.closed_at == world.clock.now()
    assert row.duplicate_of_id == first.id
    assert row.due_at is None
    assert (first.state, first.version, first.closed_at) == ("ban.handed_off", before + 1, None)
    marked, linked = world.events(duplicate)[-1], world.events(original)[-1]
    assert (marked.trigger, marked.payload) == ("mark_duplicate", {"of": original, "reason": "同一排口"})
    assert (linked.trigger, linked.from_state, linked.to_state) == ("duplicate_linked", *["ban.handed_off"] * 2)
    assert linked.payload == {"duplicate": duplicate, "reason": "同一排口"}
    assert linked.actor_code == COORDINATOR
    assert linked.occurred_at == marked.occurred_at
    with world.app.reader() as uow:
        report = verify(uow.session, issue_ids=[row.id, first.id])
    assert report.ok, [str(f) for f in report.findings]
    # Both sides of the original hear that it was reported again; the duplicate's reporter where it went.
    told = {o.kind: o for o in world.outbox(original) if o.kind == "duplicate_linked"}
    assert "duplicate_linked" in told
    assert any(o.kind == "mark_duplicate" for o in world.outbox(duplicate))
    # The duplicate is no longer a candidate, nor open to anything but a filed report.
    assert nearby_codes(client, auth(world, REPORTER)) == [original]
    seen = client.get(f"/api/v1/issues/{duplicate}", headers=auth(world, COORDINATOR)).json()
    assert seen["allowed_triggers"] == []


def test_the_original_must_be_another_open_issue_of_the_compact_and_a_refusal_changes_nothing(
    world: World, client: TestClient, tmp_path: Path
) -> None:
    other_compact(world, tmp_path)
    original, duplicate = at(world), at(world)
    merged = at(world)
    assert mark(client, world, merged, REPORTER, of=original).status_code == 200
    closed = at(world)
    walk_to(world, closed, "close")
    dismissed = at(world)
    world.fire(dismissed, "dismiss", REPORTER, reason="不属实")
    theirs = world.report("wh-chief", compact="HJ", title="汉江排口", segment=None)
    headers = auth(world, REPORTER)
    counts = world.counts()

    for of, says in (
        ("QJ-2026-9999", "no issue"),
        (duplicate, "itself"),
        (theirs, "no issue"),
        (merged, "itself a duplicate"),
        (closed, "no longer open"),
        (dismissed, "no longer open"),
    ):
        refused = mark(client, world, duplicate, headers, of=of)
        assert refused.status_code == 422, (of, refused.text)
        (named,) = refused.json()["fields"]
        assert named["field"] == "of", (of, named)
        assert says in named["reason"], (of, named)
    missing = mark(client, world, duplicate, headers, of=original, reason="")
    assert missing.status_code == 422
    assert {f["field"] for f in missing.json()["fields"]} == {"reason"}
    assert world.counts() == counts
    assert world.issue(duplicate).state == "xun.reported"


def test_who_may_mark_a_duplicate_and_that_the_original_cannot_be_linked_by_hand(
    world: World, client: TestClient
) -> None:
    original, duplicate = at(world), at(world)
    for outsider in (RECEIVER, "tl-anju", "ngo-auditor"):  # not yet a side; a member not a side; the auditor
        refused = mark(client, world, duplicate, outsider, of=original)
        assert refused.status_code == 403, (outsider, refused.text)
    world.fire(duplicate, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    # Once handed off, the receiving side owns the report: it may say it already has this problem, and the side
    # that handed it over no longer decides.
    assert mark(client, world, duplicate, REPORTER, of=original).status_code == 403
    assert mark(client, world, duplicate, RECEIVER, of=original).status_code == 200

    version = world.issue(original).version
    by_hand = client.post(
        f"/api/v1/issues/{original}/transitions",
        json={"trigger": "duplicate_linked", "payload": {"duplicate": duplicate, "reason": "再记一次"}},
        headers=auth(world, COORDINATOR),
    )
    assert by_hand.status_code == 422
    assert by_hand.json()["fields"][0]["field"] == "duplicate"
    assert world.issue(original).version == version
    offered = client.get(f"/api/v1/issues/{original}", headers=auth(world, COORDINATOR)).json()["allowed_triggers"]
    assert "duplicate_linked" not in offered
    assert "mark_duplicate" in offered


def test_a_duplicate_is_not_counted_as_a_problem_handed_over_again(world: World) -> None:
    original, duplicate = at(world), at(world, who="sn-office")
    world.fire(original, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    world.fire(duplicate, "hand_off", "sn-office", receiving="500152102")
    day = START.date()
    with world.app.reader() as uow:
        assert period_figures(uow.connection, "QJ", day, day + timedelta(days=1))["handed_over"] == 2
    world.fire(duplicate, "mark_duplicate", COORDINATOR, of=original, reason="同一排口")

    with world.app.reader() as uow:
        after = period_figures(uow.connection, "QJ", day, day + timedelta(days=1))
        figures = stats(uow.connection, "QJ", START - timedelta(hours=9), START + timedelta(days=1))
    assert after["handed_over"] == 1
    assert figures["handed_over"] == 1
    handed = {p["code"]: p["handed_over"] for p in figures["parties"]}
    assert (handed["500152"], handed["510900"]) == (1, 0), handed
