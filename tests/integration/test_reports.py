"""The PDF reports as a reader gets them: Chinese text, figures, fonts and metadata; safe to render; filed and checked.

The realistic data comes from the demo (``riverchief.demo.play.run``: five issues over simulated months,
bulletins, a joint meeting, a rebound and a revisit). It is built once per module and every report is
rendered from it once; the PDFs are read back with poppler (``pdftotext -layout``, ``pdffonts``,
``pdfinfo``, ``pdftoppm``), never through the code that made them. Tests that file reports work on
their own copy of the demo database.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
import shutil
import sqlite3
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from PIL import Image
from rich.console import Console
from weasyprint import HTML

from reports import builders, fetcher, fonts
from reports import render as render_module
from reports.builders import BULLETIN_CODES_LISTED, Built
from reports.fetcher import ASSETS, RefusedResource, SafeFetcher
from reports.fonts import MissingFont, check_cjk_font
from reports.render import ReportRenderer
from riverchief.bootstrap import App, bootstrap
from riverchief.demo.play import run
from riverchief.reporting import daily_reports, make, make_and_file, monthly_reports, quarterly_reports
from riverchief.settings import Settings
from states import CHART
from states.words import WORDS
from tests.factories import RECEIVING_CODE, REPORTER, Cli, World, walk_to
from workflow.core.clock import SHANGHAI, FrozenClock
from workflow.core.filing import file_report, verify_reports
from workflow.core.ledger import verify
from workflow.core.models import Bulletin, Compact, Event, Issue, ReportFile, table_of
from workflow.reading.figures import FIGURES

COMPACT_NAME = "琼江流域跨界河流联防联控"
DEMO_CODES = tuple(f"QJ-2026-{n:04d}" for n in range(1, 6))  # the five played scenarios
# ... and the two the patrols find: one on a swap patrol, one on a covert inspection.
LEDGER_CODES = tuple(f"QJ-2026-{n:04d}" for n in range(1, 8))
AFTER_DEMO = datetime(2026, 8, 3, 9, 0, tzinfo=SHANGHAI)  # a Monday after the demo's last step (2026-07-27)

# Each PDF the module renders from the demo: name -> (kind, options of riverchief.reporting.make).
PDFS: dict[str, tuple[str, dict[str, str]]] = {
    "followup": ("followup", {"issue": "QJ-2026-0001"}),
    **{f"followup {code}": ("followup", {"issue": code}) for code in DEMO_CODES[1:]},
    "bulletin": ("bulletin", {"period": "2026-03"}),
    "bulletin 2026-04": ("bulletin", {"period": "2026-04"}),
    "revisit": ("revisit", {"period": "2026-04"}),
    "minutes": ("minutes", {"period": "2026-03"}),
    "ledger": ("ledger", {}),
}
KINDS = ("followup", "bulletin", "revisit", "minutes", "ledger")  # one PDF of each kind, by its name in PDFS

# The title each kind carries in its metadata, and keywords it must have.
TITLES = {
    "followup": "跨界问题跟踪报告",
    "bulletin": "跨界问题整改情况通报（2026年3月）",
    "revisit": "跨界问题“回头看”回访报告",
    "minutes": "跨界问题联席会议纪要（2026年3月）",
    "ledger": "跨界问题台账（2026年3月）",  # the range it covers: the demo's issues were all reported in March
}
KEYWORDS = {
    "followup": ("河长制", "跟踪报告", "QJ-2026-0001"),
    "bulletin": ("河长制", "月通报", "2026-03"),
    "revisit": ("河长制", "回访报告", "2026-04"),
    "minutes": ("河长制", "会议纪要", "2026-03"),
    "ledger": ("河长制", "台账"),
}


# -- helpers ---------------------------------------------------------------------------------------


def poppler(*args: str | Path) -> str:
    """Run a poppler tool and return its stdout (UTF-8)."""
    done = subprocess.run([str(a) for a in args], capture_output=True, check=True, timeout=60)
    return done.stdout.decode("utf-8")


def pdf_text(path: Path) -> str:
    """The page text as ``pdftotext -layout`` lays it out."""
    return poppler("pdftotext", "-layout", "-enc", "UTF-8", path, "-")


def flat(text: str) -> str:
    """Text without any whitespace, to find a phrase the layout wrapped across lines."""
    return re.sub(r"\s+", "", text)


def pdf_raw(path: Path) -> str:
    """The text in drawing order (``pdftotext -raw``), whitespace removed: a table cell's wrapped lines follow each
    other here, so a phrase is found wherever the column width happened to wrap it."""
    return flat(poppler("pdftotext", "-raw", "-enc", "UTF-8", path, "-"))


def pdf_images(path: Path) -> list[tuple[int, int]]:
    """Width and height of each image drawn in the PDF (``pdfimages -list``)."""
    rows = poppler("pdfimages", "-list", path).splitlines()[2:]
    return [(int(r.split()[3]), int(r.split()[4])) for r in rows if r.split()[2] == "image"]


def pdf_info(path: Path) -> dict[str, str]:
    """``pdfinfo``'s fields."""
    lines = poppler("pdfinfo", "-enc", "UTF-8", path).splitlines()
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in lines)}


def pdf_fonts(path: Path) -> dict[str, bool]:
    """Each font of the PDF (subset prefix removed) and whether it is embedded, from ``pdffonts``."""
    found = {}
    for line in poppler("pdffonts", path).splitlines()[2:]:
        match = re.search(r"\s(yes|no)\s+(?:yes|no)\s+(?:yes|no)\s+\d+\s+\d+\s*$", line)
        assert match, line
        found[line.split()[0].split("+")[-1]] = match.group(1) == "yes"
    return found


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database, WAL included."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def open_app(database: Path, data_dir: Path) -> App:
    """The application on a SQLite file, its clock frozen after the demo's last step."""
    return bootstrap(Settings(database_url=f"sqlite:///{database}", data_dir=data_dir), clock=FrozenClock(AFTER_DEMO))


def timeline_row(lines: list[str], seq: int, at: datetime, label: str) -> bool:
    """Whether the follow-up's timeline has row ``seq`` with the step's local date and time and its label.

    The row's first line reads ``seq  date  label...``; its second ``time  rest-of-label`` when the
    label wrapped in its narrow column.
    """
    local = at.astimezone(SHANGHAI)
    day, clock = local.strftime("%Y-%m-%d"), local.strftime("%H:%M")
    for i, line in enumerate(lines):
        first = re.match(rf"\s*{seq}\s+{day}\s+(\S+)", line)
        if not first or not label.startswith(first.group(1)):
            continue
        rest = label[len(first.group(1)) :]
        following = next((n for n in lines[i + 1 :] if n.strip()), "")
        second = re.match(rf"\s*{clock}(?:\s+(\S+))?", following)
        if second and (not rest or second.group(1) == rest):
            return True
    return False


