"""Patrols over the API on both databases: a swap patrol started on the phone, a problem reported from inside it
(handed to the owner side at once), ended with a paused track; batches recorded whole or not at all; uploads;
who reads what."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from riverchief.settings import Settings
from tests.e2e.test_api_race import bearer
from tests.factories import START, World
from web.api import create_api
from workflow.core.clock import SHANGHAI
from workflow.core.errors import ValidationFailed
from workflow.core.models import Issue, Jurisdiction, Patrol, PatrolIssue, Person, table_of
from workflow.patrols import records
from workflow.patrols.pairings import add_pairing
from workflow.patrols.tracks import haversine_m

PATROLLER = "tn-taian"  # 太安镇's chief: own segment qj-taian, paired onto 白马镇's qj-baima in March
OWNER = "sn-baima"
OWNER_CODE = "510904101"


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_api(world.app)) as test_client:
        yield test_client


@pytest.fixture
def pairing(world: World) -> int:
    return add_pairing(
        world.app.uow(), "QJ", PATROLLER, "qj-taian", OWNER, "qj-baima", date(2026, 3, 1), date(2026, 3, 31)
    )


def at(day: str, hour: int, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=SHANGHAI)


def iso(value: datetime) -> str:
    return value.isoformat()


def line(start: datetime, minutes: int, lat: float, points: int = 4) -> tuple[list[list[float]], list[str]]:
    """A run north along 105.70°E from ``lat``, a point every few minutes, with its times."""
    step = minutes / (points - 1)
    coordinates = [[105.70, round(lat + 0.01 * i / (points - 1), 6)] for i in range(points)]
    times = [iso(start + timedelta(minutes=step * i)) for i in range(points)]
    return coordinates, times


def feature(*runs: tuple[list[list[float]], list[str]]) -> dict[str, Any]:
    """A phone's track: one run a LineString; after a pause, a MultiLineString with a list of times per run."""
    if len(runs) == 1:
        return {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": runs[0][0]},
            "properties": {"coordTimes": runs[0][1]},
        }
    return {
        "type": "Feature",
        "geometry": {"type": "MultiLineString", "coordinates": [r[0] for r in runs]},
        "properties": {"coordTimes": [r[1] for r in runs]},
    }


def along(coordinates: list[list[float]]) -> float:
    return sum(haversine_m((a[0], a[1]), (b[0], b[1])) for a, b in itertools.pairwise(coordinates))


def count(world: World, table: Any) -> int:
    with world.app.reader() as uow:
        return int(uow.connection.execute(sa.select(sa.func.count()).select_from(table_of(table))).scalar_one())


def fields(answer: Any) -> set[str]:
    return {f["field"] for f in answer.json()["fields"]}


