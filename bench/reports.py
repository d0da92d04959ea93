"""How fast and how big the PDF reports are, against the floor: WeasyPrint alone on the same final HTML.

Run ``.venv/bin/python -m bench.reports [--issues 10000] [--months 12]``. Three cases, in one process:

* **follow-up**: ``reports.builders.followup`` of the demo's busiest issue (QJ-2026-0001: over twenty ledger steps,
  a rebound, two joint checks, revisits and three site photos), built with ``riverchief.demo.play.run``;
* **bulletin**: ``reports.builders.bulletin`` over a compact with ``--issues`` issues (bulk-inserted with
  SQLAlchemy Core: issues, their ledger events, some stuck past their deadlines); the month's record is made
  first by ``workflow.jobs.monthly_bulletin``, timed on its own;
* **ledger**: ``reports.builders.ledger`` of the same issues, spread over ``--months`` months: one document
  with a table per month and every issue's full chain head at the end.

**The floor** of each case: the HTML the renderer produced (captured from ``ReportRenderer.html``) written to a
file (its ``rc-attachment:`` photo addresses as ``file:`` URLs of the same store, so both draw the same images),
then ``weasyprint.HTML(filename=...).write_pdf(stylesheets=[CSS(filename=report.css)])`` with WeasyPrint's
default fetcher and font configuration, made fresh for each document, in the same process. The stylesheet is
passed so the floor lays out the same pages (the page counts are printed side by side). For the ledger the
builder also gathers the rows and the heads.

**Figures**: the median wall time of ``--rounds`` timed runs (after one warm-up; the ledger, whose runs take
minutes, is not warmed up), floor and renderer interleaved; the peak RSS of the process during a run (``VmHWM``
after resetting it through ``/proc/self/clear_refs``) and its growth over the RSS before the run (freed heap is
handed back with ``malloc_trim`` first); and, in one more run of each (tracing slows Python down several times),
tracemalloc's peak of Python allocations. WeasyPrint's native allocations (Pango, HarfBuzz, fontconfig) show only
in the RSS. The machine's load average is recorded before and after each case: other processes skew the times.
Everything is printed as a table and written to ``bench/reports-results.json``; the default run takes most of an
hour on two CPUs, nearly all of it the 10,000-row ledger (traced twice).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import hashlib
import io
import json
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pypdf
import sqlalchemy as sa
import weasyprint
from rich.console import Console
from rich.table import Table

from bench.host import git_state, host
from reports import builders
from reports.fetcher import ASSET_SCHEME, ASSETS, ATTACHMENT_SCHEME
from reports.render import ReportRenderer
from riverchief.bootstrap import App, bootstrap
from riverchief.demo.play import run as play_demo
from riverchief.migrate import upgrade
from riverchief.settings import Settings
from states.chart import INITIAL
from states.policy import CATEGORIES
from tests.factories import load_world
from workflow.core.clock import SHANGHAI, FrozenClock
from workflow.core.models import Compact, Event, Issue, Jurisdiction, Person, Segment, table_of
from workflow.jobs import bulletins
from workflow.reading import dossier

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "reports-results.json"
STYLESHEET = ASSETS / "report.css"

_issue, _event = table_of(Issue), table_of(Event)

# -- a compact with many issues --------------------------------------------------------------------

# Cross-border pairs of the 琼江 compact: (reporting chief, receiving chief, segment on the receiving side).
PAIRS = (
    ("tn-taian", "sn-baima", "qj-baima"),
    ("sn-baima", "tn-taian", "qj-taian"),
    ("tn-chonglong", "zy-longtai", "qj-longtai"),
    ("zy-longtai", "tn-chonglong", "qj-chonglong"),
    ("tn-yuxi", "tl-anju", "qj-anju"),
    ("tl-anju", "tn-yuxi", "qj-yuxi"),
    ("sn-moxi", "tn-biekou", "mx-biekou"),
    ("tn-biekou", "sn-moxi", "mx-moxi"),
)
PROBLEMS = (
    "生活污水直排",
    "岸边垃圾堆放",
    "养殖场粪污入河",
    "工业废水排放",
    "非法采砂",
    "电鱼网箱",
    "违章占用岸线",
    "水面漂浮物",
)
SIDES = ("右岸", "左岸", "入境断面", "出境断面", "码头旁")

# The happy path after the report: trigger, state after it (None: stays), who moves (reporting/receiving side),
# days the next party has before it is late.
PATH: tuple[tuple[str, str | None, str, int | None], ...] = (
    ("hand_off", "ban.handed_off", "reporting", 3),
    ("accept", "ban.accepted", "receiving", 5),
    ("start_rectify", "ban.rectifying", "receiving", 14),
    ("progress", None, "receiving", None),
    ("report_done", "du.rectified", "receiving", 5),
    ("request_verify", "du.verifying", "reporting", 5),
    ("pass_check", None, "receiving", None),
    ("pass_check", None, "reporting", None),
    ("close", "du.closed", "reporting", None),
)
DISPUTE: tuple[tuple[str, str | None, str, int | None], ...] = (
    ("dispute", "ban.negotiating", "receiving", 10),
    ("negotiate", None, "reporting", None),
    ("agree", "ban.accepted", "receiving", 5),
)


@dataclass(frozen=True, slots=True)
class Bulk:
    """What was inserted."""

    issues: int
    events: int
    seconds: float
    first: str  # first month, "2025-01"
    last: str


def _hash(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def bulk_load(app: App, issues: int, months: int, year: int, seed: int) -> Bulk:
    """Insert ``issues`` issues of the QJ compact spread evenly over ``months`` months, with their ledger events.

    Old issues are mostly closed, recent ones are on their way; about one step in twelve comes after its
    deadline, and one issue in twenty of the older ones is stuck, so the bulletin has overdue parties.
    """
    started = time.perf_counter()
    rng = random.Random(seed)
    with app.engine.begin() as conn:
        compact_id = conn.execute(sa.select(table_of(Compact).c.id).where(table_of(Compact).c.code == "QJ")).scalar()
        people = {
            code: (pid, jid)
            for code, pid, jid in conn.execute(
                sa.select(table_of(Person).c.code, table_of(Person).c.id, table_of(Person).c.jurisdiction_id)
            )
        }
        segments = dict(conn.execute(sa.select(table_of(Segment).c.code, table_of(Segment).c.id)).all())
        juris = table_of(Jurisdiction)
        names = dict(conn.execute(sa.select(juris.c.id, juris.c.name)).all())
        division = dict(conn.execute(sa.select(juris.c.id, juris.c.code)).all())
        categories = list(CATEGORIES)
        begin = datetime(year, 1, 1, tzinfo=SHANGHAI)
        span = (datetime(year + months // 12, months % 12 + 1, 1, tzinfo=SHANGHAI) - begin).total_seconds()
        period_end = begin + timedelta(seconds=span)
        issue_rows: list[dict[str, Any]] = []
        event_rows: list[list[dict[str, Any]]] = []
        for n in range(1, issues + 1):
            reporting, receiving, segment = PAIRS[rng.randrange(len(PAIRS))]
            rep_id, rep_j = people[reporting]
            rec_id, rec_j = people[receiving]
            created = begin + timedelta(seconds=span * (n - 0.5) / issues, minutes=rng.randrange(-600, 600))
            created = min(max(created, begin), period_end - timedelta(hours=1))
            age_days = (period_end - created).days
            steps = list(PATH)
            if rng.random() < 0.05:
                steps[1:1] = DISPUTE
            if age_days > 60:
                done = len(steps) if rng.random() < 0.95 else rng.randrange(1, len(steps))
            else:
                done = rng.randrange(0, len(steps) + 1)
            category = categories[rng.randrange(len(categories))]
            title = f"{names[rec_j]}{SIDES[rng.randrange(len(SIDES))]}{PROBLEMS[rng.randrange(len(PROBLEMS))]}"
            code = f"QJ-{year}-{n:05d}"
            at, state, prev = created, "xun.reported", "0" * 64
            due: datetime | None = created + timedelta(days=2)
            events = [
                {
                    "seq": 1,
                    "trigger": "report",
                    "from_state": INITIAL,
                    "to_state": state,
                    "actor_id": rep_id,
                    "actor_code": reporting,
                    "parties": "member,reporting",
                    "payload": {"title": title, "category": category, "segment": segment},
                    "due_at": due,
                    "occurred_at": at,
                    "prev_hash": prev,
                    "hash": _hash(code, 1),
                }
            ]
            for seq, (trigger, after, side, days) in enumerate(steps[:done], start=2):
                late = rng.random() < 1 / 12
                at = at + timedelta(days=rng.uniform(0.2, 2.5) + (days or 1) * (1.5 if late else 0.0), hours=1)
                if at >= period_end:
                    break
                moved = after is not None and after != state
                new_due = at + timedelta(days=days) if moved and days else (due if not moved else None)
                actor, actor_id = (reporting, rep_id) if side == "reporting" else (receiving, rec_id)
                events.append(
                    {
                        "seq": seq,
                        "trigger": trigger,
                        "from_state": state,
                        "to_state": after or state,
                        "actor_id": actor_id,
                        "actor_code": actor,
                        "parties": f"member,{side}",
                        "payload": {"receiving": division[rec_j]} if trigger == "hand_off" else {"note": "按要求办理"},
                        "due_at": new_due,
                        "occurred_at": at,
                        "prev_hash": events[-1]["hash"],
                        "hash": _hash(code, seq),
                    }
                )
                state, due = after or state, new_due
            issue_rows.append(
                {
                    "code": code,
                    "compact_id": compact_id,
                    "title": title,
                    "description": f"交叉巡河发现{title}，请核实整改。",
                    "category": category,
                    "difficulty": "normal",
                    "place": f"{names[rec_j]}{SIDES[rng.randrange(len(SIDES))]}",
                    "segment_id": segments[segment],
                    "reporter_id": rep_id,
                    "reporting_jurisdiction_id": rep_j,
                    "receiving_jurisdiction_id": rec_j if len(events) > 1 else None,
                    "state": state,
                    "version": len(events),
                    "due_at": due,
                    "check_round": 1 if state in ("du.verifying", "du.closed") else 0,
                    "rebound_count": 0,
                    "revisit_count": 0,
                    "ledger_head": events[-1]["hash"],
                    "created_at": created,
                    "updated_at": events[-1]["occurred_at"],
                    "closed_at": events[-1]["occurred_at"] if state == "du.closed" else None,
                }
            )
            event_rows.append(events)
        conn.execute(_issue.insert(), issue_rows)
        ids = dict(conn.execute(sa.select(_issue.c.code, _issue.c.id).where(_issue.c.compact_id == compact_id)).all())
        flat = [
            {**e, "issue_id": ids[row["code"]], "compact_id": compact_id}
            for row, events in zip(issue_rows, event_rows, strict=True)
            for e in events
        ]
        conn.execute(_event.insert(), flat)
    first = f"{year}-01"
    last_month = begin + timedelta(seconds=span - 1)
    return Bulk(issues, len(flat), time.perf_counter() - started, first, last_month.strftime("%Y-%m"))


# -- measuring -------------------------------------------------------------------------------------


try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6")
except OSError:  # not glibc
    _LIBC = None


def _status(field_name: str) -> float:
    """A field of /proc/self/status in MB (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field_name)


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+); False where that is not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass(slots=True)
class Lane:
    """One way of making a document, measured."""

    seconds: list[float] = field(default_factory=list)
    rss_peak_mb: float = 0.0  # highest VmHWM seen during a timed run
    rss_growth_mb: float = 0.0  # highest VmHWM minus the RSS just before that run
    tracemalloc_peak_mb: float = 0.0
    pages: int = 0
    images: int = 0  # images drawn, so a floor that lost the photos shows
    size_bytes: int = 0

    @property
    def median(self) -> float:
        """The median wall time."""
        return statistics.median(self.seconds)