def count(app: App, table: Any, *where: Any) -> int:
    """Rows of a table matching the conditions."""
    with app.reader() as uow:
        return int(uow.connection.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())


def report_rows(app: App) -> list[Any]:
    """The archive's records in order, with their issue's code."""
    files, issues = table_of(ReportFile), table_of(Issue)
    with app.reader() as uow:
        return list(
            uow.connection.execute(
                sa.select(files, issues.c.code.label("issue_code"))
                .outerjoin(issues, issues.c.id == files.c.issue_id)
                .order_by(files.c.id)
            ).all()
        )


def issue_events(app: App, code: str) -> list[Any]:
    """An issue's ledger events in order."""
    events, issues = table_of(Event), table_of(Issue)
    with app.reader() as uow:
        return list(
            uow.connection.execute(
                sa.select(events)
                .join(issues, issues.c.id == events.c.issue_id)
                .where(issues.c.code == code)
                .order_by(events.c.seq)
            ).all()
        )


def archive_problems(app: App) -> list[str]:
    """What ``verify_reports`` finds in the archive."""
    with app.reader() as uow:
        return verify_reports(uow.connection, app.settings.data_dir)


def ledger_ok(app: App) -> bool:
    """Whether every issue's chain verifies."""
    with app.reader() as uow:
        return verify(uow.session).ok


def cli_ledger_verify(app: App) -> subprocess.CompletedProcess[str]:
    """``riverchief ledger verify`` run as a user runs it, in the app's data folder (its ``riverchief.db``)."""
    assert app.settings.resolved_database_url() == f"sqlite:///{app.settings.data_dir / 'riverchief.db'}"
    # rich wraps at the terminal width: keep each problem on one line
    return Cli(app.settings.data_dir, env={"COLUMNS": "250"})("ledger", "verify")


@dataclass(frozen=True, slots=True)
class Rendered:
    """One report made from the demo, written to a file and read back."""

    built: Built
    path: Path
    text: str  # pdftotext -layout
    raw: str  # pdftotext -raw, without whitespace


@dataclass
class Listener:
    """A local HTTP server that counts every request made to it."""

    port: int
    paths: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        """An address on the listener."""
        return f"http://127.0.0.1:{self.port}{path}"


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's database: the 琼江 compact and five issues played over simulated months."""
    database = tmp_path_factory.mktemp("demo") / "demo.db"
    assert run(Console(file=io.StringIO()), database, file_reports=False, meetings=False), "the ledger does not verify"
    return database


@pytest.fixture(scope="module")
def demo_app(demo_db: Path) -> Iterator[App]:
    """The application on the demo database, only read from."""
    app = open_app(demo_db, demo_db.parent)
    yield app
    app.engine.dispose()


@pytest.fixture(scope="module")
def rendered(demo_app: App, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendered]:
    """Every PDF of PDFS, rendered once, with its text."""
    folder = tmp_path_factory.mktemp("pdf")
    out = {}
    for name, (kind, options) in PDFS.items():
        built = make(demo_app, kind, **options)
        path = folder / f"{name.replace(' ', '-')}.pdf"
        path.write_bytes(built.content)
        out[name] = Rendered(built, path, pdf_text(path), pdf_raw(path))
    return out


