"""A meeting's minutes (纪要): filed once it was held, naming who came, every decision and action item, with a
signature line per party, and recorded in the ledger of every issue it decided."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.factories import COORDINATOR, RECEIVER, REPORTER, World, walk_to
from web.api import create_api
from workflow.accounts.tokens import create_token

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_api(world.app)) as test_client:
        yield test_client


def auth(world: World, person: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(world.app.uow(), person, 'test')[1]}"}


def pdf_text(path: Path) -> str:
    """The PDF's text in drawing order, whitespace removed (a table cell's wrapped lines join up)."""
    raw = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    return "".join(raw.stdout.decode().split())


def test_the_minutes_of_a_held_meeting_name_every_decision_and_enter_each_issues_ledger(
    world: World, client: TestClient
) -> None:
    issues = []
    for title in ("白马镇段排污口", "太安镇段养殖废水", "交界处垃圾堆放"):
        code = world.report(title=title)
        walk_to(world, code, "hand_off")
        issues.append(code)
    coordinator = auth(world, COORDINATOR)
    body = {
        "compact": "QJ",
        "title": "琼江跨界问题联席会议",
        "starts_at": "2026-03-05T09:30:00+08:00",
        "place": "潼南区河长办会议室",
        "agenda": issues,
        "level": "district",
        "level_reason": "三件均已有初步方案，区县层级会办即可",
    }
    meeting = client.post("/api/v1/meetings", json=body, headers=coordinator).json()
    code = meeting["code"]
    early = client.post(f"/api/v1/meetings/{code}/minutes", headers=coordinator)
    assert early.status_code == 422  # not held yet: no minutes

    world.clock.advance(seconds=timedelta(days=3).total_seconds())
    attendance = {"attendance": {REPORTER: "present", RECEIVER: "present", COORDINATOR: "present"}}
    client.post(f"/api/v1/meetings/{code}/attendance", json=attendance, headers=coordinator)
    plans = ("三日内封堵排口", "养殖场建设沉淀池", "清运垃圾并设置围挡")
    for issue, plan in zip(issues, plans, strict=True):
        decision = {"issue": issue, "resolution": f"由白马镇牵头：{plan}", "plan": plan, "deadline": world.deadline(15)}
        assert client.post(f"/api/v1/meetings/{code}/decisions", json=decision, headers=coordinator).status_code == 200
    item = {"title": "建立琼江联合执法小组", "owner": "500152", "due_on": "2026-03-31"}
    assert client.post(f"/api/v1/meetings/{code}/actions", json=item, headers=coordinator).status_code == 201

    assert client.post(f"/api/v1/meetings/{code}/minutes", headers=auth(world, REPORTER)).status_code == 403
    filed = client.post(f"/api/v1/meetings/{code}/minutes", headers=coordinator)
    assert filed.status_code == 201, filed.text
    report = filed.json()
    pdf = client.get(report["file"], headers=auth(world, RECEIVER))
    assert pdf.status_code == 200
    path = world.app.settings.data_dir / "minutes.pdf"
    path.write_bytes(pdf.content)
    text = pdf_text(path)
    for phrase in (
        "联席会议纪要",
        "QJ联防纪要〔2026〕001号",
        code,
        "区县级联席会议",
        "三件均已有初步方案，区县层级会办即可",
        *issues,
        *plans,
        "建立琼江联合执法小组",
        "潼南区",
        "白马镇",
        "太安镇",
        "联席会议办公室",
        "（签字）",
    ):
        assert phrase in text, phrase
    for issue in issues:
        filed_events = [e for e in world.events(issue) if e.trigger == "file_report"]
        assert [e.payload["sha256"] for e in filed_events] == [report["sha256"]]
    again = client.post(f"/api/v1/meetings/{code}/minutes", headers=coordinator).json()
    assert (again["report"], again["new"]) == (report["report"], False)