def _trim() -> None:
    """Collect garbage and hand freed heap back to the OS, so a run's RSS peak is its own, not the last run's."""
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _timed(fn: Callable[[], Any], lane: Lane, rss_resettable: bool) -> None:
    _trim()
    before = _status("VmRSS")
    if rss_resettable:
        _reset_peak_rss()
    started = time.perf_counter()
    fn()
    lane.seconds.append(time.perf_counter() - started)
    peak = _status("VmHWM") if rss_resettable else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lane.rss_peak_mb = max(lane.rss_peak_mb, peak)
    lane.rss_growth_mb = max(lane.rss_growth_mb, peak - before)


def _traced(fn: Callable[[], Any], lane: Lane) -> None:
    _trim()
    tracemalloc.start()
    try:
        fn()
        lane.tracemalloc_peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _pages(pdf: bytes) -> tuple[int, int]:
    """Pages, and images drawn on them (poppler's ``pdfimages -list``)."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(pdf)
        file.flush()
        listed = subprocess.run(["pdfimages", "-list", file.name], capture_output=True, text=True, check=True).stdout
    images = sum(1 for line in listed.splitlines()[2:] if line.split()[2:3] == ["image"])
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages), images


class Capture:
    """Records every HTML the renderer hands to WeasyPrint, while installed."""

    def __init__(self, renderer: ReportRenderer) -> None:
        self.renderer = renderer
        self.html: list[str] = []

    def __enter__(self) -> Capture:
        original = self.renderer.html

        def html(template: str, info: Any, **context: Any) -> str:
            out = original(template, info, **context)
            self.html.append(out)
            return out

        self.renderer.html = html  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        del self.renderer.html  # back to the class's method


def floor_of(files: list[Path], keep: bool) -> Callable[[], list[bytes]]:
    """WeasyPrint alone on the HTML files: default fetcher and font configuration, made fresh each time."""

    def render() -> list[bytes]:
        out = []
        for path in files:
            pdf = weasyprint.HTML(filename=str(path)).write_pdf(stylesheets=[weasyprint.CSS(filename=str(STYLESHEET))])
            out.append(pdf if keep else b"")
        return out

    return render


def write_html(captured: list[str], folder: Path, stem: str, attachments: Path) -> list[Path]:
    """The captured HTML as files, one per document rendered.

    The only change: our ``rc-attachment:/`` and ``rc-asset:/`` addresses become ``file:`` URLs of the same
    folders, so WeasyPrint's default fetcher loads the same photos the renderer's ``SafeFetcher`` serves.
    """
    paths = []
    for i, html in enumerate(captured, start=1):
        path = folder / f"{stem}-{i:02d}.html"
        html = html.replace(f"{ATTACHMENT_SCHEME}:/", attachments.resolve().as_uri() + "/")
        html = html.replace(f"{ASSET_SCHEME}:/", ASSETS.as_uri() + "/")
        path.write_text(html, encoding="utf-8")
        paths.append(path)
    return paths


@dataclass(slots=True)
class Case:
    """One report measured against its floor."""

    name: str
    what: str
    renderer: Lane
    floor: Lane
    documents: int  # HTML documents behind the PDF (the ledger: one per month)
    extra: dict[str, Any] = field(default_factory=dict)

    def ratios(self) -> dict[str, float]:
        """Renderer over floor, for time and memory."""

        def ratio(a: float, b: float) -> float:
            return a / b if b else float("nan")

        return {
            "seconds": ratio(self.renderer.median, self.floor.median),
            "tracemalloc_peak": ratio(self.renderer.tracemalloc_peak_mb, self.floor.tracemalloc_peak_mb),
            "rss_growth": ratio(self.renderer.rss_growth_mb, self.floor.rss_growth_mb),
        }


def measure_case(
    name: str,
    what: str,
    build: Callable[[ReportRenderer], bytes],
    renderer: ReportRenderer,
    folder: Path,
    rounds: int,
    rss_resettable: bool,
    *,
    warm_up: bool = True,
) -> Case:
    """Capture the HTML the builder renders, then time the builder and WeasyPrint on those files, interleaved.

    With ``warm_up`` the capturing run and the floor's first run (which keeps its PDFs, to count the pages) are
    untimed; without it (the ledger, each run taking minutes) they are the first timed round of each lane.
    Last, each lane runs once more under tracemalloc.
    """
    made, floor = Lane(), Lane()
    held: dict[str, Any] = {}
    load_before = os.getloadavg()

    def capturing() -> None:
        with Capture(renderer) as capture:
            held["pdf"] = build(renderer)
        held["html"] = capture.html

    def floor_keeping() -> None:
        held["parts"] = floor_of(files, keep=True)()

    if warm_up:
        capturing()
    else:
        _timed(capturing, made, rss_resettable)
    files = write_html(held["html"], folder, name, renderer.attachments or folder / "attachments")
    if warm_up:
        floor_keeping()
    else:
        _timed(floor_keeping, floor, rss_resettable)
    (made.pages, made.images), made.size_bytes = _pages(held["pdf"]), len(held["pdf"])
    counted = [_pages(p) for p in held["parts"]]
    floor.pages, floor.images = sum(c[0] for c in counted), sum(c[1] for c in counted)
    floor.size_bytes = sum(len(p) for p in held["parts"])
    held.clear()

    def renderer_run() -> None:
        build(renderer)

    floor_run = floor_of(files, keep=False)
    for _ in range(rounds if warm_up else rounds - 1):
        _timed(floor_run, floor, rss_resettable)
        _timed(renderer_run, made, rss_resettable)
    _traced(floor_run, floor)
    _traced(renderer_run, made)
    extra = {"html_bytes": sum(p.stat().st_size for p in files), "loadavg": [load_before, os.getloadavg()]}
    return Case(name, what, made, floor, len(files), extra)


# -- the cases -------------------------------------------------------------------------------------


def followup_case(folder: Path, renderer: ReportRenderer, rounds: int, resettable: bool, console: Console) -> Case:
    """The demo's busiest issue."""
    started = time.perf_counter()
    play_demo(Console(file=io.StringIO()), folder / "demo.db")
    console.print(f"demo database built in {time.perf_counter() - started:.1f}s")
    app = bootstrap(Settings(database_url=f"sqlite:///{folder / 'demo.db'}", data_dir=folder))
    try:

        def build(r: ReportRenderer) -> bytes:
            with app.reader() as uow:
                return builders.followup(r, uow.connection, "QJ-2026-0001").content

        with app.reader() as uow:
            data = dossier.followup(uow.connection, "QJ-2026-0001")
        what = f"demo QJ-2026-0001: {len(data.steps)} steps, {len(data.photos)} photos"
        case = measure_case("followup", what, build, renderer, folder, rounds, resettable)
    finally:
        app.engine.dispose()
    return case


