"""The coordinator's issue list with its filters over many issues, against the bare SQL of the same query.

Run: ``.venv/bin/python -m bench.issue_list [--issues 100000] [--requests 40] [--dialect sqlite|postgres|both]``

The database holds ``--issues`` issues of the 琼江 compact spread over the year, states, categories,
difficulties, sides and segments. For each filter the workbench offers, ``list_issues`` (what the page and
the API call: validation, the party look-up, the query, the rows made into summaries) reads a page of 50,
``--requests`` times after a warm-up; the floor sends the very SQL it sent, with its parameters, through the
driver's cursor and fetches the rows. Both run in the same process on the same engine, interleaved.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from sqlalchemy import event

from bench.host import host
from bench.sweep import _drop, _flush, _fresh_engine
from riverchief.bootstrap import App, bootstrap
from riverchief.migrate import upgrade
from riverchief.settings import Settings
from states import CHART
from states.policy import CATEGORIES, DIFFICULTIES
from tests.factories import START, load_world
from workflow.core.clock import FrozenClock
from workflow.core.models import Issue, Jurisdiction, Segment, table_of
from workflow.reading.issues import list_issues

_issue = table_of(Issue)
NOW = START + timedelta(days=200)
PAGE = 50
# The filters a coordinator uses, as the workbench page sends them to list_issues.
FILTERS: dict[str, dict[str, Any]] = {
    "newest, no filter": {},
    "overdue in 办": {"overdue": True, "phase": "ban"},
    "a party, receiving side": {"party": "510904", "side": "receiving"},
    "waiting on the receiving side, nearest deadline": {"waiting_on": "receiving", "order": "due"},
    "text search": {"text": "排污"},
    "category, difficulty, river": {"category": "sand_mining", "difficulty": "hard", "river": "qiongjiang"},
    "a state, page 20": {"states": ["ban.rectifying"], "offset": 19 * PAGE},
}
TITLES = ("段排污口直排", "段养殖废水入河", "岸线垃圾堆放", "非法采砂", "漂浮物聚集", "工业园区废水")


def _populate(app: App, count: int, seed: int = 7) -> None:
    """``count`` issues over the year, in every waiting state, between the compact's townships."""
    rng = random.Random(seed)
    with app.engine.begin() as conn:
        juris = table_of(Jurisdiction)
        towns = list(conn.execute(sa.select(juris.c.id).where(juris.c.level == "township")).scalars())
        segments = list(conn.execute(sa.select(table_of(Segment).c.id)).scalars())
        compact = conn.execute(sa.text("SELECT id FROM compact WHERE code = 'QJ'")).scalar()
    states = [s.name for s in CHART.states if s.name not in ("new",)]
    batch: list[dict[str, Any]] = []
    for n in range(count):
        created = START + timedelta(minutes=rng.randrange(0, 360 * 24 * 60))
        reporting, receiving = rng.sample(towns, 2)
        state = rng.choice(states)
        due = created + timedelta(days=rng.randrange(1, 60)) if state.startswith(("ban.", "du.", "cha.")) else None
        batch.append(
            {
                "code": f"QJ-2026-{n + 1:07d}",
                "compact_id": compact,
                "title": rng.choice(TITLES),
                "description": "",
                "category": rng.choice(list(CATEGORIES)),
                "difficulty": rng.choice(list(DIFFICULTIES)),
                "place": "",
                "segment_id": rng.choice([*segments, None]),
                "reporting_jurisdiction_id": reporting,
                "receiving_jurisdiction_id": receiving if state.startswith(("ban.", "du.")) else None,
                "state": state,
                "version": 3,
                "due_at": due,
                "next_check_at": due,
                "check_round": 0,
                "rebound_count": 0,
                "revisit_count": 0,
                "ledger_head": "0" * 64,
                "created_at": created,
                "updated_at": created,
            }
        )
        if len(batch) == 20000:
            _flush(app.engine, batch)
    _flush(app.engine, batch)


def _captured(app: App, options: dict[str, Any]) -> list[tuple[str, Any]]:
    """The statements ``list_issues`` sends for these options, with their parameters."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        sent.append((statement, parameters))

    event.listen(app.engine, "before_cursor_execute", record)
    try:
        _ours(app, options)
    finally:
        event.remove(app.engine, "before_cursor_execute", record)
    return [(s, p) for s, p in sent if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))]


def _ours(app: App, options: dict[str, Any]) -> int:
    with app.reader() as uow:
        return len(list_issues(uow.session, now=NOW, compact="QJ", limit=PAGE, **options))


def _floor(app: App, statements: list[tuple[str, Any]]) -> int:
    rows = 0
    raw = app.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in statements:
            cursor.execute(statement, parameters)
            rows += len(cursor.fetchall())
        raw.rollback()
    finally:
        raw.close()
    return rows


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 20 else max(samples)


def measure(dialect: str, issues: int, requests: int) -> dict[str, Any]:
    """The p50/p95 per request of each filter, ours and the floor's, on one dialect."""
    folder = Path(tempfile.mkdtemp())
    name = "riverchief_bench_list"
    engine = _fresh_engine(dialect, folder, name)
    try:
        upgrade(engine)
        clock = FrozenClock(NOW)
        app = bootstrap(Settings(database_url=str(engine.url), data_dir=folder), clock=clock, engine=engine)
        load_world(app, clock)
        started = time.perf_counter()
        _populate(app, issues)
        if dialect == "postgres":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("ANALYZE"))
        else:
            with engine.begin() as conn:
                conn.execute(sa.text("ANALYZE"))
        loaded = time.perf_counter() - started
        results = {}
        for label, options in FILTERS.items():
            statements = _captured(app, options)
            for _ in range(3):
                _ours(app, options)
                _floor(app, statements)
            ours, floor = [], []
            for _ in range(requests):
                t0 = time.perf_counter()
                _ours(app, options)
                t1 = time.perf_counter()
                _floor(app, statements)
                t2 = time.perf_counter()
                ours.append((t1 - t0) * 1000)
                floor.append((t2 - t1) * 1000)
            results[label] = {
                "statements": len(statements),
                "ours_p50": statistics.median(ours),
                "ours_p95": _p95(ours),
                "floor_p50": statistics.median(floor),
                "floor_p95": _p95(floor),
            }
        return {"dialect": dialect, "issues": issues, "load_s": loaded, "filters": results}
    finally:
        _drop(dialect, engine, name)


def main() -> None:
    """Measure and print a table per dialect; write the figures to bench/issue_list.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--dialect", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    console = Console()
    runs = []
    for dialect in ("sqlite", "postgres") if args.dialect == "both" else (args.dialect,):
        result = measure(dialect, args.issues, args.requests)
        runs.append(result)
        table = Table(title=f"issue list over {args.issues:,} issues, {dialect} (loaded in {result['load_s']:.0f} s)")
        for column in ("filter", "stmts", "ours p50 ms", "ours p95 ms", "floor p50 ms", "floor p95 ms", "p95 ratio"):
            table.add_column(column, justify="left" if column == "filter" else "right")
        for label, r in result["filters"].items():
            table.add_row(
                label,
                str(r["statements"]),
                f"{r['ours_p50']:.1f}",
                f"{r['ours_p95']:.1f}",
                f"{r['floor_p50']:.1f}",
                f"{r['floor_p95']:.1f}",
                f"{r['ours_p95'] / r['floor_p95']:.2f}",
            )
        console.print(table)
    out = Path(__file__).with_name("issue_list.json")
    out.write_text(json.dumps({"host": host(), "runs": runs}, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
