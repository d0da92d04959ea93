"""查 on a phone, in a real headless Chromium at 360 px: the list and a case page fit the screen's width, and a
case is opened from its form by tapping (screenshots go to $RIVERCHIEF_SHOTS when set, else a temporary folder)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from tests.e2e.test_browser import browser, site  # noqa: F401 (fixtures)
from tests.factories import COORDINATOR, REPORTER, World
from workflow.enforcement.cases import link_issue, open_case
from workflow.enforcement.leads import transfer_lead

PASSWORD = "琼江清水长流-2026"
TAIAN, BAIMA = "500152102", "510904101"


@pytest.mark.slow
def test_the_list_and_a_case_fit_a_phone_and_a_case_is_opened_by_tapping(
    sqlite_world: World,
    site: str,  # noqa: F811 (the fixture)
    browser: object,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    shots = Path(os.environ.get("RIVERCHIEF_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    world = sqlite_world
    issue = world.report(title="琼江太安镇段夜间采砂船作业")
    code = open_case(
        world.app.uow(),
        world.actor(COORDINATOR),
        "QJ",
        "sand_mining",
        "琼江太安—白马交界水域非法采砂联合查处",
        [TAIAN, BAIMA],
        date(2026, 2, 27),
        team=["潼南区农业农村委员会综合行政执法支队", "遂宁市安居区水利局河道管理站", "太安镇派出所"],
        issues=[issue],
    )
    link_issue(world.app.uow(), world.actor(COORDINATOR), code, world.report(title="白马镇段岸边堆砂"))
    transfer_lead(
        world.app.uow(),
        world.actor(REPORTER),
        "QJ",
        TAIAN,
        "琼江沿岸非法排污公益诉讼线索",
        "潼南区人民检察院",
        date(2026, 2, 28),
        issue=issue,
        case=code,
    )
    context = browser.new_context(viewport={"width": 360, "height": 780}, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{site}/login")
    page.fill("#person", REPORTER)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()

    def fits(name: str) -> None:
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{name} is {width} px wide"

    page.click("nav.main >> text=联合执法")
    page.wait_for_load_state()
    assert page.locator("[data-testid=cases] li").count() == 1
    fits("list")
    page.click(f"[data-testid=cases] a[href='/cases/{code}']")
    page.wait_for_load_state()
    assert page.locator("[data-testid=linked-issues] li").count() == 2
    fits("case")

    page.goto(f"{site}/cases/new?issue={issue}")
    page.select_option("#c-kind", "fishing")
    page.fill("#c-title", "琼江交界电鱼联合查处")
    page.fill("#c-team", "潼南区渔政执法大队\n安居区渔政站")
    page.check(f"input[name=parties][value='{TAIAN}']")
    page.check(f"input[name=parties][value='{BAIMA}']")
    fits("case-new")
    page.click("[data-testid=open-case]")
    page.wait_for_load_state()
    assert page.url.endswith("?done=opened")
    assert page.locator("[data-testid=case-title]").inner_text() == "琼江交界电鱼联合查处"
    page.goto(f"{site}/leads/{'QJ-XS-2026-001'}")
    fits("lead")
    page.goto(f"{site}/issues/{issue}")
    assert page.locator("[data-testid=issue-enforcement] li").count() == 3  # two cases and a lead
    context.close()