def bulk_cases(
    folder: Path, renderer: ReportRenderer, args: argparse.Namespace, resettable: bool, console: Console
) -> tuple[Case, Case, dict[str, Any]]:
    """The bulletin and the ledger over a compact with many issues."""
    database = folder / "bulk.db"
    end = datetime(args.year, 1, 1, tzinfo=SHANGHAI) + timedelta(days=31 * args.months + 5)
    app = bootstrap(Settings(database_url=f"sqlite:///{database}", data_dir=folder), clock=FrozenClock(end))
    try:
        upgrade(app.engine)
        load_world(app, FrozenClock(end))
        bulk = bulk_load(app, args.issues, args.months, args.year, args.seed)
        console.print(f"bulk: {bulk.issues} issues, {bulk.events} events inserted in {bulk.seconds:.1f}s")
        period = bulk.last
        started = time.perf_counter()
        bulletins.monthly_bulletin(app.uow, end.astimezone(UTC), period)
        record_s = time.perf_counter() - started
        with app.reader() as uow:
            stored = dossier.bulletin(uow.connection, "QJ", period)
        overdue = sum(len(p["issues"]) for p in stored["parties"])
        console.print(
            f"bulletin record {period} made by workflow.jobs.monthly_bulletin in {record_s:.2f}s "
            f"({len(stored['parties'])} overdue parties, {overdue} overdue issues)"
        )

        def bulletin(r: ReportRenderer) -> bytes:
            with app.reader() as uow:
                return builders.bulletin(r, uow.connection, "QJ", period).content

        def ledger(r: ReportRenderer) -> bytes:
            with app.reader() as uow:
                return builders.ledger(r, uow.connection, "QJ").content

        what = f"{args.issues} issues, month {period}"
        bulletin_case = measure_case("bulletin", what, bulletin, renderer, folder, args.rounds, resettable)
        bulletin_case.extra.update(record_seconds=record_s, overdue_parties=len(stored["parties"]), overdue=overdue)
        what = f"{args.issues} rows over {args.months} months"
        ledger_case = measure_case(
            "ledger", what, ledger, renderer, folder, args.ledger_rounds, resettable, warm_up=False
        )
        setup = {"issues": bulk.issues, "events": bulk.events, "insert_seconds": bulk.seconds, "period": period}
    finally:
        app.engine.dispose()
    return bulletin_case, ledger_case, setup