@pytest.fixture
def filing_app(demo_db: Path, tmp_path: Path) -> Iterator[App]:
    """The application on a copy of the demo database and its attachment store, with no report filed yet."""
    copy_database(demo_db, tmp_path / "riverchief.db")
    shutil.copytree(demo_db.parent / "attachments", tmp_path / "attachments")
    app = open_app(tmp_path / "riverchief.db", tmp_path)
    yield app
    app.engine.dispose()


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A threaded HTTP server on a free local port; proven to answer before the test starts."""
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            body = b"body { background: red }"
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    probe = Listener(server.server_address[1], paths)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(probe.url("/probe"), timeout=5) as response:
        response.read()
    assert paths == ["/probe"], "the listener does not answer"
    paths.clear()
    yield probe
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# -- what the reports say --------------------------------------------------------------------------


def test_the_follow_up_names_the_issue_its_parties_category_and_ledger_head(
    rendered: dict[str, Rendered], demo_app: App
) -> None:
    text = rendered["followup"].text
    for phrase in (
        "跨界问题跟踪报告",
        "QJ-2026-0001",
        "白马镇段右岸生活污水直排",
        "太安镇",
        "白马镇",
        "生活污染",
        "已归档",
        "陈志强",
        "琼江 / 琼江白马镇段",
        "问题位置",  # the map's marker
        COMPACT_NAME,
    ):
        assert phrase in text, phrase
    assert "交叉互巡中发现一处生活污水排口，污水直排琼江，有异味。" in rendered["followup"].raw
    with demo_app.reader() as uow:
        head = uow.connection.execute(
            sa.select(table_of(Issue).c.ledger_head).where(table_of(Issue).c.code == "QJ-2026-0001")
        ).scalar_one()
    assert head in text


@pytest.mark.parametrize("code", DEMO_CODES)
def test_every_step_of_the_follow_up_timeline_is_printed_with_its_label_and_local_time(
    code: str, rendered: dict[str, Rendered], demo_app: App
) -> None:
    text = rendered["followup" if code == DEMO_CODES[0] else f"followup {code}"].text
    lines = text.splitlines()
    events = [e for e in issue_events(demo_app, code) if e.trigger != "file_report"]  # filings are bookkeeping
    assert events
    missing = [
        (e.seq, e.trigger)
        for e in events
        if not timeline_row(lines, e.seq, e.occurred_at, CHART.trigger_label(e.trigger))
    ]
    assert not missing, f"timeline rows not found in the PDF: {missing}"
    rows = [line for line in lines if re.match(r"\s*\d+\s+\d{4}-\d\d-\d\d\s", line)]
    assert len(rows) == len(events), "the timeline has rows that are not ledger events"


def test_the_follow_up_timeline_names_places_parties_and_checklist_items_not_their_codes(
    rendered: dict[str, Rendered],
) -> None:
    # A reader knows places, sides and checklist items by name, not by code (qj-baima, 510904101, outfall_closed).
    text = rendered["followup"].text
    codes = [code for code in ("qj-baima", "510904101", "outfall_closed", "site_check") if code in text]
    assert not codes, f"the timeline prints codes where a reader needs names: {codes}"


@pytest.mark.parametrize("name", ["bulletin", "bulletin 2026-04"])
def test_the_bulletin_prints_the_stored_figures_of_the_month_and_the_year(
    name: str, rendered: dict[str, Rendered], demo_app: App
) -> None:
    period = PDFS[name][1]["period"]
    with demo_app.reader() as uow:
        stored = uow.session.execute(
            sa.select(Bulletin).join(Compact).where(Compact.code == "QJ", Bulletin.period == period)
        ).scalar_one()
        figures, parties = stored.figures, stored.parties
    text = rendered[name].text
    month, year = figures["month"], figures["year_to_date"]
    for key, _ in FIGURES:
        label = WORDS[f"bulletin.figure.{key}"][0]
        row = rf"^\s*{label}\s+{month.get(key, 0)}\s+{year.get(key, 0)}\s*$"
        assert re.search(row, text, re.MULTILINE), f"{label}: expected {month.get(key, 0)} / {year.get(key, 0)}"
        # each bar of the two charts carries its label and value
        assert re.search(rf"^\s*{label}\s+{month.get(key, 0)}\s*$", text, re.MULTILINE), f"month chart: {label}"
        assert re.search(rf"^\s*{label}\s+{year.get(key, 0)}\s*$", text, re.MULTILINE), f"year chart: {label}"
    assert re.search(rf"^\s*超期事项\s+{month['overdue']}\s+—\s*$", text, re.MULTILINE)
    assert f"跨界问题整改情况通报（{period[:4]}年{int(period[5:])}月）" in text
    for party in parties:
        assert party["jurisdiction"] in text
        for chief in party["chiefs"]:
            assert chief in text
        for issue in party["issues"]:
            assert issue in text
    if not parties:
        assert "本月无超期单位" in text


def test_the_march_bulletin_names_the_township_that_missed_its_deadline(rendered: dict[str, Rendered]) -> None:
    text = rendered["bulletin"].text
    assert re.search(r"^\s*1\s+安居镇\s+郑国华\s+QJ-2026-0003\s*$", text, re.MULTILINE)


def test_the_revisit_report_counts_the_revisits_and_names_the_rebound_and_the_auditor(
    rendered: dict[str, Rendered],
) -> None:
    text, raw = rendered["revisit"].text, rendered["revisit"].raw
    assert "跨界问题“回头看”回访报告" in text
    assert "共回访1个问题，其中未反弹0个，反弹1个" in raw
    for phrase in (
        "白马镇段右岸生活污水直排",
        "太安镇→白马镇",
        "排口附近新设暗管，雨天仍有污水溢流反弹邓清源2026-04-17",
    ):
        assert phrase in raw, phrase
    assert "重庆市公众河流环保文化中心" in text


def test_the_minutes_list_the_meeting_its_attendees_topic_and_resolution(rendered: dict[str, Rendered]) -> None:
    text, raw = rendered["minutes"].text, rendered["minutes"].raw
    assert "2026-03-16 区县级联席会议" in text
    for phrase in (
        "参会人员：杨光辉（龙台镇镇级河长）、王建国（崇龛镇镇级河长）、许慧敏（联席会议协调人）",
        "龙台镇段上游养殖场粪污入河",
        "龙台—崇龛跨界养殖污染责任划分",
        "崇龛镇→龙台镇",
        "龙台镇牵头整改，崇龛镇配合监测",
        "养殖场粪污设施改造，建设沉淀池",
        "龙台镇2026-04-14",
    ):
        assert phrase in raw, phrase


def test_the_ledger_pdf_has_one_row_per_issue_with_its_parties_and_state(rendered: dict[str, Rendered]) -> None:
    text = rendered["ledger"].text
    assert "跨界问题台账（2026年3月）" in text
    assert "报告的跨界问题，共7条" in rendered["ledger"].raw
    rows: dict[str, str] = {}
    for found in re.finditer(r"^\s*(QJ-2026-\d{4})\s.*$", text, re.MULTILINE):
        rows.setdefault(found.group(1), found.group(0))  # the table's row; the full chain heads follow at the end
    assert sorted(rows) == list(LEDGER_CODES)
    assert re.search(r"太安镇\s+白马镇\s+已归档", rows["QJ-2026-0001"])
    assert re.search(r"太安镇\s+—\s+不予立案", rows["QJ-2026-0005"])


@pytest.mark.parametrize(
    ("name", "codes"),
    [
        ("followup", ("QJ-2026-0001",)),
        ("bulletin", ("QJ-2026-0003",)),
        ("revisit", ("QJ-2026-0001",)),
        ("minutes", ("QJ-2026-0002",)),
        ("ledger", LEDGER_CODES),
    ],
)
def test_issue_codes_are_printed_whole_so_a_reader_can_find_them(
    name: str, codes: tuple[str, ...], rendered: dict[str, Rendered]
) -> None:
    # An issue code broken across lines ("QJ-2026-00 / 01") cannot be searched for or read aloud.
    text = rendered[name].text
    split = [code for code in codes if code not in text]
    assert not split, f"issue codes broken across lines in the {name} PDF: {split}"


def test_the_ledger_pdf_is_not_dated_before_the_events_it_shows(rendered: dict[str, Rendered]) -> None:
    # A ledger dated before the closures it lists would mislead whoever files it.
    text = rendered["ledger"].text
    generated = re.search(r"生成时间\s*(\d{4}-\d\d-\d\d)", text)
    assert generated
    shown = max(re.findall(r"\b\d{4}-\d\d-\d\d\b", text))
    assert generated.group(1) >= shown, f"dated {generated.group(1)}, shows events up to {shown}"


# -- fonts and metadata ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", KINDS)
def test_each_pdf_embeds_the_simplified_chinese_font(name: str, rendered: dict[str, Rendered]) -> None:
    embedded = pdf_fonts(rendered[name].path)
    assert embedded.get("Noto-Sans-CJK-SC") is True, embedded
    assert all(embedded.values()), f"fonts not embedded: {[f for f, e in embedded.items() if not e]}"


@pytest.mark.parametrize("name", KINDS)
def test_each_pdf_carries_its_title_the_compact_as_author_and_its_keywords(
    name: str, rendered: dict[str, Rendered]
) -> None:
    info = pdf_info(rendered[name].path)
    assert info.get("Title") == TITLES[name]
    assert info.get("Author") == COMPACT_NAME
    keywords = [k.strip() for k in info.get("Keywords", "").split(",")]
    missing = [k for k in KEYWORDS[name] if k not in keywords]
    assert not missing, f"keywords missing from the {name} PDF: {missing} (has {info.get('Keywords')!r})"


def test_the_follow_up_is_dated_by_its_last_event_not_by_the_clock(rendered: dict[str, Rendered]) -> None:
    info = pdf_info(rendered["followup"].path)
    assert info["CreationDate"].startswith("Mon Jul 27 03:00:00 2026")  # 11:00 in Shanghai, the archive step
    assert "生成时间2026-07-2711:00（北京时间）" in rendered["followup"].raw


def test_the_follow_up_shows_the_issues_site_photos_from_the_attachment_store(rendered: dict[str, Rendered]) -> None:
    raw = rendered["followup"].raw
    assert "六、现场照片" in raw
    for caption in ("排口现场（整改前）", "排口封堵后（整改后）", "90日回头看现场"):
        assert caption in raw, caption
    assert pdf_images(rendered["followup"].path) == [(640, 400)] * 3


def test_a_follow_up_without_photos_has_no_photo_section(rendered: dict[str, Rendered]) -> None:
    assert "现场照片" not in rendered["followup QJ-2026-0002"].raw
    assert pdf_images(rendered["followup QJ-2026-0002"].path) == []


# -- layout: the 序号 column, map labels, the signature block ---------------------------------------

TEMPLATES = Path(builders.__file__).parent / "templates"


class HtmlOnly(ReportRenderer):
    """A renderer that hands back the HTML it would print, to read the markup without laying out a PDF."""

    def render(self, template: str, info: Any, *, archival: bool = False, **context: Any) -> bytes:
        return self.html(template, info, **context).encode()


@pytest.fixture(scope="module")
def report_html(demo_app: App) -> dict[str, str]:
    """The HTML of a few reports made from the demo."""
    html = HtmlOnly(demo_app.settings.data_dir / "attachments")
    with demo_app.reader() as uow:
        conn = uow.connection
        built = {
            "followup": builders.followup(html, conn, "QJ-2026-0002"),
            "bulletin": builders.bulletin(html, conn, "QJ", "2026-03"),
            "revisit": builders.revisit(html, conn, "QJ", "2026-04"),
            "minutes": builders.minutes(html, conn, "QJ", "2026-03"),
        }
    return {name: b.content.decode() for name, b in built.items()}


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("bulletin", r"序号\s+单位\s+河长\s+超期问题"),
        ("followup", r"序号\s+时间\s+环节\s+状态变化\s+经办\s+内容"),  # its column was too narrow: 序 / 号
        ("revisit", r"序号\s+编号\s+问题"),
    ],
)
def test_the_number_column_header_is_printed_on_one_line_with_its_neighbours(
    name: str, header: str, rendered: dict[str, Rendered]
) -> None:
    assert re.search(header, rendered[name].text), rendered[name].text[:2000]


def test_every_number_column_takes_its_width_and_no_wrap_from_the_stylesheet() -> None:
    for template in TEMPLATES.glob("*.html.j2"):
        source = template.read_text()
        heads = re.findall(r"""<th[^>]*>\{\{ t\("common\.seq"\) \}\}</th>""", source)
        assert all(re.fullmatch(r'<th class="(num )?seq">.*</th>', h) for h in heads), (template.name, heads)
        # The table's first column is the 序号 column, sized by col.seq, not by an inline width.
        assert source.count('<colgroup><col class="seq">') == len(heads), template.name


def _crosses(halo: tuple[float, float, float, float], points: list[tuple[float, float]], half_stroke: float) -> bool:
    x, y, w, h = halo
    for (ax, ay), (bx, by) in itertools.pairwise(points):
        for i in range(101):
            px, py = ax + (bx - ax) * i / 100, ay + (by - ay) * i / 100
            if x - half_stroke < px < x + w + half_stroke and y - half_stroke < py < y + h + half_stroke:
                return True
    return False


@pytest.mark.parametrize(
    "course",
    [
        [[105.50, 30.05], [105.60, 30.11]],  # up and to the right: the old place, above right of the start, was on it
        [[105.60, 30.05], [105.50, 30.11]],  # up and to the left
        [[105.50, 30.11], [105.60, 30.05]],  # down and to the right
        [[105.55, 30.05], [105.55, 30.12]],  # due north, the start at the bottom edge
        [[105.50, 30.08], [105.60, 30.08]],  # due east, the start at the left edge
        [[105.50, 30.05], [105.51, 30.10], [105.60, 30.10], [105.52, 30.06]],  # doubling back past its start
    ],
)
def test_map_labels_are_off_the_line_and_inside_the_figure(course: list[list[float]]) -> None:
    from reports.figures import map_figure

    (lon0, lat0), (lon1, lat1) = course[0], course[1]
    point = ((lon0 + lon1) / 2, (lat0 + lat1) / 2)  # on the line
    m = map_figure(course, point, "琼江龙台镇段")
    assert m is not None
    assert m.segment_label is not None
    assert m.point_label is not None
    line = [(float(x), float(y)) for x, y in (xy.split(",") for xy in m.line.split())]
    for label in (m.segment_label, m.point_label):
        x, y, w, h = label.halo
        assert 0 <= x <= x + w <= m.width, label
        assert 0 <= y <= y + h <= m.height, label
        assert not _crosses(label.halo, line, 2.5), label  # the line is 5 px wide


def test_the_map_draws_each_label_last_on_a_white_ground(report_html: dict[str, str]) -> None:
    svg = report_html["followup"].split("<svg", 1)[1].split("</svg>", 1)[0]
    labels = re.findall(r'<rect class="halo"[^>]*fill="#ffffff"[^>]*/><text [^>]*>([^<]+)</text>', svg)
    assert labels == ["琼江龙台镇段", "问题位置"]
    assert svg.index('<rect class="halo"') > svg.index("<polyline") > 0


@pytest.mark.parametrize("name", ["bulletin", "revisit", "minutes"])
def test_a_report_is_signed_by_its_body_and_dated_with_no_empty_lines(name: str, report_html: dict[str, str]) -> None:
    blocks = re.findall(r'<div class="signed-by">.*?</div>', report_html[name], re.DOTALL)
    assert len(blocks) == 1
    assert re.fullmatch(r'<div class="signed-by"><p>[^<\s][^<]*</p><p>\d{4}-\d{2}-\d{2}</p></div>', blocks[0]), blocks


def test_the_bulletins_signing_body_and_date_are_two_lines_one_under_the_other(rendered: dict[str, Rendered]) -> None:
    text = rendered["bulletin"].text
    assert re.search(r"^\s*琼江流域跨界河流联防联控联席会议办公室\s*\n\s*2026-03-31\s*$", text, re.MULTILINE), text[
        -800:
    ]


def test_no_signature_block_in_any_template_has_an_empty_cell_or_a_line_break() -> None:
    for template in TEMPLATES.glob("*.html.j2"):
        for block in re.findall(r'<div class="(?:signatures|signed-by)">.*', template.read_text()):
            assert "<br" not in block, (template.name, block)
            assert not re.search(r"<div>\s*</div>|<p>\s*</p>", block), (template.name, block)


# -- the ledger as a spreadsheet -------------------------------------------------------------------


def test_the_ledger_xlsx_has_the_chinese_header_and_one_row_per_issue(demo_app: App) -> None:
    built = make(demo_app, "ledger", fmt="xlsx")
    assert built.extension == "xlsx"
    book = load_workbook(io.BytesIO(built.content))
    try:
        rows = list(book["台账"].iter_rows(values_only=True))
    finally:
        book.close()
    header, body = rows[0], rows[1:]
    assert header[:6] == ("编号", "问题", "类别", "交办方", "接收方", "状态")
    assert header[-1] == "台账链头"
    assert [r[0] for r in body] == list(LEDGER_CODES)
    assert body[0][:7] == (
        "QJ-2026-0001",
        "白马镇段右岸生活污水直排",
        "生活污染",
        "太安镇",
        "白马镇",
        "已归档",
        "2026-03-02 09:00",
    )


def test_the_ledger_csv_starts_with_a_bom_and_the_chinese_header(demo_app: App) -> None:
    built = make(demo_app, "ledger", fmt="csv")
    assert built.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(built.content.decode("utf-8-sig"))))
    assert rows[0][:6] == ["编号", "问题", "类别", "交办方", "接收方", "状态"]
    assert [r[0] for r in rows[1:]] == list(LEDGER_CODES)
    assert rows[2][:6] == ["QJ-2026-0002", "龙台镇段上游养殖场粪污入河", "禽畜养殖污染", "崇龛镇", "龙台镇", "已销号"]


# -- the English copies -------------------------------------------------------------------------------

CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")


def data_words(app: App) -> list[str]:
    """What the demo's users wrote or named (issue titles, places, people, the compact): the only Chinese an
    English copy may show."""
    with app.reader() as uow:
        conn = uow.connection
        found = [
            *conn.execute(sa.text("SELECT title FROM issue")).scalars(),
            *conn.execute(sa.text("SELECT name FROM jurisdiction")).scalars(),
            *conn.execute(sa.text("SELECT name FROM compact")).scalars(),
            *conn.execute(sa.text("SELECT name FROM person")).scalars(),
        ]
    return [w for w in found if w]


def foreign_words(text: str, data: list[str]) -> list[str]:
    """The runs of Chinese in ``text`` that are no part of any data (a wrapped cell splits a name: a part of
    one counts as data)."""
    return sorted({run for run in CHINESE.findall(text) if not any(run in w for w in data)})


def test_the_ledger_pdf_in_english_has_english_words_and_no_chinese_but_the_data(demo_app: App, tmp_path: Path) -> None:
    built = make(demo_app, "ledger", lang="en")
    path = tmp_path / "ledger-en.pdf"
    path.write_bytes(built.content)
    text = pdf_text(path)
    assert "Ledger of cross-border issues (March 2026)" in text
    assert "Ledger chain heads" in text
    assert "Rebounds" in text
    assert re.search(r"Archived|archived", text), "the states are worded in English"
    assert foreign_words(text, data_words(demo_app)) == []
    assert built.title == "QJ ledger of cross-border issues, all"
    # The Chinese original is another document, with its own digest.
    assert built.content != make(demo_app, "ledger").content


def test_the_ledger_csv_and_xlsx_in_english_have_english_heads_states_and_categories(demo_app: App) -> None:
    rows = list(csv.reader(io.StringIO(make(demo_app, "ledger", fmt="csv", lang="en").content.decode("utf-8-sig"))))
    assert rows[0][:6] == ["Code", "Issue", "Category", "Reporting side", "Receiving side", "State"]
    assert (rows[2][0], rows[2][2]) == ("QJ-2026-0002", "livestock waste")
    assert not CHINESE.search(rows[2][5]), f"a state in Chinese: {rows[2][5]}"
    book = load_workbook(io.BytesIO(make(demo_app, "ledger", fmt="xlsx", lang="en").content))
    try:
        header = next(book["Ledger"].iter_rows(values_only=True))
    finally:
        book.close()
    assert header[-1] == "Ledger chain head"


def test_the_cli_files_an_english_copy_beside_the_chinese_and_refuses_another_language(filing_app: App) -> None:
    data_dir = filing_app.settings.data_dir
    cli = Cli(data_dir, env={"RIVERCHIEF_DATABASE_URL": f"sqlite:///{filing_app.engine.url.database}"})
    refused = cli("report", "ledger", "--lang", "fr")
    assert refused.returncode != 0
    assert refused.stderr.strip().startswith("error: --lang"), refused.stderr
    assert not (data_dir / "reports").exists(), "a refused command filed something"
    for lang in ("zh-CN", "en"):
        done = cli("report", "ledger", "--lang", lang)
        assert done.returncode == 0, done.stderr
    with filing_app.reader() as uow:
        paths = uow.connection.execute(sa.select(table_of(ReportFile).c.path)).scalars().all()
    assert len(paths) == 2
    texts = [pdf_text(data_dir / path) for path in paths]
    assert sorted("Ledger of cross-border issues" in text for text in texts) == [False, True]


def test_a_report_in_a_language_the_reports_do_not_speak_is_refused_naming_the_field(demo_app: App) -> None:
    with pytest.raises(ValueError, match="lang"):
        make(demo_app, "ledger", lang="fr")


def test_the_ledger_xlsx_of_the_same_data_is_the_same_file_a_second_later(demo_app: App) -> None:
    # openpyxl stamps the document and each zip entry with the clock; the same ledger must still be the same file.
    first = make(demo_app, "ledger", fmt="xlsx").content
    time.sleep(1.1)
    assert make(demo_app, "ledger", fmt="xlsx").content == first


# -- determinism -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", KINDS)
def test_the_same_data_renders_to_the_same_pdf_bytes_with_a_fresh_renderer(
    name: str, rendered: dict[str, Rendered], demo_app: App, tmp_path: Path
) -> None:
    kind, options = PDFS[name]
    fresh = ReportRenderer(demo_app.settings.data_dir / "attachments")
    with demo_app.reader() as uow:
        conn = uow.connection
        if kind == "followup":
            again = builders.followup(fresh, conn, options["issue"])
        elif kind == "ledger":
            again = builders.ledger(fresh, conn, "QJ")
        else:
            again = {"bulletin": builders.bulletin, "revisit": builders.revisit, "minutes": builders.minutes}[kind](
                fresh, conn, "QJ", options["period"]
            )
    path = tmp_path / "again.pdf"
    path.write_bytes(again.content)
    assert pdf_text(path) == rendered[name].text
    assert again.content == rendered[name].built.content  # not just the text: the very bytes


# -- nothing but our own assets --------------------------------------------------------------------


def test_markup_in_an_issue_is_printed_as_text_and_loads_nothing(
    sqlite_world: World, listener: Listener, tmp_path: Path
) -> None:
    title = '<img src="file:///etc/passwd"> 白马镇段排污口'
    description = (
        f'<link rel="attachment" href="{listener.url("/x")}">'
        f"<style>body{{background:url({listener.url('/css')})}}</style>"
        f'<p style="background:url({listener.url("/attr")})">排口</p>'
        '<img src="file:///etc/passwd">'
    )
    code = sqlite_world.report(title=title, description=description, place=f'<img src="{listener.url("/place")}">')
    sqlite_world.fire(
        code,
        "hand_off",
        REPORTER,
        receiving=RECEIVING_CODE,
        note=f'<link rel="stylesheet" href="{listener.url("/n")}">',
    )
    built = make(sqlite_world.app, "followup", issue=code)
    path = tmp_path / "hostile.pdf"
    path.write_bytes(built.content)
    text = pdf_text(path)
    assert listener.paths == [], f"the report reached the network: {listener.paths}"
    assert "root:x:0:0" not in text
    assert '<img src="file:///etc/passwd"> 白马镇段排污口' in text  # escaped: printed, not parsed
    assert flat(description) in pdf_raw(path)
    assert "0 embedded files" in poppler("pdfdetach", "-list", path)


def test_html_handed_straight_to_the_renderer_loads_no_url_no_file_and_no_attachment(
    listener: Listener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = [
        listener.url("/sheet.css"),
        listener.url("/import.css"),
        listener.url("/font.woff"),
        listener.url("/css"),
        listener.url("/attr"),
        listener.url("/img.png"),
        listener.url("/x"),
        "file:///etc/passwd",
        "rc-asset:/../../../../../etc/passwd",
        "data:text/plain;base64,cm9vdDp4OjA6MDo=",
    ]
    html = (
        f'<html><head><link rel="stylesheet" href="{hostile[0]}"><style>@import url({hostile[1]});'
        f"@font-face {{ font-family: X; src: url({hostile[2]}) }} body {{ background: url({hostile[3]}) }}</style>"
        f'<link rel="attachment" href="{hostile[6]}"></head><body>'
        f'<p style="background: url({hostile[4]})">正文</p><img src="{hostile[5]}"><img src="{hostile[7]}">'
        f'<img src="{hostile[8]}"><a rel="attachment" href="{hostile[9]}">附件</a>'
        f'<a rel="attachment" href="{hostile[7]}">附件</a></body></html>'
    )
    for proxy in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    HTML(string=html).write_pdf()  # the control: WeasyPrint's own fetcher does reach the listener
    assert listener.paths, "the control render made no request: the listener would prove nothing"
    listener.paths.clear()

    fetchers: list[SafeFetcher] = []

    class Recording(SafeFetcher):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            fetchers.append(self)

    monkeypatch.setattr(render_module, "SafeFetcher", Recording)
    path = tmp_path / "raw.pdf"
    path.write_bytes(ReportRenderer(tmp_path / "attachments").pdf(html))
    assert listener.paths == [], f"the renderer reached the network: {listener.paths}"
    refused = {url for f in fetchers for url in f.refused}
    assert set(hostile) <= refused, f"not seen and refused by SafeFetcher: {set(hostile) - refused}"
    assert "root:x:0:0" not in pdf_text(path)
    assert "0 embedded files" in poppler("pdfdetach", "-list", path)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/report.css",
        "http://example.org/report.css",
        "ftp://example.org/report.css",
        "file:///etc/passwd",
        f"file://{ASSETS / 'report.css'}",  # even our own file, by another door
        "data:text/css,body{color:red}",
        "data:image/png;base64,iVBORw0KGgo=",
        "rc-asset:/../../etc/passwd",
        "rc-asset:/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "rc-asset:/report.css/../../../../../etc/passwd",
        "rc-asset://../etc/passwd",
        "rc-asset:/missing.css",
        "rc-asset:/",
        "rc-attachment:/anything.png",  # no attachment store given
        "report.css",  # relative, no scheme
    ],
)
def test_the_fetcher_refuses_anything_but_our_assets_and_attachments(url: str) -> None:
    safe = SafeFetcher()
    with pytest.raises(RefusedResource):
        safe.fetch(url)
    assert safe.refused == [url]


def test_the_fetcher_refuses_http_without_connecting(listener: Listener) -> None:
    safe = SafeFetcher()
    with pytest.raises(RefusedResource):
        safe.fetch(listener.url("/report.css"))
    assert listener.paths == []


def test_the_fetcher_serves_the_package_stylesheet() -> None:
    response = SafeFetcher().fetch("rc-asset:/report.css")
    assert response.read() == (ASSETS / "report.css").read_bytes()
    assert response.headers.get_content_type() == "text/css"


def test_the_fetcher_serves_a_stored_attachment_but_no_symlink_that_leads_out(tmp_path: Path) -> None:
    store = tmp_path / "attachments"
    store.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (store / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\nphoto")
    (store / "leak.png").symlink_to(secret)
    (store / "passwd.png").symlink_to("/etc/passwd")
    (store / "etc").symlink_to("/etc", target_is_directory=True)
    safe = SafeFetcher(store)
    assert safe.fetch("rc-attachment:/photo.png").read() == b"\x89PNG\r\n\x1a\nphoto"
    for url in ("rc-attachment:/leak.png", "rc-attachment:/passwd.png", "rc-attachment:/etc/passwd"):
        with pytest.raises(RefusedResource):
            safe.fetch(url)
    assert safe.refused == ["rc-attachment:/leak.png", "rc-attachment:/passwd.png", "rc-attachment:/etc/passwd"]


def test_the_fetcher_refuses_a_symlink_in_the_assets_folder_that_leads_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    shutil.copy(ASSETS / "report.css", assets / "report.css")
    (assets / "evil.css").symlink_to("/etc/passwd")
    monkeypatch.setattr(fetcher, "ASSETS", assets.resolve())
    safe = SafeFetcher()
    assert safe.fetch("rc-asset:/report.css").read() == (ASSETS / "report.css").read_bytes()
    with pytest.raises(RefusedResource):
        safe.fetch("rc-asset:/evil.css")


# -- the font check --------------------------------------------------------------------------------


def fake_fc_list(monkeypatch: pytest.MonkeyPatch, listed: str) -> list[list[str]]:
    """Make fontconfig's ``fc-list`` print ``listed``; returns the commands it was asked to run."""
    asked: list[list[str]] = []

    def fake_run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        asked.append(command)
        return subprocess.CompletedProcess(command, 0, stdout=listed, stderr="")

    monkeypatch.setattr(fonts.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(fonts.subprocess, "run", fake_run)
    return asked


def test_with_no_chinese_font_listed_the_renderer_refuses_naming_fonts_noto_cjk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = fake_fc_list(monkeypatch, "")
    with pytest.raises(MissingFont, match="fonts-noto-cjk") as refused:
        ReportRenderer()
    assert "apt-get install fonts-noto-cjk" in str(refused.value)
    assert asked
    assert asked[0][:2] == ["fc-list", ":lang=zh-cn"]


def test_without_fontconfig_the_renderer_refuses_naming_fonts_noto_cjk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts.shutil, "which", lambda _name: None)
    with pytest.raises(MissingFont, match="fonts-noto-cjk"):
        ReportRenderer()


