"""Which index of issue, event and outbox each statement riverchief sends uses, on PostgreSQL at a realistic size.

Run ``.venv/bin/python -m bench.indexes [--issues 5000] [--compacts 1] [--output index_use.json]``;
bench/README.md ("Which indexes the queries use") says what it found. In a scratch database
``riverchief_bench_indexes``: the 琼江 compact with ``--issues`` issues and their ledgers over 14 months
(``bench.reports.bulk_load``), an outbox row per event (mostly sent), a few issues walked through the whole
life; ``--compacts N`` moves all but one issue in N to N - 1 other compacts, as a province's database
holds them. After ANALYZE, every statement the following send is EXPLAINed (on a second connection, with
the same parameters) and the indexes of its plan recorded: the whole life through ``apply``, every kind of
request of ``bench.requests`` and every GET route of the API and the pages (as the coordinator, the
receiving chief and a token), the issue list's filters, every scheduled job once, and a dispatcher batch.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import tempfile
import traceback
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, cast

import psycopg
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from starlette.routing import Route

from bench.apply import POSTGRES_URL, Lane, make_bench, postgres_database
from bench.issue_list import FILTERS, _ours
from bench.reports import bulk_load
from bench.requests import KINDS, send, stage
from riverchief.bootstrap import App, bootstrap
from riverchief.migrate import upgrade
from riverchief.scheduler import JOBS
from riverchief.settings import Settings
from tests.factories import START, load_world
from workflow.core.clock import FrozenClock
from workflow.core.db import make_engine

ROOT = Path(__file__).resolve().parent.parent
URL = make_url(POSTGRES_URL).set(database="riverchief_bench_indexes").render_as_string(hide_password=False)
TABLES = ("issue", "event", "outbox")
_MENTIONS = re.compile(r"\b(issue|event|outbox)\b")
_PROJECT = ("web", "workflow", "notifications", "riverchief")


def caller() -> str:
    """The innermost project frame that sent the statement."""
    for frame in reversed(traceback.extract_stack()):
        path = Path(frame.filename)
        if path.is_relative_to(ROOT) and path.parts[len(ROOT.parts)] in _PROJECT:
            relative = path.relative_to(ROOT)
            if relative != Path("workflow/core/uow.py"):
                return f"{relative}:{frame.lineno} {frame.name}"
    return "?"


def scans(plan: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """("index", name) for each index the plan reads, ("seq", table) for each table it reads whole."""
    if "Index Name" in plan:
        yield "index", plan["Index Name"]
    if plan.get("Node Type") == "Seq Scan":
        yield "seq", plan["Relation Name"]
    for sub in plan.get("Plans", []):
        yield from scans(sub)


class Explainer:
    """EXPLAINs every statement on ``engine`` that reads issue, event or outbox, while listening."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.conn = psycopg.connect(plain, autocommit=True)
        self.uses: dict[str, set[str]] = defaultdict(set)
        self.seqscans: dict[str, set[str]] = defaultdict(set)
        self.plans: dict[str, Any] = {}

    def __call__(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        text = statement.lstrip()
        head = text[:10].upper()
        if not head.startswith(("SELECT", "UPDATE", "DELETE", "WITH", "INSERT")) or not _MENTIONS.search(text):
            return
        if head.startswith("INSERT") and "SELECT" not in text.upper():
            return  # a plain INSERT reads no index
        params = parameters[0] if many and parameters else parameters
        site = caller()
        try:
            with self.conn.cursor() as cur:
                cur.execute("EXPLAIN (FORMAT JSON) " + statement, params)
                row = cur.fetchone()
        except psycopg.Error as exc:
            print(f"EXPLAIN failed at {site}: {type(exc).__name__} {str(exc)[:200]}")
            return
        assert row is not None
        plan = row[0][0]["Plan"]
        digest = hashlib.sha1((statement + repr(params)).encode()).hexdigest()[:6]
        key = f"{site} #{digest} | {' '.join(statement.split())[:160]}"
        for kind, name in scans(plan):
            (self.uses if kind == "index" else self.seqscans)[name].add(key)
        self.plans.setdefault(key, plan)

    @contextmanager
    def listening(self) -> Iterator[None]:
        """EXPLAIN what is sent inside the block."""
        event.listen(self.engine, "before_cursor_execute", self)
        try:
            yield
        finally:
            event.remove(self.engine, "before_cursor_execute", self)


def populate(app: App, issues: int, compacts: int) -> None:
    """The ledgers, an outbox row per event, and the other compacts."""
    print("bulk:", bulk_load(app, issues, 14, 2025, 7))
    with app.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO outbox (event_id, issue_id, recipient_id, kind, status, attempts, next_attempt_at,"
                " created_at) SELECT e.id, e.issue_id, e.actor_id, e.trigger,"
                " CASE WHEN e.id % 50 = 0 THEN 'pending' ELSE 'sent' END, 1, e.occurred_at, e.occurred_at"
                " FROM event e WHERE e.actor_id IS NOT NULL"
            )
        )
        for n in range(1, compacts):
            conn.execute(
                sa.text(
                    "INSERT INTO compact (code, name) SELECT CAST(:code AS VARCHAR), name || :n FROM compact"
                    " WHERE code = 'QJ'"
                ),
                {"code": f"C{n}", "n": str(n)},
            )
        if compacts > 1:
            conn.execute(
                sa.text(
                    "UPDATE issue SET compact_id = (SELECT id FROM compact WHERE code = 'C' || (issue.id % :n)::text)"
                    " WHERE issue.id % :n <> 0"
                ),
                {"n": compacts},
            )
            # Their events go with them: a scratch database made up after the fact, where the ledger's
            # append-only triggers (which let an event's compact be set once) are set aside for this statement.
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            conn.execute(
                sa.text(
                    "UPDATE event SET compact_id = issue.compact_id FROM issue"
                    " WHERE issue.id = event.issue_id AND event.compact_id <> issue.compact_id"
                )
            )