# -- the report ------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        **host(),
        "weasyprint": weasyprint.__version__,
        "pypdf": pypdf.__version__,
        "sqlite": sqlite3.sqlite_version,
        "loadavg": os.getloadavg(),
        "git": git_state("reports", "workflow", "riverchief", "states", "bench"),
    }


def table(cases: list[Case], rounds: dict[str, int]) -> Table:
    """One row per case: renderer, floor and their ratio for time and memory."""
    out = Table(title="reports against the floor (WeasyPrint alone on the same HTML)")
    for column in ("case", "what", "pages (images)", "renderer s", "floor s", "×", "tracemalloc MB", "floor", "×"):
        out.add_column(column, justify="left" if column in ("case", "what") else "right")
    out.add_column("RSS peak / +growth MB", justify="right")
    out.add_column("floor", justify="right")
    out.add_column("×", justify="right")
    for c in cases:
        r = c.ratios()
        out.add_row(
            c.name,
            f"{c.what} (median of {rounds[c.name]})",
            f"{c.renderer.pages} ({c.renderer.images}) / {c.floor.pages} ({c.floor.images})",
            f"{c.renderer.median:.2f}",
            f"{c.floor.median:.2f}",
            f"{r['seconds']:.2f}",
            f"{c.renderer.tracemalloc_peak_mb:.1f}",
            f"{c.floor.tracemalloc_peak_mb:.1f}",
            f"{r['tracemalloc_peak']:.2f}",
            f"{c.renderer.rss_peak_mb:.0f} / +{c.renderer.rss_growth_mb:.0f}",
            f"{c.floor.rss_peak_mb:.0f} / +{c.floor.rss_growth_mb:.0f}",
            f"{r['rss_growth']:.2f}",
        )
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=10_000, help="issues of the bulk compact")
    parser.add_argument("--months", type=int, default=12, help="months the issues are spread over")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument("--rounds", type=int, default=5, help="timed runs of the follow-up and the bulletin")
    parser.add_argument("--ledger-rounds", type=int, default=1, help="timed runs of the ledger (the first: cold)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the cases, print the table, write the JSON."""
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 200)
    started = time.perf_counter()
    host = machine()  # before anything runs: the code measured is the code as it stood when the modules loaded
    resettable = _reset_peak_rss()
    if not resettable:
        console.print("[yellow]/proc/self/clear_refs is not writable: RSS peaks are the process's lifetime peak")
    with tempfile.TemporaryDirectory(prefix="rc-bench-reports-") as tmp:
        folder = Path(tmp)
        renderer = ReportRenderer(folder / "attachments")
        cases = [followup_case(folder, renderer, args.rounds, resettable, console)]
        bulletin_case, ledger_case, setup = bulk_cases(folder, renderer, args, resettable, console)
        cases += [bulletin_case, ledger_case]
    rounds = {"followup": args.rounds, "bulletin": args.rounds, "ledger": args.ledger_rounds}
    after = machine()
    host["loadavg_after"] = after["loadavg"]
    # The sources may have been edited while the benchmark ran; templates are read when first used.
    host["git"]["changed_during_run"] = after["git"] != host["git"]
    report = {
        "machine": host,
        "config": {k: str(v) for k, v in vars(args).items()},
        "bulk": setup,
        "rss_peak_resettable": resettable,
        "cases": {
            c.name: {
                "what": c.what,
                "documents": c.documents,
                "renderer": {**asdict(c.renderer), "median_s": c.renderer.median},
                "floor": {**asdict(c.floor), "median_s": c.floor.median},
                "ratio": c.ratios(),
                **c.extra,
            }
            for c in cases
        },
        "elapsed_s": time.perf_counter() - started,
    }
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    console.print(table(cases, rounds))
    console.print(
        f"bulletin record (workflow.jobs.monthly_bulletin over {setup['issues']} issues, {setup['events']} events): "
        f"{bulletin_case.extra['record_seconds']:.2f}s; {bulletin_case.extra['overdue']} overdue issues "
        f"in {bulletin_case.extra['overdue_parties']} parties"
    )
    console.print(
        f"machine: {host['nproc']} CPUs ({host['cpu']}), Python {host['python']}, WeasyPrint {host['weasyprint']}; "
        f"git {host['git']['commit']}{' (modified)' if host['git']['changed'] else ''}"
        f"{' [yellow](the sources changed during the run)[/yellow]' if host['git']['changed_during_run'] else ''}; "
        f"load average {host['loadavg'][0]:.1f}→{host['loadavg_after'][0]:.1f}; total {report['elapsed_s']:.0f}s"
    )
    console.print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