def test_a_swap_patrol_started_reported_from_inside_and_ended_with_a_paused_track(
    world: World, client: TestClient, pairing: int
) -> None:
    me = bearer(world, PATROLLER)
    started = client.post(
        "/api/v1/patrols", json={"segment": "qj-baima", "started_at": iso(at("2026-03-02", 8, 30))}, headers=me
    )
    assert started.status_code == 201, started.text
    patrol = started.json()
    assert (patrol["kind"], patrol["kind_label"], patrol["pairing"]) == ("swap", "交叉互巡", pairing)
    assert (patrol["under_way"], patrol["ended_at"], patrol["duration_s"]) == (True, None, None)
    assert patrol["patroller"] == {"code": PATROLLER, "name": "陈志强"}
    under_way = client.get("/api/v1/patrols", params={"under_way": "true"}, headers=me).json()["items"]
    assert [p["id"] for p in under_way] == [patrol["id"]]

    report = {"compact": "QJ", "title": "白马镇段右岸排污口", "category": "domestic_sewage", "patrol": patrol["id"]}
    reported = client.post("/api/v1/issues", json=report, headers=me)
    assert reported.status_code == 201, reported.text
    answer = reported.json()
    assert answer["state"] == "ban.handed_off"
    assert answer["handed_to"] == {"code": OWNER_CODE, "name": "白马镇"}
    assert answer["patrol"] == patrol["id"]
    with world.app.reader() as uow:
        conn = uow.connection
        issue = conn.execute(sa.select(table_of(Issue)).where(table_of(Issue).c.code == answer["code"])).one()
        reporter = conn.execute(sa.select(table_of(Person).c.code).where(table_of(Person).c.id == issue.reporter_id))
        receiving = conn.execute(
            sa.select(table_of(Jurisdiction).c.code).where(
                table_of(Jurisdiction).c.id == issue.receiving_jurisdiction_id
            )
        )
        link = conn.execute(sa.select(table_of(PatrolIssue)).where(table_of(PatrolIssue).c.issue_id == issue.id)).one()
        assert (reporter.scalar_one(), receiving.scalar_one(), link.patrol_id) == (PATROLLER, OWNER_CODE, patrol["id"])
        assert issue.segment_id is not None

    world.clock.set(at("2026-03-02", 10, 30))
    first = line(at("2026-03-02", 8, 35), 25, 30.20)
    second = line(at("2026-03-02", 9, 30), 30, 30.22)  # after a pause: a new run, the gap not walked
    ended = client.post(
        f"/api/v1/patrols/{patrol['id']}/end",
        json={"ended_at": iso(at("2026-03-02", 10, 30)), "track": feature(first, second)},
        headers=me,
    )
    assert ended.status_code == 200, ended.text
    done = ended.json()
    assert (done["under_way"], done["duration_s"]) == (False, 2 * 3600)
    assert done["length_m"] == round(along(first[0]) + along(second[0]))
    assert done["issues"] == [answer["code"]]
    read = client.get(f"/api/v1/patrols/{patrol['id']}", headers=me).json()
    assert read["track"]["type"] == "MultiLineString"
    assert [len(run) for run in read["track"]["coordinates"]] == [4, 4]

    again = client.post(
        f"/api/v1/patrols/{patrol['id']}/end", json={"ended_at": iso(at("2026-03-02", 10, 25))}, headers=me
    )
    assert again.status_code == 409, again.text
    assert client.get(f"/api/v1/patrols/{patrol['id']}", headers=me).json()["duration_s"] == 2 * 3600


def test_a_start_ahead_of_the_clock_and_a_second_patrol_under_way_are_refused(world: World, client: TestClient) -> None:
    me = bearer(world, PATROLLER)
    ahead = client.post(
        "/api/v1/patrols", json={"segment": "qj-taian", "started_at": iso(START + timedelta(minutes=6))}, headers=me
    )
    assert (ahead.status_code, fields(ahead)) == (422, {"started_at"})
    skewed = client.post(
        "/api/v1/patrols", json={"segment": "qj-taian", "started_at": iso(START + timedelta(minutes=4))}, headers=me
    )
    assert skewed.status_code == 201, skewed.text
    second = client.post("/api/v1/patrols", json={"segment": "qj-taian", "started_at": iso(START)}, headers=me)
    assert (second.status_code, fields(second)) == (422, {"started_at"})
    assert f"#{skewed.json()['id']}" in second.json()["fields"][0]["reason"]
    # An ended patrol may not overlap the one under way, which runs until now.
    world.clock.set(START + timedelta(hours=3))
    overlapping = {
        "segment": "qj-taian",
        "started_at": iso(START + timedelta(hours=1)),
        "ended_at": iso(START + timedelta(hours=2)),
    }
    refused = client.post("/api/v1/patrols", json=overlapping, headers=me)
    assert (refused.status_code, fields(refused)) == (422, {"started_at"})
    assert count(world, Patrol) == 1