def test_another_simplified_chinese_family_is_used_when_noto_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_fc_list(monkeypatch, "WenQuanYi Zen Hei,文泉驿正黑\nAR PL UMing CN\n")
    assert check_cjk_font() == "AR PL UMing CN"


def test_noto_sans_cjk_sc_is_installed_here() -> None:
    assert check_cjk_font() == "Noto Sans CJK SC"


# -- filing ----------------------------------------------------------------------------------------


def test_filing_a_follow_up_stores_it_records_its_sha256_and_enters_it_in_the_ledger(world: World) -> None:
    code = world.report()
    walk_to(world, code, "close")
    version = world.issue(code).version
    filed = make_and_file(world.app, "followup", issue=code)
    data_dir = world.app.settings.data_dir
    assert filed.new
    assert filed.path.is_relative_to(data_dir / "reports" / "followup")
    content = filed.path.read_bytes()
    assert content.startswith(b"%PDF-")
    assert filed.sha256 == hashlib.sha256(content).hexdigest()
    (row,) = report_rows(world.app)
    assert (row.kind, row.issue_code, row.sha256, row.size) == ("followup", code, filed.sha256, len(content))
    assert data_dir / row.path == filed.path
    last = world.events(code)[-1]
    assert (last.seq, last.trigger, last.from_state, last.to_state) == (
        version + 1,
        "file_report",
        "du.closed",
        "du.closed",
    )
    assert last.payload == {"kind": "followup", "sha256": filed.sha256, "file": row.path}
    assert world.issue(code).state == "du.closed"
    assert ledger_ok(world.app)
    assert archive_problems(world.app) == []


