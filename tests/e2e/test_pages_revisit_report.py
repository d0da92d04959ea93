"""The auditor's own revisit report (several revisits in one report, as the practice has it): a compact and a
period, the revisits finished in it ticked, one PDF filed for those ticked, once per form; bad input named."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.factories import AUDITOR, COORDINATOR, World, walk_to
from web.api import create_api
from workflow.accounts.signin import set_password
from workflow.core.models import ReportFile, table_of

PASSWORD = "琼江清水长流-2026"
_report = table_of(ReportFile)


@pytest.fixture
def client(sqlite_world: World) -> Iterator[TestClient]:
    for person in (AUDITOR, COORDINATOR):
        set_password(sqlite_world.app.uow(), person, PASSWORD)
    with TestClient(create_api(sqlite_world.app)) as test_client:
        sign_in(test_client, AUDITOR)
        yield test_client


def sign_in(client: TestClient, person: str) -> None:
    answer = client.post("/login", data={"person": person, "password": PASSWORD, "next": "/"}, follow_redirects=False)
    assert answer.status_code == 303


@pytest.fixture
def revisited(sqlite_world: World) -> list[str]:
    """Three issues revisited on 2 March 2026, none found rebounded."""
    codes = []
    for title in ("白马镇段排污口", "太安镇段垃圾堆放", "琼江支流黑臭水体"):
        code = sqlite_world.report(title=title)
        walk_to(sqlite_world, code, "no_rebound")
        codes.append(code)
    return codes


def form(page: str) -> dict[str, str]:
    """The report form's hidden fields (the compact, the period, the key and the CSRF token)."""
    found = re.search(r'data-testid="report-form">(.*?)</form>', page, re.S)
    assert found is not None, "no report form on the page"
    return dict(re.findall(r'type="hidden" name="([a-z_]+)" value="([^"]*)"', found.group(1)))


def ticked(page: str) -> list[str]:
    return re.findall(r'name="issues" value="([^"]+)" checked', page)


def reports(world: World) -> list[tuple[str, str | None, str]]:
    with world.app.reader() as uow:
        rows = uow.connection.execute(
            sa.select(_report.c.kind, _report.c.period, _report.c.path).order_by(_report.c.id)
        )
        return [tuple(r) for r in rows]


def pdf_text(path: Path) -> str:
    done = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    return done.stdout.decode("utf-8")


def test_the_revisits_finished_in_the_period_are_listed_all_ticked(
    sqlite_world: World, client: TestClient, revisited: list[str]
) -> None:
    page = client.get("/revisits/report")
    assert page.status_code == 200
    # No report filed here yet: from the compact's first finished revisit, to today.
    fields = form(page.text)
    assert (fields["compact"], fields["from"], fields["to"]) == ("QJ", "2026-03-02", "2026-03-02")
    assert ticked(page.text) == revisited
    assert "该期间已完成的回访（3 个问题）" in page.text
    # A period before them shows none.
    empty = client.get("/revisits/report", params={"compact": "QJ", "from": "2026-02-01", "to": "2026-02-28"}).text
    assert 'data-testid="none-done"' in empty
    assert ticked(empty) == []


def test_the_report_covers_only_the_ticked_revisits_and_is_listed(
    sqlite_world: World, client: TestClient, revisited: list[str]
) -> None:
    fields = form(client.get("/revisits/report").text)
    chosen = revisited[:2]
    answer = client.post("/revisits/report", data={**fields, "issues": chosen}, follow_redirects=False)
    assert answer.status_code == 303
    filed = re.fullmatch(r"/revisits\?filed=(\d+)", answer.headers["location"])
    assert filed is not None
    ((kind, period, path),) = reports(sqlite_world)
    assert (kind, period) == ("revisit", "20260302-20260302")
    text = pdf_text(sqlite_world.app.settings.data_dir / path)
    assert "共回访 2 个问题" in text
    for code in chosen:
        assert code in text
    assert revisited[2] not in text
    assert "QJ联防回访〔2026〕0302号" in text
    # Listed on the auditor's page, said filed, and among all the reports.
    listed = client.get(answer.headers["location"]).text
    title = "琼江流域跨界河流联防联控 2026-03-02 至 2026-03-02 回访报告"
    assert f"回访报告已存档：{title}" in listed
    assert re.search(rf'class="just" aria-current="true" data-report="{filed.group(1)}"><a [^>]+>{title}<', listed)
    assert title in client.get("/reports").text
    # The next report starts where this one ended.
    sqlite_world.clock.advance(seconds=timedelta(days=3).total_seconds())
    sign_in(client, AUDITOR)
    page = client.get("/revisits/report").text
    assert re.search(r'name="from" value="2026-03-03"', page)
    assert re.search(r'name="to" value="2026-03-05"', page)
    assert 'data-testid="none-done"' in page  # nothing was revisited since


