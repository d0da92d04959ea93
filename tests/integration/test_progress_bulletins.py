"""Progress bulletins issued when the coordinators call for one, numbered for the year; and the stats that answer
every figure the practice reports, a meeting on three issues counted as one meeting."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.factories import COORDINATOR, RECEIVER, REPORTER, Cli, World, walk_to
from web.api import create_api
from workflow.accounts.tokens import create_token
from workflow.core.clock import SHANGHAI

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_api(world.app)) as test_client:
        yield test_client


def auth(world: World, person: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(world.app.uow(), person, 'test')[1]}"}


def a_meeting_on_three_issues(world: World, client: TestClient) -> str:
    issues = []
    for title in ("白马镇段排污口", "太安镇段养殖废水", "交界处垃圾堆放"):
        code = world.report(title=title)
        walk_to(world, code, "hand_off")
        issues.append(code)
    body = {
        "compact": "QJ",
        "title": "琼江跨界问题联席会议",
        "starts_at": "2026-03-03T09:30:00+08:00",
        "place": "潼南区河长办会议室",
        "agenda": issues,
    }
    headers = auth(world, COORDINATOR)
    code = str(client.post("/api/v1/meetings", json=body, headers=headers).json()["code"])
    item = {"title": "建立琼江联合执法小组", "owner": "500152", "due_on": "2026-03-06"}
    assert client.post(f"/api/v1/meetings/{code}/actions", json=item, headers=headers).status_code == 201
    return code


def test_the_stats_count_a_meeting_on_three_issues_once_and_answer_every_figure_of_the_practice(
    world: World, client: TestClient
) -> None:
    a_meeting_on_three_issues(world, client)
    world.clock.advance(seconds=timedelta(days=10).total_seconds())
    answer = client.get("/api/v1/stats?from=2026-01-01&to=2026-12-31", headers=auth(world, RECEIVER))
    assert answer.status_code == 200, answer.text
    practice = answer.json()["practice"]
    assert practice["joint_meetings"] == 1
    assert practice["joint_meetings_by_level"]["city"] == 1  # two provinces' sides: one level above district
    assert answer.json()["joint_meetings"] == 3  # the convene steps, one per issue
    assert (practice["handed_over"], practice["accepted"]) == (3, 0)
    assert (practice["action_items_open"], practice["action_items_overdue"]) == (1, 1)
    for key in (
        "boundary_chiefs",
        "swap_patrols",
        "patrol_issues",
        "disputed",
        "negotiated",
        "progress_bulletins",
        "rectified",
        "closed_without_rebound",
        "rebounds",
        "revisits",
        "revisit_reports",
        "joint_cases",
        "leads_transferred",
    ):
        assert key in practice, key
    tongnan = next(p for p in answer.json()["parties"] if p["code"] == "500152")
    assert tongnan["practice"]["handed_over"] == 3
    assert tongnan["practice"]["action_items_overdue"] == 1  # 潼南区 owns the overdue item


def test_a_coordinator_issues_numbered_progress_bulletins_listing_the_overdue(
    world: World, client: TestClient, tmp_path: Path
) -> None:
    a_meeting_on_three_issues(world, client)
    world.clock.advance(seconds=timedelta(days=10).total_seconds())
    headers = auth(world, COORDINATOR)
    span = {"compact": "QJ", "from": "2026-03-01", "to": "2026-03-12"}
    refused = client.post("/api/v1/bulletins", json=span, headers=auth(world, REPORTER))
    assert refused.status_code == 403
    ahead = client.post("/api/v1/bulletins", json={**span, "to": "2026-04-30"}, headers=headers)
    assert ahead.status_code == 422
    first = client.post("/api/v1/bulletins", json=span, headers=headers).json()
    second = client.post("/api/v1/bulletins", json={**span, "from": "2026-03-06"}, headers=headers).json()
    assert (first["number"], second["number"]) == ("QJ联防通报〔2026〕1号", "QJ联防通报〔2026〕2号")
    pdf = client.get(first["file"], headers=auth(world, RECEIVER))
    assert pdf.status_code == 200
    path = tmp_path / "bulletin.pdf"
    path.write_bytes(pdf.content)
    raw = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    text = "".join(raw.stdout.decode().split())
    for phrase in (
        "跨界问题整改情况通报",
        "QJ联防通报〔2026〕1号",
        "2026年3月1日至2026年3月11日",
        "建立琼江联合执法小组",
    ):
        assert phrase in text, phrase
    listed = client.get("/api/v1/bulletins", headers=auth(world, RECEIVER)).json()
    assert [b["number"] for b in listed] == [second["number"], first["number"]]
    stats = client.get("/api/v1/stats?from=2026-01-01&to=2026-12-31", headers=headers).json()
    assert stats["practice"]["progress_bulletins"] == 2


def test_the_cli_files_a_progress_bulletin_again_by_its_key_and_refuses_a_month_for_one(
    world: World, client: TestClient
) -> None:
    a_meeting_on_three_issues(world, client)
    world.clock.advance(seconds=timedelta(days=10).total_seconds())
    span = {"compact": "QJ", "from": "2026-03-01", "to": "2026-03-12"}
    issued = client.post("/api/v1/bulletins", json=span, headers=auth(world, COORDINATOR)).json()
    data_dir = world.app.settings.data_dir
    database = world.app.engine.url.database
    cli = Cli(data_dir, env={"RIVERCHIEF_DATABASE_URL": f"sqlite:///{database}"})
    again = cli("report", "progress", "--period", issued["period"])
    assert again.returncode == 0, again.stderr
    assert "(filed before)" in again.stdout  # the same bulletin makes the same bytes
    wrong = cli("report", "progress", "--period", "2026-03")
    assert wrong.returncode != 0
    assert wrong.stderr.strip().startswith("error: --period")


def test_the_monthly_bulletin_names_an_action_item_overdue_until_it_is_done(
    world: World, client: TestClient, tmp_path: Path
) -> None:
    from riverchief.reporting import make_and_file
    from workflow.jobs.bulletins import monthly_bulletin
    from workflow.reading.dossier import bulletin

    a_meeting_on_three_issues(world, client)  # its action item is due 2026-03-06
    world.clock.set(datetime(2026, 4, 1, 1, tzinfo=SHANGHAI))
    monthly_bulletin(world.app.uow, world.clock.now(), "2026-03")
    with world.app.reader() as uow:
        march = bulletin(uow.connection, "QJ", "2026-03")
    assert [a["title"] for a in march["figures"]["overdue_actions"]] == ["建立琼江联合执法小组"]
    filed = make_and_file(world.app, "bulletin", compact="QJ", period="2026-03")
    raw = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(filed.path), "-"], capture_output=True, check=True)
    text = "".join(raw.stdout.decode().split())
    assert "逾期未办结的督办事项" in text
    assert "建立琼江联合执法小组" in text
