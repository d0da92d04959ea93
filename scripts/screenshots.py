"""Screenshots of the main pages for the README, taken from the demo database in headless Chromium.

Run `make demo` first, then `.venv/bin/python scripts/screenshots.py`; the
pictures go to docs/screenshots/. The demo's clock is frozen in 2026, so the
pages are served with the clock at the demo's last moment.
"""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
import uvicorn
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from riverchief.bootstrap import App, bootstrap  # noqa: E402
from riverchief.demo.play import DEMO_PASSWORD  # noqa: E402
from riverchief.settings import Settings  # noqa: E402
from web.api import create_api  # noqa: E402
from workflow.core.actors import load_actor  # noqa: E402
from workflow.core.clock import FrozenClock  # noqa: E402
from workflow.core.services import IssueDraft, apply, report_issue  # noqa: E402

DATABASE = ROOT / "data" / "demo.db"
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"


def _fresh_work(app: App) -> str:
    """Two new hand-offs to 白马镇 at the demo's last moment; returns the one waiting for acceptance."""
    with app.reader() as uow:
        reporter = load_actor(uow.session, "tn-taian")
        receiver = load_actor(uow.session, "sn-baima")
    waiting = report_issue(
        app.uow(),
        reporter,
        IssueDraft(
            compact="QJ",
            title="白马镇段右岸生活污水直排",
            category="domestic_sewage",
            description="交叉巡河发现排口出水浑浊，有异味。",
            segment="qj-baima",
            lon=105.701,
            lat=30.2035,
        ),
    )
    apply(app.uow(), waiting.issue_code, "hand_off", reporter, {"receiving": "510904101"}, waiting.version)
    planning = report_issue(
        app.uow(),
        reporter,
        IssueDraft(
            compact="QJ",
            title="琼江白马段岸线堆放建筑垃圾",
            category="solid_waste",
            segment="qj-baima",
            lon=105.715,
            lat=30.24,
        ),
    )
    step = apply(app.uow(), planning.issue_code, "hand_off", reporter, {"receiving": "510904101"}, planning.version)
    apply(app.uow(), planning.issue_code, "accept", receiver, {}, step.version)
    return waiting.issue_code


def _revisiting(app: App) -> str | None:
    """An issue the auditor may revisit now, its revisit started, so the revisit form shows; None if none is closed."""
    with app.reader() as uow:
        auditor = load_actor(uow.session, "ngo-auditor")
        row = uow.connection.execute(
            sa.text("SELECT code, version, state FROM issue WHERE state IN ('du.revisiting', 'du.closed') ORDER BY id")
        ).first()
    if row is None:
        return None
    if row.state == "du.closed":
        apply(app.uow(), row.code, "start_revisit", auditor, {}, row.version)
    return str(row.code)


def main() -> None:
    """Serve the demo and photograph the pages each role starts from."""
    if not DATABASE.exists():
        raise SystemExit("run `make demo` first: data/demo.db is missing")
    engine = sa.create_engine(f"sqlite:///{DATABASE}")
    with engine.connect() as conn:
        last = conn.execute(sa.text("SELECT max(occurred_at) FROM event")).scalar()
    engine.dispose()
    now = datetime.fromisoformat(str(last)).replace(tzinfo=UTC)
    # A copy, so the demo stays as the demo left it; two fresh hand-offs give the queue something to show.
    scratch = Path(tempfile.mkdtemp()) / "demo.db"
    shutil.copy(DATABASE, scratch)
    shutil.copytree(DATABASE.parent / "attachments", scratch.parent / "attachments", dirs_exist_ok=True)
    app = bootstrap(Settings(data_dir=scratch.parent, database_url=f"sqlite:///{scratch}"), clock=FrozenClock(now))
    fresh = _fresh_work(app)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_api(app), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    OUT.mkdir(parents=True, exist_ok=True)
    revisiting = _revisiting(app)
    shots = [
        ("sn-baima", 360, "/queue", "queue-phone", "zh-CN"),
        ("tn-taian", 360, "/report", "report-phone", "zh-CN"),
        ("tn-taian", 360, "/patrols", "patrols-phone", "zh-CN"),
        ("sn-baima", 1200, f"/issues/{fresh}", "issue-desk", "zh-CN"),
        ("sn-baima", 1200, f"/issues/{fresh}", "issue-desk-en", "en"),
        ("qj-coord", 1200, "/dashboard", "dashboard-desk", "zh-CN"),
        ("ngo-auditor", 1200, "/revisits", "revisits-desk", "zh-CN"),
        ("ngo-auditor", 1200, "/revisits/report", "revisit-report-desk", "zh-CN"),
        ("qj-coord", 1200, "/map", "map-desk", "zh-CN"),
        ("qj-coord", 360, "/map", "map-phone", "zh-CN"),
        ("qj-coord", 1200, "/issues?phase=ban&order=due", "issues-desk", "zh-CN"),
        ("qj-coord", 1200, "/meetings/QJ-HY-2026-003", "meeting-desk", "zh-CN"),
    ]
    if revisiting:
        shots.append(("ngo-auditor", 1200, f"/issues/{revisiting}", "revisit-form-desk", "zh-CN"))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        for person, width, path, name, lang in shots:
            context = browser.new_context(viewport={"width": width, "height": 900}, locale=lang)
            page = context.new_page()
            after = f"/lang/{lang}?next={quote(path, safe='')}" if lang != "zh-CN" else path
            page.goto(f"{base}/login?next={quote(after, safe='/')}")
            page.fill("#person", person)
            page.fill("#password", DEMO_PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
            print(f"{name}: {path} as {person}")
            context.close()
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
