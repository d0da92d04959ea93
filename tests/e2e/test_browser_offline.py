"""A report made on a riverbank without signal, in a real headless Chromium at 360 × 740.

The chief opens the report page online (the service worker installs and takes the page over), loses the
signal, reports a problem with the phone's position: it is kept as a draft. The page reloads without signal
(from the worker's cache) and still lists the draft. When the signal returns the draft is sent, once: the
issue says when the problem was seen (not when it arrived) and where. A copy of the draft flushed again by
a second page makes nothing more. Screenshots of each step go to /tmp/shots-offline/.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.e2e.test_browser import PASSWORD, _photo, browser, site  # noqa: F401 (fixtures)
from tests.factories import REPORTER, World
from workflow.core.clock import SHANGHAI, FrozenClock
from workflow.core.models import Attachment, Event, IdempotencyKey, Issue

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

SHOTS = Path("/tmp/shots-offline")
RIVERBANK = {"longitude": 105.6234, "latitude": 30.1871, "accuracy": 12}
TITLE = "信号盲区：岸边新增排污管"


def issues_titled(world: World, title: str) -> list[sa.Row]:
    with world.app.uow() as uow:
        return list(uow.connection.execute(sa.select(Issue.__table__).where(Issue.__table__.c.title == title)))


def count(world: World, table: type) -> int:
    with world.app.uow() as uow:
        return int(uow.connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def real_now() -> datetime:
    return datetime.now(SHANGHAI).replace(microsecond=0)


@pytest.mark.slow
def test_a_report_made_without_signal_is_kept_and_sent_once_when_the_signal_returns(
    sqlite_world: World,
    clock: FrozenClock,
    site: str,  # noqa: F811 (a fixture)
    browser: object,  # noqa: F811
    tmp_path: Path,
) -> None:
    SHOTS.mkdir(exist_ok=True)
    clock.set(real_now())  # the phone's clock is the real one; the server's agrees with it
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 360, "height": 740},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        geolocation=RIVERBANK,
        permissions=["geolocation"],
        service_workers="allow",
    )
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: "Content Security Policy" in m.text and refused.append(m.text))
    page.goto(f"{site}/login?next=/report")
    page.fill("#person", REPORTER)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url("**/report")

    # Online: the worker installs, keeps the shell and takes the page over.
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.wait_for_function("caches.keys().then(names => names.some(n => n.startsWith('riverchief-pages-')))")
    page.screenshot(path=str(SHOTS / "1-online-report-page.png"), full_page=True)

    # No signal: the report is kept as a draft, with the moment and the place it was made.
    context.set_offline(True)
    form = page.locator("#report-form")
    form.locator("[name=category]").select_option("industrial_discharge")
    form.locator("[name=title]").fill(TITLE)
    form.locator("[name=description]").fill("管口直排入河，颜色发黄")
    form.locator("[data-locate]").click()
    expect(form.locator("[name=lon]")).to_have_value("105.623400")
    expect(form.locator("[name=lat]")).to_have_value("30.187100")
    form.locator("[name=photos]").set_input_files(str(_photo(tmp_path)))
    made_from = real_now()
    form.locator("button[type=submit]").click()
    banner = page.locator("[data-testid=drafts-banner]")
    expect(banner).to_have_text("无信号，已存为草稿")
    made_to = real_now()
    drafts = page.locator("[data-testid=drafts] li")
    expect(drafts).to_have_count(1)
    expect(drafts.first).to_contain_text(TITLE)
    expect(drafts.first).to_contain_text("105.62340, 30.18710 ±12 m")
    assert form.locator("[name=title]").input_value() == ""  # the form is free for the next problem
    page.screenshot(path=str(SHOTS / "2-offline-kept-as-draft.png"), full_page=True)
    assert issues_titled(sqlite_world, TITLE) == []

    # Still no signal: the page reloads from the worker's cache, and the draft is still there.
    reloaded = page.reload()
    assert reloaded is not None
    assert reloaded.from_service_worker
    expect(banner).to_have_text("1 条草稿待发送")
    expect(drafts).to_have_count(1)
    kept = page.evaluate("async () => { window.copy = (await RiverDrafts.list())[0]; return window.copy; }")
    assert kept["made_at"].endswith("+08:00")
    assert kept["position"] == {"lon": 105.6234, "lat": 30.1871, "accuracy": 12}
    assert kept["body"]["observed_at"] == kept["made_at"]
    page.screenshot(path=str(SHOTS / "3-offline-reloaded-from-the-worker.png"), full_page=True)

    # Some time later the signal returns (seconds here, minutes by the server's clock): the draft goes by itself.
    time.sleep(3)
    sent_at = real_now() + timedelta(minutes=2)
    clock.set(sent_at)
    context.set_offline(False)
    expect(banner).to_have_text("已发送", timeout=15000)
    expect(drafts).to_have_count(0)
    page.screenshot(path=str(SHOTS / "4-online-sent.png"), full_page=True)

    (issue,) = issues_titled(sqlite_world, TITLE)
    assert made_from <= issue.observed_at <= made_to
    assert issue.created_at == sent_at
    assert (sent_at - issue.observed_at).total_seconds() >= 120
    assert (issue.lon, issue.lat) == (105.6234, 30.1871)
    with sqlite_world.app.uow() as uow:
        payload = uow.connection.execute(
            sa.select(Event.__table__.c.payload).where(
                Event.__table__.c.issue_id == issue.id, Event.__table__.c.trigger == "report"
            )
        ).scalar_one()
    assert datetime.fromisoformat(payload["observed_at"]) == issue.observed_at
    assert count(sqlite_world, Attachment) == 1  # the photo, kept in the draft, went once the issue existed
    keys = count(sqlite_world, IdempotencyKey)

    # The same draft flushed again (a copy kept by a second tab, sent after the first): still one issue.
    page.evaluate("async () => { await RiverDrafts.keep(window.copy); }")
    second = context.new_page()
    replays: list[str] = []
    second.on(
        "response",
        lambda r: r.url.endswith("/api/v1/issues") and replays.append(r.headers.get("idempotent-replayed", "")),
    )
    second.goto(f"{site}/report")
    expect(second.locator("[data-testid=drafts-banner]")).to_have_text("已发送", timeout=15000)
    assert replays == ["true"]
    assert len(issues_titled(sqlite_world, TITLE)) == 1
    assert count(sqlite_world, Attachment) == 1
    assert count(sqlite_world, IdempotencyKey) == keys
    second.screenshot(path=str(SHOTS / "5-copy-sent-again-still-one.png"), full_page=True)

    # The issue's page says when it was seen beside when it arrived.
    second.goto(f"{site}/issues/{issue.code}")
    expect(second.locator("[data-testid=reported-at]")).to_have_text(sent_at.strftime("%Y-%m-%d %H:%M"))
    expect(second.locator("[data-testid=observed-at]")).to_have_text(
        issue.observed_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    )
    second.screenshot(path=str(SHOTS / "6-issue-page.png"), full_page=True)
    assert refused == []
    context.close()


@pytest.mark.slow
def test_a_draft_the_server_refuses_is_kept_with_the_reason_to_fix_or_discard_and_never_resent(
    sqlite_world: World,
    clock: FrozenClock,
    site: str,  # noqa: F811 (a fixture)
    browser: object,  # noqa: F811
) -> None:
    SHOTS.mkdir(exist_ok=True)
    clock.set(real_now())
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN", timezone_id="Asia/Shanghai")  # type: ignore[attr-defined]
    page = context.new_page()
    posts: list[int] = []
    page.on("response", lambda r: r.url.endswith("/api/v1/issues") and posts.append(r.status))
    page.goto(f"{site}/login?next=/report")
    page.fill("#person", REPORTER)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url("**/report")
    issues_before = count(sqlite_world, Issue)

    # Sent from the form and refused: the reason, by the field's label; the form keeps what was typed.
    form = page.locator("#report-form")
    page.evaluate("document.querySelector('#category').add(new Option('?', 'bogus', true, true))")
    form.locator("[name=title]").fill("类别有误的问题")
    form.locator("button[type=submit]").click()
    banner = page.locator("[data-testid=drafts-banner]")
    expect(banner).to_contain_text("未能发送，请修改或删除草稿：问题类别：'bogus' is not one of")
    assert form.locator("[name=title]").input_value() == "类别有误的问题"
    # Marked once the refused copy is discarded, which may be a moment after the banner says why: waited for.
    expect(form.locator("[name=category]")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("[data-testid=drafts] li")).to_have_count(0)  # the form is the draft to fix
    page.screenshot(path=str(SHOTS / "7-refused-from-the-form.png"), full_page=True)

    # A kept draft refused when the queue sends it stays, marked, and is not sent again by the queue.
    page.evaluate(
        """async () => {
            const body = {title: "队列中被拒的草稿", category: "bogus", observed_at: RiverDrafts.localIso(new Date())};
            await RiverDrafts.keep({url: "/api/v1/issues", body});
            await RiverDrafts.flush(true);
            await RiverDrafts.flush(true);
        }"""
    )
    drafts = page.locator("[data-testid=drafts] li")
    expect(drafts).to_have_count(1)
    expect(drafts.first).to_contain_text("未能发送，请修改或删除草稿：问题类别：")
    assert posts == [422, 422]  # the form's once, the queue's once: a refusal is final
    page.screenshot(path=str(SHOTS / "8-refused-draft-in-the-list.png"), full_page=True)

    # Fixing it puts it back in the form; a second one is discarded.
    drafts.first.get_by_role("button", name="修改").click()
    assert form.locator("[name=title]").input_value() == "队列中被拒的草稿"
    expect(drafts).to_have_count(0)
    page.evaluate(
        "async () => { await RiverDrafts.keep({url: '/api/v1/issues', body: {title: '另一条'}}); location.reload(); }"
    )
    page.wait_for_load_state()
    expect(drafts).to_have_count(1)
    drafts.first.get_by_role("button", name="删除草稿").click()
    expect(drafts).to_have_count(0)
    assert count(sqlite_world, Issue) == issues_before
    context.close()


@pytest.mark.slow
def test_a_server_error_is_retried_after_a_backoff_and_a_draft_waiting_for_another_goes_after_it(
    sqlite_world: World,
    clock: FrozenClock,
    site: str,  # noqa: F811 (a fixture)
    browser: object,  # noqa: F811
) -> None:
    clock.set(real_now())
    # Without the worker, so that the test can stand in for a failing server (page.route).
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN", service_workers="block")  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{site}/login?next=/report")
    page.fill("#person", REPORTER)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url("**/report")
    failed: list[str] = []

    def unavailable(route: object) -> None:
        failed.append(route.request.headers["idempotency-key"])  # type: ignore[attr-defined]
        route.fulfill(status=503, content_type="application/json", body="{}")  # type: ignore[attr-defined]

    page.route("**/api/v1/issues", unavailable)
    first, then, waits = page.evaluate(
        """async () => {
            const at = RiverDrafts.localIso(new Date());
            const url = "/api/v1/issues";
            const body = (title) => ({title, category: "other", observed_at: at});
            const first = await RiverDrafts.send({url, key: "draft-first", body: body("先报的排污口")});
            const then = await RiverDrafts.send({url, after: "draft-first", body: body("后报的垃圾")});
            const waits = (await RiverDrafts.list()).map((d) => d.next_at - Date.now());
            await RiverDrafts.flush();  // within the backoff: nothing is sent
            return [first, then, waits];
        }"""
    )
    assert first == {"kept": True, "key": "draft-first", "why": "server"}
    assert (then["kept"], then["why"]) == (True, "waiting")
    assert 3000 < waits[0] <= 5000  # the first retry after five seconds
    assert failed == ["draft-first"]  # once: not again within the backoff, and the second waited

    page.unroute("**/api/v1/issues")
    page.evaluate("RiverDrafts.flush(true)")
    expect(page.locator("[data-testid=drafts-banner]")).to_have_text("已发送", timeout=15000)
    (first_issue,) = issues_titled(sqlite_world, "先报的排污口")
    (second_issue,) = issues_titled(sqlite_world, "后报的垃圾")
    assert first_issue.id < second_issue.id
    assert page.evaluate("RiverDrafts.list().then((l) => l.length)") == 0
    context.close()