def test_filing_the_same_document_twice_keeps_one_file_one_record_and_one_ledger_event(filing_app: App) -> None:
    built = make(filing_app, "followup", issue="QJ-2026-0005")
    data_dir = filing_app.settings.data_dir
    first = file_report(filing_app.uow(), built, data_dir)
    second = file_report(filing_app.uow(), built, data_dir)
    assert first.new
    assert not second.new
    assert (second.id, second.sha256, second.path) == (first.id, first.sha256, first.path)
    assert len(report_rows(filing_app)) == 1
    assert [e.trigger for e in issue_events(filing_app, "QJ-2026-0005")].count("file_report") == 1
    assert [p.name for p in (data_dir / "reports").rglob("*.pdf")] == [first.path.name]


def test_a_filed_report_whose_bytes_changed_is_named_by_verify_and_by_ledger_verify(filing_app: App) -> None:
    bulletin = make_and_file(filing_app, "bulletin", period="2026-03")
    followup = make_and_file(filing_app, "followup", issue="QJ-2026-0005")
    assert archive_problems(filing_app) == []
    content = bytearray(followup.path.read_bytes())
    content[len(content) // 2] ^= 0x01
    followup.path.write_bytes(bytes(content))
    relative = str(followup.path.relative_to(filing_app.settings.data_dir))
    (problem,) = archive_problems(filing_app)
    assert f"report #{followup.id} ({relative})" in problem
    assert "no longer matches its SHA-256" in problem
    assert bulletin.path.name not in problem
    done = cli_ledger_verify(filing_app)
    assert done.returncode == 1
    assert relative in done.stdout
    assert "Traceback" not in done.stderr


def test_a_filed_report_that_was_deleted_is_named_by_verify(filing_app: App) -> None:
    filed = make_and_file(filing_app, "minutes", period="2026-03")
    filed.path.unlink()
    (problem,) = archive_problems(filing_app)
    assert str(filed.path.relative_to(filing_app.settings.data_dir)) in problem
    assert "the file is missing" in problem
    assert ledger_ok(filing_app)  # the issues' chains are untouched: only the archive is short of a file


def test_the_monthly_reports_make_the_bulletin_record_then_file_the_bulletin_and_no_minutes_without_a_meeting(
    filing_app: App,
) -> None:
    assert count(filing_app, table_of(Bulletin), table_of(Bulletin).c.period == "2026-07") == 0
    assert monthly_reports(filing_app, "2026-07") == {"filed": 1}
    rows = report_rows(filing_app)
    # No joint meeting in July: no minutes are filed for it (a page saying "no meeting" is not minutes).
    assert sorted((r.kind, r.period, r.issue_code) for r in rows) == [("bulletin", "2026-07", None)]
    with filing_app.reader() as uow:
        stored = uow.session.execute(sa.select(Bulletin).where(Bulletin.period == "2026-07")).scalar_one()
        figures = stored.figures
    paths = {r.kind: filing_app.settings.data_dir / r.path for r in rows}
    bulletin = pdf_text(paths["bulletin"])
    assert "跨界问题整改情况通报（2026年7月）" in bulletin
    for key, _ in FIGURES:
        label = WORDS[f"bulletin.figure.{key}"][0]
        month, year = figures["month"].get(key, 0), figures["year_to_date"].get(key, 0)
        assert re.search(rf"^\s*{label}\s+{month}\s+{year}\s*$", bulletin, re.MULTILINE), label
    assert archive_problems(filing_app) == []
    assert monthly_reports(filing_app, "2026-07") == {"filed": 0}  # the same content is found, not filed again
    assert len(report_rows(filing_app)) == 1


def test_the_daily_reports_file_the_follow_ups_of_the_issues_closed_that_day(filing_app: App) -> None:
    assert daily_reports(filing_app, "2026-04-06") == {"followups": 2, "revisit_batches": 0, "filed": 2}
    rows = report_rows(filing_app)
    assert sorted((r.kind, r.issue_code) for r in rows) == [("followup", "QJ-2026-0002"), ("followup", "QJ-2026-0004")]
    for r in rows:
        assert issue_events(filing_app, r.issue_code)[-1].payload["sha256"] == r.sha256
        assert "跨界问题跟踪报告" in pdf_text(filing_app.settings.data_dir / r.path)
    assert ledger_ok(filing_app)
    assert archive_problems(filing_app) == []


def test_the_daily_reports_file_the_revisit_report_of_the_revisits_done_that_day(filing_app: App) -> None:
    assert daily_reports(filing_app, "2026-07-27") == {"followups": 0, "revisit_batches": 1, "filed": 1}
    (row,) = report_rows(filing_app)
    assert (row.kind, row.period, row.issue_code) == ("revisit", "2026-07-27", None)
    path = filing_app.settings.data_dir / row.path
    raw = pdf_raw(path)
    assert "2026年7月27日" in raw
    assert "共回访1个问题，其中未反弹1个，反弹0个" in raw
    assert "现场无排口，水质清澈，未反弹未反弹邓清源2026-07-27" in raw
    assert "90日回头看现场" in raw  # the day's site photo, with its caption
    assert pdf_images(path) == [(640, 400)]
    assert archive_problems(filing_app) == []


def test_running_the_days_reports_again_files_nothing_new(filing_app: App) -> None:
    # Filing a follow-up adds a step to the issue's ledger; the next render must not differ because of it,
    # or a retried job would file the same report again and again.
    assert daily_reports(filing_app, "2026-03-24") == {"followups": 1, "revisit_batches": 0, "filed": 1}
    again = daily_reports(filing_app, "2026-03-24")
    assert again["filed"] == 0, f"filed again: {[(r.kind, r.issue_code) for r in report_rows(filing_app)]}"
    assert [e.trigger for e in issue_events(filing_app, "QJ-2026-0003")].count("file_report") == 1


# -- the pages -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", KINDS)
def test_every_page_renders_to_a_non_blank_image_in_the_reports_orientation(
    name: str, rendered: dict[str, Rendered], tmp_path: Path
) -> None:
    pages = int(pdf_info(rendered[name].path)["Pages"])
    poppler("pdftoppm", "-r", "50", "-png", rendered[name].path, tmp_path / "page")
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == pages
    for number, image in enumerate(images, start=1):
        assert image.stat().st_size > 5_000, image.name
        with Image.open(image) as picture:
            width, height = picture.size
            grey = picture.convert("L")
            inked = sum(grey.histogram()[:200])  # pixels clearly darker than the white page
        # A4 at 50 dpi is 413 x 585 pixels; the ledger is landscape.
        assert (width > height) == (name == "ledger"), (name, width, height)
        assert abs(min(width, height) - 413) <= 2, (width, height)
        assert abs(max(width, height) - 585) <= 2, (width, height)
        # A last page may hold only the end of a document (a few lines and the footer), never nothing.
        least = 0.004 if number == len(images) else 0.01
        assert inked > least * width * height, f"{image.name} is nearly blank"


def test_a_party_late_on_many_issues_is_named_with_its_first_codes_and_a_count(filing_app: App, tmp_path: Path) -> None:
    many = [f"QJ-2026-{n:04d}" for n in range(101, 126)]
    with filing_app.uow() as uow:
        stored = uow.session.execute(
            sa.select(Bulletin).join(Compact).where(Compact.code == "QJ", Bulletin.period == "2026-03")
        ).scalar_one()
        uow.connection.execute(
            sa.update(table_of(Bulletin))
            .where(table_of(Bulletin).c.id == stored.id)
            .values(parties=[{**stored.parties[0], "issues": many}])
        )
        uow.commit()
    path = tmp_path / "bulletin.pdf"
    path.write_bytes(make(filing_app, "bulletin", period="2026-03").content)
    raw = pdf_raw(path)
    assert "、".join(many[:BULLETIN_CODES_LISTED]) in raw
    assert many[BULLETIN_CODES_LISTED] not in raw
    assert f"等共{len(many)}件" in raw


def test_the_quarterly_interview_list_is_filed_as_a_report_once(filing_app: App) -> None:
    assert quarterly_reports(filing_app, "2026-Q1") == {"filed": 1}
    (row,) = [r for r in report_rows(filing_app) if r.kind == "interview"]
    assert row.period == "2026-Q1"
    text = pdf_text(filing_app.settings.data_dir / row.path)
    assert "跨界问题季度约谈名单（2026年第一季度）" in text
    assert "连续三个月未完成巡河任务" in text
    with filing_app.reader() as uow:
        stored = uow.session.execute(
            sa.select(Bulletin).where(Bulletin.kind == "interview", Bulletin.period == "2026-Q1")
        ).scalar_one()
    for party in stored.parties:
        for chief in party["chiefs"]:
            assert chief in text
    assert quarterly_reports(filing_app, "2026-Q1") == {"filed": 0}
    assert archive_problems(filing_app) == []


def test_the_ledger_is_one_document_with_page_numbers_across_it_and_every_full_chain_head(
    rendered: dict[str, Rendered], demo_app: App
) -> None:
    text = rendered["ledger"].text
    pages = int(pdf_info(rendered["ledger"].path)["Pages"])
    numbers = re.findall(r"第(\d+)页/共(\d+)页", text)
    assert numbers == [(str(n), str(pages)) for n in range(1, pages + 1)]
    assert text.count("跨界问题台账（") == 1  # one title, not one per month
    with demo_app.reader() as uow:
        heads = dict(uow.connection.execute(sa.select(table_of(Issue).c.code, table_of(Issue).c.ledger_head)).all())
    flat = re.sub(r"\s+", "", text)
    for code in LEDGER_CODES:
        assert f"{code}{heads[code]}" in flat, code  # each issue's whole head, beside its code
    digest = hashlib.sha256("\n".join(f"{c} {heads[c]}" for c in sorted(LEDGER_CODES)).encode()).hexdigest()
    assert digest in flat