def test_an_end_is_refused_before_the_start_after_24_hours_or_with_a_track_outside_it(
    world: World, client: TestClient
) -> None:
    me = bearer(world, PATROLLER)
    patrol = client.post("/api/v1/patrols", json={"segment": "qj-taian", "started_at": iso(START)}, headers=me).json()
    world.clock.set(START + timedelta(days=2))
    url = f"/api/v1/patrols/{patrol['id']}/end"
    cases = {
        "ended_at": {"ended_at": iso(START - timedelta(minutes=1))},
        "ended_at ": {"ended_at": iso(START + timedelta(hours=25))},
        "track": {
            "ended_at": iso(START + timedelta(hours=1)),
            "track": feature(line(START + timedelta(hours=2), 30, 30.2)),
        },
    }
    for field, body in cases.items():
        refused = client.post(url, json=body, headers=me)
        assert (refused.status_code, fields(refused)) == (422, {field.strip()}), refused.text
    naive = client.post(url, json={"ended_at": "2026-03-02T10:00:00"}, headers=me)
    assert (naive.status_code, fields(naive)) == (422, {"ended_at"})
    assert client.get(f"/api/v1/patrols/{patrol['id']}", headers=me).json()["under_way"] is True


def batch(days: int, *, start_day: int = 1, track: bool = True) -> list[dict[str, Any]]:
    """A February of routine patrols of qj-taian, one a day from 09:00 to 11:00, each with its track."""
    items = []
    for d in range(start_day, start_day + days):
        start = at(f"2026-02-{d:02d}", 9)
        item: dict[str, Any] = {
            "segment": "qj-taian",
            "started_at": iso(start),
            "ended_at": iso(start + timedelta(hours=2)),
        }
        if track:
            item["track"] = feature(line(start + timedelta(minutes=5), 100, 30.15, points=20))
        items.append(item)
    return items


def test_a_batch_is_recorded_whole_in_order_and_a_resend_with_its_key_records_nothing_more(
    world: World, client: TestClient
) -> None:
    headers = bearer(world, PATROLLER) | {"Idempotency-Key": "import-2026-02"}
    sent = batch(20)
    recorded = client.post("/api/v1/patrols", json=sent, headers=headers)
    assert recorded.status_code == 201, recorded.text
    items = recorded.json()["items"]
    assert [datetime.fromisoformat(p["started_at"]) for p in items] == [
        datetime.fromisoformat(s["started_at"]) for s in sent
    ]
    assert {(p["kind"], p["duration_s"], p["under_way"]) for p in items} == {("routine", 7200, False)}
    assert all(p["length_m"] > 1000 for p in items)
    again = client.post("/api/v1/patrols", json=sent, headers=headers)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == recorded.json()
    assert count(world, Patrol) == 20
    listed = client.get("/api/v1/patrols", params={"month": "2026-02", "limit": 5}, headers=headers).json()["items"]
    assert [p["id"] for p in listed] == [p["id"] for p in items[::-1][:5]]


def test_a_batch_with_bad_patrols_records_none_and_names_each_by_its_index(world: World, client: TestClient) -> None:
    me = bearer(world, PATROLLER)
    stored = client.post("/api/v1/patrols", json=batch(1, start_day=10, track=False)[0], headers=me)
    assert stored.status_code == 201, stored.text
    items = batch(6, track=False)
    items[1]["ended_at"] = items[1]["started_at"]
    items[2]["segment"] = "no-such-segment"
    items[3]["started_at"] = iso(at("2026-02-01", 10))  # inside [0]
    items[3]["ended_at"] = iso(at("2026-02-01", 12))
    items[4]["started_at"] = iso(at("2026-02-10", 10))  # inside the stored one
    items[4]["ended_at"] = iso(at("2026-02-10", 12))
    items[5]["kind"] = "patrol"
    refused = client.post("/api/v1/patrols", json=items, headers=me)
    assert refused.status_code == 422, refused.text
    assert fields(refused) == {"[1].ended_at", "[2].segment", "[3].started_at", "[4].started_at", "[5].kind"}
    assert count(world, Patrol) == 1

    under_way = batch(4, track=False)
    del under_way[3]["ended_at"]
    refused = client.post("/api/v1/patrols", json=under_way, headers=me)
    assert (refused.status_code, fields(refused)) == (422, {"[3].ended_at"})
    shapeless = batch(3, track=False)
    shapeless[1] = "晨巡"  # type: ignore[call-overload]
    refused = client.post("/api/v1/patrols", json=shapeless, headers=me)
    assert (refused.status_code, fields(refused)) == (422, {"[1]"})
    too_many = client.post("/api/v1/patrols", json=[{}] * 1001, headers=me)
    assert (too_many.status_code, fields(too_many)) == (422, {"body"})
    assert count(world, Patrol) == 1


GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="phone" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
<trkpt lat="30.150" lon="105.664"><time>2026-03-01T01:00:00Z</time></trkpt>
<trkpt lat="30.160" lon="105.672"><time>2026-03-01T01:40:00Z</time></trkpt>
<trkpt lat="30.170" lon="105.680"><time>2026-03-01T02:30:00Z</time></trkpt>
</trkseg></trk></gpx>"""


def test_an_uploaded_gpx_is_a_patrol_timed_by_its_track_and_a_photo_is_refused_as_415(
    world: World, client: TestClient
) -> None:
    me = bearer(world, PATROLLER)
    uploaded = client.post(
        "/api/v1/patrols/upload",
        files={"file": ("0301.gpx", GPX.encode(), "application/gpx+xml")},
        data={"segment": "qj-taian", "notes": "早巡"},
        headers=me,
    )
    assert uploaded.status_code == 201, uploaded.text
    patrol = uploaded.json()
    assert datetime.fromisoformat(patrol["started_at"]) == at("2026-03-01", 9)
    assert (patrol["duration_s"], patrol["kind"]) == (90 * 60, "routine")
    assert patrol["length_m"] > 2000
    photo = b"\xff\xd8\xff\xe0" + b"\x00" * 64
    refused = client.post(
        "/api/v1/patrols/upload",
        files={"file": ("track.gpx", photo, "application/gpx+xml")},
        data={"segment": "qj-taian"},
        headers=me,
    )
    assert (refused.status_code, fields(refused)) == (415, {"file"})
    untimed = GPX.replace("<time>", "<!--").replace("</time>", "-->")
    refused = client.post(
        "/api/v1/patrols/upload",
        files={"file": ("t.gpx", untimed.encode(), "application/gpx+xml")},
        data={"segment": "qj-taian"},
        headers=me,
    )
    assert (refused.status_code, fields(refused)) == (422, {"file"})
    assert count(world, Patrol) == 1


def test_an_upload_over_the_limit_is_413(sqlite_world: World) -> None:
    with TestClient(create_api(sqlite_world.app)) as client:
        limit = Settings.model_fields["upload_max_bytes"].default
        assert sqlite_world.app.settings.upload_max_bytes == limit
        big = GPX.encode() + b" " * (limit - len(GPX) + 1)
        refused = client.post(
            "/api/v1/patrols/upload",
            files={"file": ("big.gpx", big, "application/gpx+xml")},
            data={"segment": "qj-taian"},
            headers=bearer(sqlite_world, PATROLLER),
        )
    assert (refused.status_code, fields(refused)) == (413, {"file"})
    assert count(sqlite_world, Patrol) == 0


def test_who_reads_a_patrol_and_the_segments_a_chief_may_patrol_today(
    world: World, client: TestClient, pairing: int
) -> None:
    me = bearer(world, PATROLLER)
    own = client.post("/api/v1/patrols", json=batch(1, track=False)[0], headers=me).json()
    swap = client.post(
        "/api/v1/patrols", json={"segment": "qj-baima", "started_at": iso(START - timedelta(hours=1))}, headers=me
    ).json()
    for person, readable in {
        PATROLLER: {own["id"], swap["id"]},
        OWNER: {swap["id"]},  # the chief of the patrolled segment's jurisdiction
        "tn-office": {own["id"]},  # 潼南区's office, above 太安镇 only
        "qj-coord": {own["id"], swap["id"]},
        "tl-anju": set(),
        "ngo-auditor": set(),
    }.items():
        headers = bearer(world, person)
        for patrol in (own, swap):
            answer = client.get(f"/api/v1/patrols/{patrol['id']}", headers=headers)
            assert answer.status_code == (200 if patrol["id"] in readable else 404), (person, patrol["id"])
        listed = client.get("/api/v1/patrols", params={"person": PATROLLER}, headers=headers).json()["items"]
        assert {p["id"] for p in listed} == readable, person
    assert client.get("/api/v1/patrols/999999", headers=me).status_code == 404
    assert client.get(f"/api/v1/patrols/{2**40}", headers=me).status_code == 422  # past the database's integers
    mine = client.get("/api/v1/patrols", headers=bearer(world, OWNER)).json()["items"]
    assert mine == []  # by default the caller's own

    today = client.get("/api/v1/patrols/segments", headers=me).json()["items"]
    assert [(s["code"], s["kind"], s["pairing"]) for s in today] == [
        ("qj-taian", "routine", None),
        ("qj-baima", "swap", pairing),
    ]
    assert today[1]["jurisdiction"] == {"code": OWNER_CODE, "name": "白马镇"}
    assert today[1]["geometry"]["type"] == "LineString"
    world.clock.set(at("2026-04-01", 9))
    later = client.get("/api/v1/patrols/segments", headers=me).json()["items"]
    assert [s["code"] for s in later] == ["qj-taian"]
    assert client.get("/api/v1/patrols/segments", headers=bearer(world, "qj-coord")).json()["items"] == []


def test_what_an_ended_patrol_found_is_reported_on_its_day_and_not_after(world: World, client: TestClient) -> None:
    me = bearer(world, PATROLLER)
    patrol = client.post(
        "/api/v1/patrols",
        json={"segment": "qj-taian", "started_at": iso(at("2026-03-02", 6)), "ended_at": iso(at("2026-03-02", 8))},
        headers=me,
    ).json()
    report = {"compact": "QJ", "title": "太安镇段垃圾", "category": "solid_waste", "patrol": patrol["id"]}
    same_day = client.post("/api/v1/issues", json=report, headers=me)
    assert same_day.status_code == 201, same_day.text
    assert (same_day.json()["state"], same_day.json()["handed_to"]) == ("xun.reported", None)
    world.clock.set(at("2026-03-03", 9))
    before = count(world, Issue)
    late = client.post("/api/v1/issues", json=report | {"title": "次日补报"}, headers=me)
    assert (late.status_code, fields(late)) == (422, {"patrol"})
    assert count(world, Issue) == before
    assert client.get(f"/api/v1/patrols/{patrol['id']}", headers=me).json()["issues"] == [same_day.json()["code"]]


def test_a_refused_hand_off_leaves_no_issue_and_no_link(
    world: World, client: TestClient, pairing: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report, the link and the hand-off are one transaction: when the hand-off fails, none of them stands."""
    me = bearer(world, PATROLLER)
    patrol = client.post("/api/v1/patrols", json={"segment": "qj-baima", "started_at": iso(START)}, headers=me).json()

    def refuse(*_: Any, **__: Any) -> None:
        raise ValidationFailed("receiving", "refused for the test")

    monkeypatch.setattr(records, "apply_within", refuse)
    before = (count(world, Issue), count(world, PatrolIssue))
    refused = client.post(
        "/api/v1/issues",
        json={"compact": "QJ", "title": "排口", "category": "domestic_sewage", "patrol": patrol["id"]},
        headers=me | {"Idempotency-Key": "swap-report-1"},
    )
    assert (refused.status_code, fields(refused)) == (422, {"receiving"})
    assert (count(world, Issue), count(world, PatrolIssue)) == before
    assert json.loads(client.get(f"/api/v1/patrols/{patrol['id']}", headers=me).text)["issues"] == []