def workload(app: App, world: Any, life: Lane) -> None:
    """What riverchief sends in a working day, and more."""
    life.run(len(life.cycle.moves) * len(life.slots))
    with ExitStack() as stack:
        scene = stage(world, stack)
        for kind in KINDS:
            send(scene, kind)
        codes = {"code": scene.read, "issue_code": scene.read}
        for route in cast(FastAPI, scene.api.app).routes:
            if not isinstance(route, Route) or "GET" not in (route.methods or set()):
                continue
            try:
                path = route.path.format(**codes)
            except KeyError:
                continue  # a parameter there is no value for here
            for client in (scene.coordinator, scene.chief, scene.api):
                client.get(path)
        for options in FILTERS.values():
            _ours(app, options)
    now = app.clock.now()
    for job in JOBS:
        job.work(app, now, job.latest(now))
    app.dispatcher().drain(max_batches=2)


def run(url: str, issues: int, compacts: int) -> dict[str, Any]:
    """Populate, ANALYZE, then EXPLAIN the workload's statements; which index each used, and which table
    each read whole."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        clock = FrozenClock(START)
        app = bootstrap(Settings(database_url=url, data_dir=Path(tempfile.mkdtemp())), clock=clock, engine=engine)
        world = load_world(app, clock)
        populate(app, issues, compacts)
        bench = make_bench(world)
        life = Lane(bench, "apply", bench.cycles["whole life"], list(range(30)))
        life.run(len(life.cycle.moves) * 30 + 7 * 30)  # some archived, some half-way
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
        explainer = Explainer(engine, url)
        try:
            with explainer.listening():
                workload(app, world, life)
        finally:
            explainer.conn.close()
        with engine.connect() as conn:
            indexes = conn.execute(
                sa.text(
                    "SELECT relname, indexrelname FROM pg_stat_user_indexes WHERE relname IN ('issue', 'event',"
                    " 'outbox') ORDER BY relname, indexrelname"
                )
            ).all()
        return {
            "issues": issues,
            "compacts": compacts,
            "indexes": {name: {"table": table, "used_by": sorted(explainer.uses[name])} for table, name in indexes},
            "seq_scans": {table: sorted(explainer.seqscans[table]) for table in TABLES},
            "plans": explainer.plans,
        }
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    """Run, print the statements per index, write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.indexes", description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=5000)
    parser.add_argument("--compacts", type=int, default=1, help="compacts the issues are spread over")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("index_use.json"))
    args = parser.parse_args(argv)
    with postgres_database(URL) as url:
        found = run(url, args.issues, args.compacts)
    args.output.write_text(json.dumps(found, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    for name, index in found["indexes"].items():
        sites = sorted({key.split(" #")[0] for key in index["used_by"]})
        print(f"{index['table']:7} {name:40} {len(index['used_by']):4} statements  {'; '.join(sites)[:200]}")
    print(f"results: {args.output}")


if __name__ == "__main__":
    main()
