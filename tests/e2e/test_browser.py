"""One cross-border case through the pages, in a real headless Chromium, person by person.

A Tongnan chief reports a problem on the Suining bank from a phone and hands
it over; the Suining chief accepts, plans, reports progress and the work done;
both sides sign the joint check; the coordinator's dashboard counts the
closure; the auditor records a revisit. Each step is clicked through the pages,
and each person's view is checked for what they may and may not do.
"""

from __future__ import annotations

import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import uvicorn
from PIL import Image

from tests.factories import AUDITOR, COORDINATOR, RECEIVER, REPORTER, World
from web.api import create_api
from workflow.accounts.signin import set_password
from workflow.core.ledger import verify
from workflow.maps.layers import import_layers, read_layers
from workflow.patrols.pairings import add_pairing

CHROMIUM = Path("/usr/bin/chromium")
DEMO = Path(__file__).resolve().parents[2] / "riverchief" / "demo"
PASSWORD = "琼江清水长流-2026"

playwright = pytest.importorskip("playwright.sync_api")

if not CHROMIUM.exists():
    if os.environ.get("RIVERCHIEF_REQUIRE_BROWSER"):
        raise RuntimeError(f"RIVERCHIEF_REQUIRE_BROWSER is set but {CHROMIUM} is missing (Debian package chromium)")
    pytest.skip(f"no browser at {CHROMIUM} (Debian package chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def site(sqlite_world: World) -> Iterator[str]:
    """The app served on a loopback port with the demo's map, everyone with a password."""
    import_layers(sqlite_world.app.uow(), read_layers(DEMO, "qiongjiang"))
    # The two boundary chiefs across the 琼江 patrol each other's bank this year (交叉巡河).
    add_pairing(
        sqlite_world.app.uow(), "QJ", REPORTER, "qj-taian", RECEIVER, "qj-baima", date(2026, 1, 1), date(2026, 12, 31)
    )
    for person in (REPORTER, RECEIVER, COORDINATOR, AUDITOR):
        set_password(sqlite_world.app.uow(), person, PASSWORD)
    server = uvicorn.Server(
        uvicorn.Config(create_api(sqlite_world.app), host="127.0.0.1", port=_free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


def _photo(tmp_path: Path) -> Path:
    path = tmp_path / "现场.png"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 90, 60)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


class Person:
    """One person's browser: signs in, opens pages, fires actions through their forms."""

    def __init__(self, browser: object, site: str, code: str, *, width: int = 1200) -> None:
        self.site, self.code = site, code
        self.context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        # Whatever the pages' Content-Security-Policy blocks is reported on the console: none may be.
        self.refused: list[str] = []
        self.page.on("console", lambda m: "Content Security Policy" in m.text and self.refused.append(m.text))
        self.page.goto(f"{site}/")
        assert "/login" in self.page.url
        self.page.fill("#person", code)
        self.page.fill("#password", PASSWORD)
        self.page.click("form[action='/login'] button[type=submit]")
        self.page.wait_for_load_state()
        assert "/login" not in self.page.url

    def open(self, path: str) -> None:
        self.page.goto(f"{self.site}{path}")

    def actions(self) -> list[str]:
        return self.page.eval_on_selector_all("details.action", "els => els.map(e => e.dataset.trigger)")

    def act(self, trigger: str, **fields: str | list[str]) -> None:
        form = self.page.locator(f"details.action[data-trigger='{trigger}']")
        if form.get_attribute("open") is None:
            form.locator("summary").click()
        for name, value in fields.items():
            target = form.locator(f"[name='{name}']")
            if isinstance(value, list):
                for item in value:
                    form.locator(f"input[name='{name}'][value='{item}']").check()
            elif target.first.evaluate("e => e.tagName") == "SELECT":
                target.select_option(value)
            else:
                target.fill(value)
        form.locator("button[type=submit]").click()
        self.page.wait_for_load_state()

    def state(self) -> str:
        return self.page.locator("[data-testid=state]").inner_text()

    def overflow(self) -> int:
        return int(self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))

    def close(self) -> None:
        self.context.close()
        assert self.refused == [], self.refused


def test_a_cross_border_case_through_the_pages(sqlite_world: World, site: str, browser: object, tmp_path: Path) -> None:
    coordinator = Person(browser, site, COORDINATOR)
    coordinator.open("/dashboard")
    closed_before = int(coordinator.page.locator("[data-testid=figure-closed]").first.inner_text())

    # Tongnan's chief, on a phone at the riverbank, reports on the Suining side.
    tongnan = Person(browser, site, REPORTER, width=360)
    # The phone's clock agrees with the server's: a report says when it was made (observed_at).
    tongnan.context.clock.install(time=sqlite_world.clock.now())
    assert tongnan.page.locator("[data-testid=role]").inner_text() == "河长"
    tongnan.open("/report")
    assert tongnan.overflow() <= 0
    form = tongnan.page.locator("#report-form")
    assert form.locator("[data-testid=swap-context]").is_hidden()
    # A tap on the map sets a position inside the drawn compact.
    form.locator("svg[data-pick]").click()
    tapped = float(form.locator("[name=lon]").input_value()), float(form.locator("[name=lat]").input_value())
    assert 105.4 < tapped[0] < 106.1
    assert 29.9 < tapped[1] < 30.5
    form.locator("[name=category]").select_option("domestic_sewage")
    form.locator("[name=title]").fill("白马镇段排污口 <script>alert('x')</script>")
    form.locator("[name=description]").fill("雨后排污口直排，<b>水体发黑</b>")
    form.locator("[name=lon]").fill("105.70")
    form.locator("[name=lat]").fill("30.204")
    form.locator("[name=lat]").dispatch_event("change")
    # Routing names the place and its segment, and the side it goes to, before anything is sent: on the
    # neighbour's segment under a swap pairing the swap note names that side, and the route line does not again.
    routed = form.locator("[data-testid=route-result]")
    playwright.expect(routed).to_contain_text("琼江白马镇段")
    playwright.expect(form.locator("[name=segment]")).to_have_value("qj-baima")
    assert "建议接收方" not in routed.inner_text()
    swap = form.locator("[data-testid=swap-context]")
    assert swap.is_visible()
    assert "交叉巡河" in swap.inner_text()
    assert "白马镇" in swap.inner_text()
    form.locator("[name=photos]").set_input_files(str(_photo(tmp_path)))
    assert tongnan.page.locator("[data-previews] figure").count() == 1
    form.locator("button[type=submit]").click()
    tongnan.page.wait_for_url("**/issues/**")
    code = tongnan.page.url.split("/issues/")[1].split("?")[0]
    # User text is text: the title's tag shows as written and never runs.
    assert (
        tongnan.page.locator("[data-testid=issue-title]").inner_text() == "白马镇段排污口 <script>alert('x')</script>"
    )
    assert tongnan.page.locator("[data-testid=description]").inner_text() == "雨后排污口直排，<b>水体发黑</b>"
    assert tongnan.dialogs == []
    assert tongnan.page.locator("[data-testid=photos] img").count() == 1
    assert tongnan.overflow() <= 0
    assert "accept" not in tongnan.actions()
    assert tongnan.page.locator("[data-testid=proposed]").text_content().endswith("白马镇")
    tongnan.act("hand_off", receiving="510904101")
    assert tongnan.state() == "已交办待受理"
    assert tongnan.actions() == []

    # Suining's chief finds it waiting for acceptance, and only the receiving side's actions.
    suining = Person(browser, site, RECEIVER)
    suining.open("/queue")
    assert suining.page.locator("[data-testid=count-to_accept]").inner_text() == "1"
    suining.page.locator("[data-testid=list-to_accept] a").first.click()
    assert sorted(suining.actions()) == ["accept", "dispute", "mark_duplicate"]
    suining.act("accept")
    assert suining.state() == "已受理"
    suining.act("start_rectify", plan="封堵排污口并接入管网", deadline="2026-03-20")
    assert suining.state() == "整改中"
    suining.act("progress", note="已完成封堵", percent="60")
    suining.act("report_done", summary="排污口已封堵，管网已接通")
    assert suining.state() == "已整改待复核"
    assert "pass_check" not in suining.actions()
    assert "close" not in suining.actions()

    # Both sides sign the joint check; the reporting side closes.
    tongnan.open(f"/issues/{code}")
    tongnan.act("request_verify")
    checklist = ["photos", "site_check", "outfall_closed"]
    tongnan.act("pass_check", checklist=checklist)
    suining.open(f"/issues/{code}")
    assert "close" not in suining.actions()
    suining.act("pass_check", checklist=checklist)
    tongnan.open(f"/issues/{code}")
    tongnan.act("close")
    assert tongnan.state() == "已销号"

    # The coordinator's dashboard counts the closure; the coordinator cannot revisit.
    coordinator.open("/dashboard")
    assert int(coordinator.page.locator("[data-testid=figure-closed]").first.inner_text()) == closed_before + 1
    coordinator.open(f"/issues/{code}")
    assert "start_revisit" not in coordinator.actions()

    # The auditor finds the revisit planned and records it.
    auditor = Person(browser, site, AUDITOR)
    auditor.open("/revisits")
    assert code in auditor.page.locator("[data-testid=list-planned]").inner_text()
    auditor.open(f"/issues/{code}")
    assert "start_revisit" in auditor.actions()
    assert not {"request_verify", "pass_check", "fail_check"} & set(auditor.actions())
    auditor.act("start_revisit")
    revisit = auditor.page.locator("[data-testid=revisit] form")
    revisit.locator("[name=finding]").fill("回访未见反弹，排口保持封堵")
    revisit.locator("[data-testid=outcome-no_rebound]").check()
    revisit.locator("[data-testid=record-revisit]").click()
    auditor.page.wait_for_load_state()
    assert auditor.state() == "已销号"
    timeline = auditor.page.locator("[data-testid=timeline]").inner_text()
    assert "回访未见反弹" in timeline

    # Every step is in the ledger, and the chain holds.
    triggers = [e.trigger for e in sqlite_world.events(code)]
    assert triggers[:3] == ["report", "add_evidence", "hand_off"]
    assert triggers[-2:] == ["start_revisit", "no_rebound"]
    with sqlite_world.app.reader() as uow:
        assert verify(uow.session).findings == []
    for person in (coordinator, tongnan, suining, auditor):
        person.close()


def test_a_stale_page_says_someone_else_changed_it(sqlite_world: World, site: str, browser: object) -> None:
    code = sqlite_world.report()
    sqlite_world.fire(code, "hand_off", REPORTER, receiving="510904101")
    first = Person(browser, site, RECEIVER)
    second = Person(browser, site, RECEIVER)
    for person in (first, second):
        person.open(f"/issues/{code}")
    first.act("accept")
    second.act("dispute", reason="不属我方管辖")
    flash = second.page.locator("[data-testid=flash]")
    assert "已被他人更新" in flash.inner_text()
    assert [e.trigger for e in sqlite_world.events(code)][-1] == "accept"
    first.close()
    second.close()


def test_field_errors_show_beside_the_field(sqlite_world: World, site: str, browser: object) -> None:
    code = sqlite_world.report()
    sqlite_world.fire(code, "hand_off", REPORTER, receiving="510904101")
    sqlite_world.fire(code, "accept", RECEIVER)
    suining = Person(browser, site, RECEIVER, width=360)
    suining.open(f"/issues/{code}")
    # A date in the past passes the browser's own checks only when typed around them: send it as a person could.
    suining.page.locator("details.action[data-trigger='start_rectify'] summary").click()
    suining.page.eval_on_selector("[name=deadline]", "e => e.removeAttribute('min')")
    suining.act("start_rectify", plan="清淤", deadline="2026-01-05")
    error = suining.page.locator("[data-testid=error-deadline]")
    assert error.is_visible()
    assert suining.page.locator("[name=plan]").input_value() == "清淤"
    assert suining.state() == "已受理"
    assert suining.overflow() <= 0
    suining.close()
