"""A swap patrol on a phone, in a real headless Chromium at 360 px with its position moved along the river.

Tongnan's 太安镇 chief, paired with Suining's 白马镇 chief, starts a patrol of the
白马镇 bank, records a few positions (pausing once), reports an outfall from
inside the patrol, and ends it. The problem goes to the owner side at once,
is linked to the patrol, the track holds the positions walked, and the year's
scorecard counts a problem found on a swap patrol. Each step is screenshot
into /tmp/shots-patrol/ for a look at the phone layout.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.e2e.test_browser import PASSWORD, _photo, browser, playwright, site  # noqa: F401 (fixtures)
from tests.factories import REPORTER, World
from workflow.core.models import Attachment, Issue, Jurisdiction, Patrol, PatrolIssue, table_of
from workflow.patrols.scorecards import scorecard

SHOTS = Path("/tmp/shots-patrol")
# Along 琼江白马镇段 (qj-baima: 105.660,30.154 → 105.700,30.204 → 105.730,30.274), upstream to downstream.
WALK = [(105.662, 30.1565), (105.668, 30.1640), (105.674, 30.1715), (105.680, 30.1790), (105.686, 30.1865)]
OUTFALL = "domestic_sewage"  # 生活污染: its checklist closes the outfall (排污口已封堵或规范整治)


def _count(page: object, n: int) -> None:
    playwright.expect(page.locator("[data-testid=walked-points]")).to_have_text(str(n))  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_swap_patrol_walked_reported_from_inside_and_ended_on_a_phone(
    sqlite_world: World,
    site: str,  # noqa: F811
    browser: object,  # noqa: F811
    tmp_path: Path,
) -> None:
    SHOTS.mkdir(exist_ok=True)
    clock = sqlite_world.clock
    lon, lat = WALK[0]
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 360, "height": 740},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        geolocation={"longitude": lon, "latitude": lat, "accuracy": 8},
        permissions=["geolocation"],
    )
    # The phone's clock runs three minutes behind the server's frozen one; both move together. The patrol
    # starts off the whole second, so times on the phone's own clock would fall before it.
    clock.advance(seconds=0.4)
    behind = timedelta(minutes=3)
    context.clock.set_fixed_time(clock.now() - behind)
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: "Content Security Policy" in m.text and refused.append(m.text))
    page.on("pageerror", lambda e: refused.append(str(e)))
    keys: list[str | None] = []
    page.on(
        "request",
        lambda r: r.method == "POST" and "/api/v1/issues" in r.url and keys.append(r.headers.get("idempotency-key")),
    )

    def tick(minutes: int = 1) -> None:
        context.clock.set_fixed_time(clock.advance(minutes=minutes) - behind)

    def overflow() -> int:
        return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))

    page.goto(f"{site}/login?next=/patrols")
    page.fill("#person", REPORTER)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url("**/patrols")
    assert page.locator("nav.main a[href='/patrols']").inner_text() == "我的巡河"

    # The start form offers the neighbour's segment under the live pairing, said to be a swap patrol.
    start = page.locator("[data-testid=start-form]")
    swap_choice = start.locator("label.choice", has=page.locator("input[value='qj-baima']"))
    assert "交叉互巡" in swap_choice.inner_text()
    assert "白马镇的河段" in swap_choice.inner_text()
    swap_choice.click()
    page.screenshot(path=str(SHOTS / "01-my-patrols.png"), full_page=True)
    assert overflow() <= 0
    start.locator("button[type=submit]").click()
    page.wait_for_url("**/patrols/*")
    patrol_id = int(page.url.rsplit("/", 1)[1])
    assert "交叉互巡" in page.locator("[data-testid=kind]").inner_text()

    # A clear prompt before the browser asks for the position.
    walk = page.locator("[data-testid=walk]")
    assert "位置只用于记录本次巡河的轨迹" in walk.inner_text()
    page.screenshot(path=str(SHOTS / "02-before-recording.png"), full_page=True)

    tick()
    walk.locator("[data-track-start]").click()
    _count(page, 1)
    for n, (lon, lat) in enumerate(WALK[1:3], start=2):
        tick()
        context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 8})
        _count(page, n)
    page.screenshot(path=str(SHOTS / "03-walking.png"), full_page=True)

    # A pause, then on again: the track goes on in a second run.
    walk.locator("[data-pause]").click()
    assert walk.locator("[data-resume]").is_visible()
    page.screenshot(path=str(SHOTS / "04-paused.png"), full_page=True)
    tick(5)
    context.set_geolocation({"longitude": WALK[3][0], "latitude": WALK[3][1], "accuracy": 8})
    walk.locator("[data-resume]").click()
    _count(page, 4)
    tick()
    context.set_geolocation({"longitude": WALK[4][0], "latitude": WALK[4][1], "accuracy": 8})
    _count(page, 5)
    assert walk.locator("[data-testid=walked-distance]").inner_text().endswith("公里")

    # A reload loses nothing walked.
    page.reload()
    _count(page, 5)

    # An outfall found on the way, reported from inside the patrol with the current position.
    found = page.locator("[data-testid=found]")
    found.locator("summary").click()
    form = found.locator("form")
    playwright.expect(form.locator("[data-report-position]")).to_contain_text("105.686")
    form.locator("[name=category]").select_option(OUTFALL)
    form.locator("[name=title]").fill("白马镇段岸边排污口 <b>直排</b>")
    form.locator("[name=description]").fill("排污口有灰黑色污水直排入河")
    form.locator("[name=photo]").set_input_files(str(_photo(tmp_path)))
    page.screenshot(path=str(SHOTS / "05-report-form.png"), full_page=True)
    # No signal: the report is kept on the phone with the moment and the place it was made; the page is
    # reloaded without signal (the shell from the service worker), time passes, and when the signal comes
    # back the draft is sent once, by itself.
    context.set_offline(True)
    seen_at = clock.now()
    form.locator("button[type=submit]").click()
    status = form.locator("[data-testid=report-status]")
    playwright.expect(status).to_contain_text("无信号，已存为草稿，有信号后自动发送")
    page.screenshot(path=str(SHOTS / "05b-no-signal.png"), full_page=True)
    page.reload()
    _count(page, 5)
    playwright.expect(page.locator("[data-drafts-banner]")).to_contain_text("1")
    page.screenshot(path=str(SHOTS / "05c-offline-reload.png"), full_page=True)
    tick(4)
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    problems = page.locator("[data-testid=problems] li")
    playwright.expect(problems).to_have_count(1, timeout=20_000)
    issue_posts = {k for k in keys if k is not None}
    assert len(issue_posts) == 1, issue_posts  # the report under one key however often tried (photos go by SHA-256)
    assert problems.count() == 1
    assert "白马镇段岸边排污口 <b>直排</b>" in problems.first.inner_text()
    page.screenshot(path=str(SHOTS / "06-reported.png"), full_page=True)
    assert overflow() <= 0

    # Stop, with a confirmation first.
    tick()
    walk.locator("[data-stop]").click()
    confirm = walk.locator("[data-stop-confirm]")
    assert confirm.is_visible()
    page.screenshot(path=str(SHOTS / "07-confirm-stop.png"), full_page=True)
    ended_at = clock.now()
    confirm.locator("[data-stop-yes]").click()
    playwright.expect(page.locator("[data-testid=ended]")).to_be_visible()
    assert page.locator("svg[data-testid=map] polyline.track").count() == 2
    page.screenshot(path=str(SHOTS / "08-ended.png"), full_page=True)
    assert overflow() <= 0
    assert page.evaluate(f"localStorage.getItem('patrol:{patrol_id}')") is None

    page.goto(f"{site}/patrols")
    assert page.locator(f"[data-testid=patrol-{patrol_id}] a.code").count() == 1
    page.screenshot(path=str(SHOTS / "09-my-patrols-after.png"), full_page=True)
    context.close()
    assert refused == []

    issue, link, juris, patrol_t = table_of(Issue), table_of(PatrolIssue), table_of(Jurisdiction), table_of(Patrol)
    attachment = table_of(Attachment)
    with sqlite_world.app.reader() as uow:
        conn = uow.connection
        reported = conn.execute(
            sa.select(
                issue.c.id,
                issue.c.code,
                issue.c.state,
                juris.c.code.label("receiving"),
                issue.c.lon,
                issue.c.observed_at,
                issue.c.created_at,
            )
            .join(juris, juris.c.id == issue.c.receiving_jurisdiction_id)
            .where(issue.c.title == "白马镇段岸边排污口 <b>直排</b>")
        ).all()
        assert len(reported) == 1  # one issue, however often the draft was tried
        reported = reported[0]
        photos = conn.execute(
            sa.select(sa.func.count()).select_from(attachment).where(attachment.c.issue_id == reported.id)
        ).scalar_one()
        linked = conn.execute(sa.select(link.c.patrol_id).where(link.c.issue_id == reported.id)).scalar_one()
        patrol = conn.execute(sa.select(patrol_t).where(patrol_t.c.id == patrol_id)).one()
        card = scorecard(conn, REPORTER, 2026, clock.now() + timedelta(days=1))
    assert reported.receiving == "510904101"  # 白马镇, the owner side of qj-baima
    assert reported.state == "ban.handed_off"
    assert reported.lon == pytest.approx(WALK[4][0])
    # When it was seen is the offline moment (on the server's clock: the phone's runs behind), not the send.
    assert abs((reported.observed_at - seen_at).total_seconds()) < 1
    assert (reported.created_at - seen_at).total_seconds() >= 4 * 60
    assert photos == 1
    assert linked == patrol_id
    assert patrol.kind == "swap"
    assert patrol.ended_at is not None
    assert patrol.ended_at.replace(tzinfo=ended_at.tzinfo) == ended_at
    track = patrol.track
    geometry = track.get("geometry", track)
    assert geometry["type"] == "MultiLineString"
    walked = [tuple(p) for run in geometry["coordinates"] for p in run]
    assert walked == WALK
    assert patrol.length_m > 2000
    assert card.swap_patrols == 1
    assert card.issues_found_on_patrols == 1
