"""The patrol pages as a browser without script sees them: my patrols against my quota, the start and upload
forms' refusals, who may open a patrol, and user text kept as text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.e2e.test_api_scoping import HANJIANG
from tests.e2e.test_pages import PASSWORD, csrf_of, sign_in
from tests.factories import REPORTER, START, World
from web.api import create_api
from workflow.accounts.signin import set_password
from workflow.core.models import Patrol, table_of
from workflow.core.reference import PatrolQuotaIn, ReferenceData, load, parse_text
from workflow.patrols.records import record_patrol

_patrol = table_of(Patrol)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    load(world.app.uow(), parse_text(HANJIANG, "yaml"))
    for person in (REPORTER, "sn-baima", "wh-chief"):
        set_password(world.app.uow(), person, PASSWORD)
    with TestClient(create_api(world.app)) as test_client:
        yield test_client


def patrol(world: World, who: str = REPORTER, segment: str = "qj-taian", hours_ago: int = 3, **extra: str) -> int:
    start = START - timedelta(hours=hours_ago)
    return record_patrol(
        world.app.uow(), world.actor(who), segment, started_at=start, ended_at=start + timedelta(minutes=50), **extra
    ).id


def patrol_count(world: World) -> int:
    with world.app.uow() as uow:
        return int(uow.connection.execute(sa.select(sa.func.count()).select_from(_patrol)).scalar_one())


def test_my_patrols_counts_this_months_patrols_against_my_quota(world: World, client: TestClient) -> None:
    load(world.app.uow(), ReferenceData(patrol_quotas=[PatrolQuotaIn(level="township", count=3, per="month")]))
    patrol(world, hours_ago=3)
    patrol(world, hours_ago=30, notes="上月巡查")  # 2026-03-01: still this month
    patrol(world, hours_ago=24 * 5)  # February's: not this month's
    sign_in(client, REPORTER)

    page = client.get("/patrols")

    assert page.status_code == 200
    assert 'data-testid="quota-done">2<' in page.text
    assert 'data-testid="quota-required">3<' in page.text
    assert "完成率 67%" in page.text
    assert page.text.count('data-testid="patrol-') == 3
    assert '<a href="/patrols" aria-current="page">我的巡河</a>' in page.text


def test_the_start_form_offers_my_segment_and_the_paired_neighbours_labelled_as_a_swap(
    world: World, client: TestClient
) -> None:
    from workflow.patrols.pairings import add_pairing

    add_pairing(world.app.uow(), "QJ", REPORTER, "qj-taian", "sn-baima", "qj-baima", START.date(), START.date())
    sign_in(client, REPORTER)
    page = client.get("/patrols").text
    assert 'value="qj-taian"' in page
    assert '琼江白马镇段</span>\n      <span class="tag swap">交叉互巡</span>' in page
    assert "白马镇的河段" in page
    assert 'value="mx-moxi"' not in page


@pytest.mark.parametrize(
    ("segment", "reason"),
    [("", "请选择要巡查的河段"), ("qj-baima", "不是您今天可以巡查的河段"), ("no-such", "不是您今天可以巡查的河段")],
    ids=["none", "the neighbour's without a pairing", "unknown"],
)
def test_the_start_forms_refusals_name_the_segment_on_the_page(
    world: World, client: TestClient, segment: str, reason: str
) -> None:
    sign_in(client, REPORTER)
    token = csrf_of(client.get("/patrols").text)
    before = patrol_count(world)

    answer = client.post("/patrols/start", data={"csrf_token": token, "segment": segment}, follow_redirects=False)

    assert answer.status_code == 422
    assert f'data-testid="error-segment">{reason}<' in answer.text
    assert 'aria-invalid="true" aria-describedby="segment-err"' in answer.text  # on the segment's fieldset
    assert patrol_count(world) == before


def test_a_started_patrol_is_under_way_at_the_top_with_a_way_back_and_no_second_start(
    world: World, client: TestClient
) -> None:
    sign_in(client, REPORTER)
    token = csrf_of(client.get("/patrols").text)

    started = client.post("/patrols/start", data={"csrf_token": token, "segment": "qj-taian"}, follow_redirects=False)

    assert started.status_code == 303
    patrol_id = int(started.headers["location"].rsplit("/", 1)[1])
    walk = client.get(started.headers["location"]).text
    assert 'data-testid="walk"' in walk
    assert "开始记录轨迹" in walk
    page = client.get("/patrols").text
    assert f'href="/patrols/{patrol_id}" data-testid="continue"' in page
    assert 'data-testid="start-form"' not in page
    again = client.post("/patrols/start", data={"csrf_token": token, "segment": "qj-taian"})
    assert again.status_code == 422
    assert 'data-testid="error-segment">您有一次巡河尚未结束，请先结束它<' in again.text
    assert patrol_count(world) == 1


def test_someone_else_reading_a_patrol_under_way_sees_no_recorder(world: World, client: TestClient) -> None:
    sign_in(client, REPORTER)
    token = csrf_of(client.get("/patrols").text)
    started = client.post("/patrols/start", data={"csrf_token": token, "segment": "qj-taian"}, follow_redirects=False)
    client.cookies.clear()
    set_password(world.app.uow(), "tn-office", PASSWORD)
    sign_in(client, "tn-office")  # 潼南区河长办, above 太安镇

    page = client.get(started.headers["location"])

    assert page.status_code == 200
    assert "正在巡河" in page.text
    assert 'data-testid="walk"' not in page.text


def test_the_start_form_without_its_csrf_token_starts_nothing(world: World, client: TestClient) -> None:
    sign_in(client, REPORTER)
    answer = client.post("/patrols/start", data={"csrf_token": "forged", "segment": "qj-taian"})
    assert answer.status_code == 403
    assert patrol_count(world) == 0


def test_an_uploaded_track_is_recorded_and_a_bad_one_named_on_the_page(world: World, client: TestClient) -> None:
    sign_in(client, REPORTER)
    token = csrf_of(client.get("/patrols").text)
    start = START - timedelta(hours=2)
    times = [(start + timedelta(minutes=m)).isoformat() for m in (0, 20, 40)]
    track = {
        "type": "Feature",
        "properties": {"coordTimes": times},
        "geometry": {"type": "LineString", "coordinates": [[105.664, 30.15], [105.684, 30.175], [105.704, 30.2]]},
    }

    missing = client.post("/patrols/upload", data={"csrf_token": token, "segment": ""})
    assert missing.status_code == 422
    assert 'data-testid="error-file">请选择轨迹文件<' in missing.text
    assert 'data-testid="error-segment">请选择要巡查的河段<' in missing.text
    theirs = client.post(
        "/patrols/upload",
        data={"csrf_token": token, "segment": "qj-baima", "kind": "nonsense"},
        files={"file": ("track.geojson", json.dumps(track).encode(), "application/geo+json")},
    )
    assert theirs.status_code == 422
    assert 'data-testid="error-segment">不是您今天可以巡查的河段<' in theirs.text
    assert 'data-testid="error-kind">不是可选的巡河类型<' in theirs.text
    broken = client.post(
        "/patrols/upload",
        data={"csrf_token": token, "segment": "qj-taian"},
        files={"file": ("track.geojson", b"{not json", "application/geo+json")},
    )
    assert broken.status_code == 422
    assert 'data-testid="error-file">轨迹文件无法读取' in broken.text
    assert patrol_count(world) == 0

    done = client.post(
        "/patrols/upload",
        data={"csrf_token": token, "segment": "qj-taian", "notes": "补传"},
        files={"file": ("track.geojson", json.dumps(track).encode(), "application/geo+json")},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert patrol_count(world) == 1
    page = client.get(done.headers["location"]).text
    assert "轨迹已上传" in page
    assert "40 分钟" in page


def test_a_patrol_page_is_404_for_another_compacts_person(world: World, client: TestClient) -> None:
    mine = patrol(world)
    sign_in(client, "wh-chief")
    assert client.get(f"/patrols/{mine}").status_code == 404
    assert client.get("/patrols/999999").status_code == 404


def test_a_patrols_notes_are_text_not_markup(world: World, client: TestClient) -> None:
    mine = patrol(world, notes="<script>alert('巡')</script> & <b>粗</b>")
    sign_in(client, REPORTER)

    page = client.get(f"/patrols/{mine}")

    assert page.status_code == 200
    assert "&lt;script&gt;alert(&#39;巡&#39;)&lt;/script&gt; &amp; &lt;b&gt;粗&lt;/b&gt;" in page.text
    assert "<script>alert(" not in page.text
    assert "日常巡河" in page.text
    assert "50 分钟" in page.text
