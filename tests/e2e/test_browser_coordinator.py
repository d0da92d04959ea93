"""The coordinator's day in a real headless Chromium: filter the compact's overdue issues, pick three, convene
one district-level meeting, record who came, three decisions and an action item, file the minutes, and find the
overdue action item in the next progress bulletin."""

from __future__ import annotations

import email
import email.policy
import subprocess
from datetime import timedelta
from pathlib import Path

import icalendar
import sqlalchemy as sa

from notifications.channels import EmlChannel
from notifications.dispatcher import Dispatcher, DispatchPolicy
from notifications.render import Renderer
from tests.e2e.test_browser import Person, browser, site  # noqa: F401  (the fixtures)
from tests.factories import COORDINATOR, RECEIVER, REPORTER, World, walk_to
from workflow.core.models import ReportFile, table_of


def pdf_text(path: Path) -> str:
    raw = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    return "".join(raw.stdout.decode().split())


def filed(world: World, kind: str) -> list[Path]:
    reports = table_of(ReportFile)
    with world.app.reader() as uow:
        paths = uow.connection.execute(sa.select(reports.c.path).where(reports.c.kind == kind)).scalars()
        return [world.app.settings.data_dir / p for p in paths]


def test_a_coordinator_runs_a_joint_meeting_on_three_overdue_issues_from_the_list_to_the_bulletin(
    sqlite_world: World,
    site: str,  # noqa: F811
    browser: object,  # noqa: F811
    tmp_path: Path,
) -> None:
    world = sqlite_world
    stuck = []
    for title in ("白马镇段排污口直排", "太安镇段养殖废水入河", "交界处岸线垃圾堆放"):
        code = world.report(title=title)
        walk_to(world, code, "hand_off")
        stuck.append(code)
    world.report(title="刚上报的问题")  # not handed over: not in the overdue list
    world.clock.advance(seconds=timedelta(days=6).total_seconds())

    coordinator = Person(browser, site, COORDINATOR)
    page = coordinator.page
    coordinator.open("/issues")
    page.check("input[name=overdue]")
    page.select_option("#f-phase", "ban")
    page.select_option("#f-waiting_on", "receiving")
    page.click("form[data-testid=filters] button[type=submit]")
    assert "overdue=true" in page.url
    rows = page.eval_on_selector_all("tr[data-code]", "els => els.map(e => e.dataset.code)")
    assert sorted(rows) == sorted(stuck)
    for code in stuck:
        page.check(f"input[name=issue][value='{code}']")
    page.click("[data-testid=convene-selected]")
    page.fill("#m-title", "琼江跨界问题联席会议")
    page.fill("#m-place", "潼南区河长办会议室")
    page.select_option("#m-level", "district")
    page.fill("#m-level_reason", "三件均已有初步方案，区县层级会办即可")
    page.click("[data-testid=convene]")
    assert "/meetings/QJ-HY-2026-001" in page.url
    assert "区县级" in page.inner_text("[data-testid=level]")
    assert {world.issue(c).state for c in stuck} == {"ban.joint_meeting"}

    # Every invitee with an address gets the invitation, its .ics readable by any calendar.
    dispatcher = Dispatcher(
        world.app.uow, [EmlChannel(tmp_path)], Renderer(world.app.calendar), world.clock, DispatchPolicy()
    )
    dispatcher.drain()
    calendars = []
    for path in tmp_path.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        calendars += [
            icalendar.Calendar.from_ical(part.get_payload(decode=True))
            for part in message.walk()
            if part.get_content_type() == "text/calendar"
        ]
    assert calendars
    (event,) = calendars[0].walk("VEVENT")
    assert "琼江跨界问题联席会议" in str(event["SUMMARY"])

    # The meeting's day: attendance, three decisions, an action item, the minutes.
    world.clock.advance(seconds=timedelta(days=1).total_seconds())
    coordinator = Person(browser, site, COORDINATOR)
    page = coordinator.page
    coordinator.open("/meetings/QJ-HY-2026-001")
    page.select_option(f"select[name=att_{REPORTER}]", "present")
    page.select_option(f"select[name=att_{RECEIVER}]", "present")
    page.click("[data-testid=record-attendance]")
    assert "出席情况已登记" in page.inner_text("[data-testid=flash]")
    deadline = world.deadline(15)
    for code in stuck:
        form = page.locator(f"form[data-testid=decide-{code}]")
        form.locator("textarea[name=resolution]").fill(f"{code} 由白马镇牵头整改")
        form.locator("textarea[name=plan]").fill("限期整改，双方联合复核")
        form.locator("input[name=deadline]").fill(deadline)
        form.locator("button[type=submit]").click()
        assert "议定事项已记录" in page.inner_text("[data-testid=flash]")
    form = page.locator("form[data-testid=action-form]")
    form.locator("input[name=title]").fill("建立琼江联合执法小组")
    form.locator("select[name=owner]").select_option("500152")
    form.locator("input[name=due_on]").fill((world.clock.now() + timedelta(days=5)).date().isoformat())
    form.locator("button[type=submit]").click()
    assert "建立琼江联合执法小组" in page.inner_text("[data-testid=meeting-actions]")
    for code in stuck:
        issue = world.issue(code)
        assert (issue.state, issue.rectify_deadline.isoformat()) == ("ban.rectifying", deadline)
    page.click("[data-testid=file-minutes]")
    (minutes,) = [p for p in filed(world, "minutes") if "QJ-HY-2026-001" in p.name]
    text = pdf_text(minutes)
    for code in stuck:
        assert code in text
    assert "建立琼江联合执法小组" in text

    # Past the action item's day: the next bulletin lists it overdue.
    world.clock.advance(seconds=timedelta(days=7).total_seconds())
    coordinator = Person(browser, site, COORDINATOR)
    page = coordinator.page
    coordinator.open("/meetings")
    page.click("form[data-testid=bulletin-form] button[type=submit]")
    assert "QJ联防通报〔2026〕1号" in page.inner_text("[data-testid=flash]")
    (bulletin,) = filed(world, "progress")
    assert "建立琼江联合执法小组" in pdf_text(bulletin)
    assert coordinator.refused == []