def test_the_same_form_sent_twice_files_one_report(
    sqlite_world: World, client: TestClient, revisited: list[str]
) -> None:
    fields = form(client.get("/revisits/report").text)
    data = {**fields, "issues": revisited}
    first = client.post("/revisits/report", data=data, follow_redirects=False)
    second = client.post("/revisits/report", data=data, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert len(reports(sqlite_world)) == 1
    # The same form sent again with other ticks is refused, not filed as a second report.
    other = client.post("/revisits/report", data={**data, "issues": revisited[:1]}, follow_redirects=False)
    assert other.status_code == 409
    assert "这份表单已经提交过" in other.text
    assert len(reports(sqlite_world)) == 1
    # A new form (a fresh key) files another.
    fresh = form(client.get("/revisits/report").text)
    assert fresh["form_key"] != fields["form_key"]
    assert client.post("/revisits/report", data={**fresh, "issues": revisited[:1]}).status_code == 200
    assert len(reports(sqlite_world)) == 2


def test_bad_input_is_named_in_chinese_and_files_nothing(
    sqlite_world: World, client: TestClient, revisited: list[str]
) -> None:
    fields = form(client.get("/revisits/report").text)
    backwards = client.post("/revisits/report", data={**fields, "from": "2026-03-05", "to": "2026-03-01"})
    assert backwards.status_code == 422
    assert re.search(r'data-testid="error-to">早于起始日期<', backwards.text)
    assert "请修改截止日期：早于起始日期" in backwards.text
    none = client.post("/revisits/report", data=fields)
    assert none.status_code == 422
    assert re.search(r'data-testid="error-issues">请至少勾选一个问题<', none.text)
    assert ticked(none.text) == []  # the ticks as sent, not all again
    outside = client.post("/revisits/report", data={**fields, "issues": [revisited[0], "QJ-2026-0999"]})
    assert outside.status_code == 422
    assert "不是该期间已完成回访的问题：QJ-2026-0999" in outside.text
    assert ticked(outside.text) == [revisited[0]]
    bad_day = client.get("/revisits/report", params={"from": "3月1日"})
    assert bad_day.status_code == 422
    assert re.search(r'data-testid="error-from">日期或时间格式不对<', bad_day.text)
    assert reports(sqlite_world) == []
    client.get("/lang/en")
    english = client.post("/revisits/report", data={**fields, "from": "2026-03-05", "to": "2026-03-01"})
    assert re.search(r'data-testid="error-to">the last day is before the first<', english.text)
    assert "Please correct To: the last day is before the first" in english.text
    assert "Show the revisits of this period" in english.text


def test_a_compact_the_viewer_does_not_audit_is_refused(
    sqlite_world: World, client: TestClient, revisited: list[str]
) -> None:
    fields = form(client.get("/revisits/report").text)
    elsewhere = client.post("/revisits/report", data={**fields, "compact": "XX", "issues": revisited})
    assert elsewhere.status_code == 403
    assert "您不是协作机制 XX 的第三方回访机构" in elsewhere.text
    assert client.get("/revisits/report", params={"compact": "XX"}).status_code == 403
    assert reports(sqlite_world) == []
    # A coordinator audits no compact: no report form at all.
    sign_in(client, COORDINATOR)
    refused = client.get("/revisits/report")
    assert refused.status_code == 403
    assert "您不是任何协作机制的第三方回访机构" in refused.text
    assert 'href="/revisits/report"' not in client.get("/revisits").text
