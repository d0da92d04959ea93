"""The auditor's day (第三方回访) in a real headless Chromium at desk width.

The 琼江 compact's auditor signs in to a queue of revisits come due weeks ago,
each said late by working days; starts one from the list; records what was
found on site with a photo whose EXIF says when and where it was taken (shown
before the outcome is chosen); records 未反弹; then files one revisit report
for the period with the revisits ticked, and finds it listed. A second auditor
view at 360 px checks the revisit form fits a phone. Each step is screenshot
into /tmp/shots-revisit/.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.e2e.test_browser import PASSWORD, browser, playwright, site  # noqa: F401 (fixtures)
from tests.factories import AUDITOR, World, jpeg_with_gps, walk_to
from workflow.core.models import ReportFile, table_of

SHOTS = Path("/tmp/shots-revisit")
FINDING = "排口已封堵，周边无新增排污痕迹，水体清澈"


@pytest.mark.slow
def test_the_auditors_day_from_the_late_revisits_to_a_filed_report(
    sqlite_world: World,
    site: str,  # noqa: F811
    browser: object,  # noqa: F811
    tmp_path: Path,
) -> None:
    SHOTS.mkdir(exist_ok=True)
    # Two issues closed on 2 March; their 30-day revisits are some working days late by mid-April.
    codes = [sqlite_world.report(title=t) for t in ("白马镇段排污口", "太安镇段岸边垃圾")]
    for code in codes:
        walk_to(sqlite_world, code, "close")
    sqlite_world.clock.advance(seconds=timedelta(days=45).total_seconds())
    # The other one was revisited the day before, found clean.
    sqlite_world.fire(codes[1], "start_revisit", AUDITOR)
    sqlite_world.fire(codes[1], "no_rebound", AUDITOR, finding="岸边垃圾已清运")
    sqlite_world.clock.advance(seconds=timedelta(days=1).total_seconds())
    photo = tmp_path / "现场.jpg"
    photo.write_bytes(jpeg_with_gps((30.0, 12.0, 28.8), (105.0, 42.0, 10.8), "2026:04:17 10:15:00"))

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: "Content Security Policy" in m.text and refused.append(m.text))
    page.on("pageerror", lambda e: refused.append(str(e)))
    page.goto(f"{site}/login")
    page.fill("#person", AUDITOR)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url("**/revisits")

    # The queue: the late revisit, said late in working days, with its start button.
    due = page.locator("[data-testid=list-due]")
    late = page.locator(f"[data-testid=late-{codes[0]}]").inner_text()
    assert re.fullmatch(r"逾期 \d+ 个工作日（计划 2026-04-01）", late), late
    assert codes[0] in due.inner_text()
    page.screenshot(path=str(SHOTS / "01-queue.png"), full_page=True)
    page.locator(f"[data-testid=start-{codes[0]}]").click()
    page.wait_for_url(f"**/issues/{codes[0]}?done=start_revisit*")
    assert page.locator("[data-testid=state]").inner_text() == "回头看中"

    # The revisit form: the finding, a photo uploaded first to see when and where it was taken.
    revisit = page.locator("[data-testid=revisit]")
    assert revisit.is_visible()
    page.screenshot(path=str(SHOTS / "02-revisit-form.png"), full_page=True)
    revisit.locator("[name=finding]").fill(FINDING)
    revisit.locator("[name=photos]").set_input_files(str(photo))
    revisit.locator("[data-testid=upload-photos]").click()
    page.wait_for_load_state()
    facts = page.locator("[data-testid=photo-facts]")
    playwright.expect(facts).to_have_text(["拍摄于 2026-04-17 10:15 · 30.2080°N 105.7030°E"])
    assert revisit.locator("[name=finding]").input_value() == FINDING
    revisit.locator("ul.shots img").scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelectorAll('ul.shots img')].every(i => i.naturalWidth > 0)")
    page.screenshot(path=str(SHOTS / "03-photo-checked.png"), full_page=True)

    # The outcome: 未反弹, recorded after the photo, with the finding.
    revisit.locator("label.choice", has=page.locator("[data-testid=outcome-no_rebound]")).click()
    revisit.locator("[data-testid=record-revisit]").click()
    page.wait_for_url(f"**/issues/{codes[0]}?done=no_rebound")
    assert page.locator("[data-testid=state]").inner_text() == "已销号"
    assert FINDING in page.locator("[data-testid=timeline]").inner_text()
    page.screenshot(path=str(SHOTS / "04-recorded.png"), full_page=True)
    triggers = [e.trigger for e in sqlite_world.events(codes[0])]
    assert triggers[-3:] == ["start_revisit", "add_evidence", "no_rebound"]

    # A report for the period: both revisits listed, ticked; filed once, listed.
    page.goto(f"{site}/revisits")
    page.locator("[data-testid=new-report]").click()
    page.wait_for_url("**/revisits/report")
    picks = page.locator("input[name=issues]")
    assert sorted(picks.evaluate_all("els => els.filter(e => e.checked).map(e => e.value)")) == sorted(codes)
    assert page.locator("#report-from").input_value() == "2026-04-16"
    page.screenshot(path=str(SHOTS / "05-report-form.png"), full_page=True)
    # A double click sends the form twice: the first sending's request is already on its way (sent here with
    # the form's own fields) when the second, the click, goes; one report is filed, and both say which.
    fields = page.locator("[data-testid=report-form]").evaluate(
        "f => [...new FormData(f)].map(([k, v]) => k + '=' + encodeURIComponent(v)).join('&')"
    )
    first = page.request.post(
        f"{site}/revisits/report",
        data=fields,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        max_redirects=0,
    )
    assert first.status == 303
    page.locator("[data-testid=file-report]").click()
    page.wait_for_url("**/revisits?filed=*")
    assert page.url.endswith(first.headers["location"])
    flash = page.locator("[data-testid=flash]").inner_text()
    assert flash == "回访报告已存档：琼江流域跨界河流联防联控 2026-04-16 至 2026-04-17 回访报告"
    filed = page.locator("[data-testid=list-filed] li.just")
    assert "2026-04-16 至 2026-04-17 回访报告" in filed.inner_text()
    page.screenshot(path=str(SHOTS / "06-report-filed.png"), full_page=True)
    with sqlite_world.app.reader() as uow:
        kinds = uow.connection.execute(sa.select(table_of(ReportFile).c.kind)).scalars().all()
    assert kinds == ["revisit"]
    page.goto(f"{site}/reports")
    assert "2026-04-16 至 2026-04-17 回访报告" in page.locator("[data-testid=reports]").inner_text()
    context.close()
    assert refused == [], refused


@pytest.mark.slow
def test_the_revisit_form_fits_a_phone(
    sqlite_world: World,
    site: str,  # noqa: F811
    browser: object,  # noqa: F811
) -> None:
    SHOTS.mkdir(exist_ok=True)
    code = sqlite_world.report(title="白马镇段排污口（手机回访）")
    walk_to(sqlite_world, code, "start_revisit")
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{site}/login?next=/issues/{code}")
    page.fill("#person", AUDITOR)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"**/issues/{code}")
    revisit = page.locator("[data-testid=revisit]")
    revisit.scroll_into_view_if_needed()
    # A refused outcome (no finding) comes back beside its field, on the phone too.
    revisit.locator("label.choice", has=page.locator("[data-testid=outcome-no_rebound]")).click()
    revisit.locator("[name=finding]").evaluate("el => el.removeAttribute('required')")
    revisit.locator("[data-testid=record-revisit]").click()
    page.wait_for_load_state()
    assert page.locator("[data-testid=error-finding]").inner_text() == "必填"
    assert int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth")) <= 0
    page.locator("[data-testid=revisit]").screenshot(path=str(SHOTS / "07-phone-form.png"))
    page.screenshot(path=str(SHOTS / "07-phone-page.png"), full_page=True)
    context.close()
