"""A whole province on PostgreSQL: load it (``load``), then time every interactive read and batch job (``measure``).

Run::

    python -m bench.province load --scale 0.2          # into riverchief_province, dropped and made afresh
    python -m bench.province measure --scale 0.2       # prints the table, writes bench/province.json

The data set is ``bench.province_data``'s (seeded, deterministic); the schema is the app's migrations.
Reads go through the app's own code: the pages and the API on an in-process ASGI client, signed in as a
compact's coordinator and as a township chief, and the patrol figures through the functions the pages and
reports call. Batch jobs run once each, as the scheduler runs them, on the loaded database (the deadline
sweep and the bulletins write what they would write).

The issue list page and the issue page are then loaded by ``--clients`` clients at once, twice: in this one
process (threads on in-process clients, which share its interpreter lock with the app), and over HTTP from
``riverchief serve --workers N`` started apart for each N of ``--workers`` (keep-alive connections from
``bench.served``, each signed in as the coordinator, joining one after another; the server's start-up, the
sign-ins and ``--warmup`` requests untimed). The served app runs on the real clock, not on the data's frozen one.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from sqlalchemy.engine import Engine, make_url

from bench import province_data as data
from bench.host import host
from bench.served import (
    CLIENT_FAILURES,
    RIVERCHIEF,
    Connection,
    Server,
    clean_env,
    database_cpu_seconds,
    free_ports,
    quantile,
    serve_flags,
    spent,
    started,
    stop_on_sigterm,
)
from riverchief.asgi import settled
from riverchief.bootstrap import App, bootstrap
from riverchief.migrate import upgrade
from riverchief.settings import Settings
from web.access import SESSION_COOKIE
from web.api import create_api
from workflow.accounts.signin import set_password
from workflow.accounts.tokens import create_token
from workflow.core.clock import FrozenClock
from workflow.core.drawing import DRAWN_COLUMNS
from workflow.core.ledger import verify
from workflow.jobs.bulletins import monthly_bulletin, quarterly_interviews
from workflow.jobs.sweeps import deadline_sweep
from workflow.patrols.completion import completion
from workflow.patrols.funding import funding

BASE_URL = os.environ.get("RIVERCHIEF_BENCH_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/riverchief_bench")
DATABASE = "riverchief_province"
PASSWORD = "省级河长制-2026"
MONTH, QUARTER, YEAR = "2026-11", "2026-Q3", 2026


def database_url(name: str = DATABASE) -> str:
    """The bench database's URL (psycopg 3)."""
    return make_url(BASE_URL).set(drivername="postgresql+psycopg", database=name).render_as_string(False)


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


# -- load ---------------------------------------------------------------------------------------------


def recreate(name: str) -> Engine:
    """Drop and create the database ``name``, migrate it, return an engine on it."""
    admin = sa.create_engine(database_url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = sa.create_engine(database_url(name))
    upgrade(engine)
    return engine


def _reference(raw: Any, province: data.Province) -> None:
    """The tree, people, compacts, rivers, segments, quotas and funding standards."""
    copy = data.copy_rows
    copy(
        raw,
        "jurisdiction",
        ("id", "code", "name", "level", "parent_id", "path"),
        ((p.id, p.code, p.name, p.level, p.parent_id, p.path) for p in province.places),
    )
    copy(
        raw,
        "person",
        (
            "id",
            "code",
            "name",
            "role",
            "jurisdiction_id",
            "organisation",
            "title",
            "email",
            "phone",
            "channels",
            "contacts",
            "locale",
            "active",
        ),
        ((*p, '["inbox"]', "{}", "zh-CN", True) for p in province.people),
    )
    copy(
        raw,
        "compact",
        ("id", "code", "name"),
        ((c.id, c.code, f"{c.ours.name}跨界河流联防联控") for c in province.compacts),
    )
    copy(
        raw,
        "compact_member",
        ("compact_id", "jurisdiction_id"),
        ((c.id, j.id) for c in province.compacts for j in (c.ours, c.theirs)),
    )
    copy(
        raw,
        "compact_staff",
        ("compact_id", "person_id", "role"),
        (
            row
            for c in province.compacts
            for row in ((c.id, c.coordinator[0], "coordinator"), (c.id, c.auditor[0], "auditor"))
        ),
    )
    copy(raw, "river", ("id", "code", "name"), province.rivers)
    copy(
        raw,
        "segment",
        (
            "id",
            "code",
            "name",
            "river_id",
            "jurisdiction_id",
            "chief_id",
            "counterpart_id",
            "relation",
            "length_km",
            "geometry",
            "min_lon",
            "min_lat",
            "max_lon",
            "max_lat",
            *DRAWN_COLUMNS,
        ),
        province.segments,
    )
    copy(
        raw,
        "patrol_quota",
        ("level", "count", "per"),
        (("village", 1, "week"), ("township", 1, "tenday"), ("district", 1, "month")),
    )
    grades = ("I", "II", "III", "IV")
    copy(
        raw,
        "township_class",
        ("jurisdiction_id", "grade"),
        ((t.id, grades[t.id % 4]) for towns in province.townships.values() for t in towns),
    )
    copy(
        raw,
        "funding_standard",
        ("jurisdiction_id", "per_patrol_fen", "insurance_fen_per_patroller_year", "effective_from"),
        ((d.id, 3000, 12000, date(2025, 1, 1)) for d in province.districts),
    )


OUTBOX = """
INSERT INTO outbox (event_id, issue_id, recipient_id, kind, status, attempts, next_attempt_at, created_at)
SELECT e.id, e.issue_id,
       CASE WHEN e.actor_id = i.reporter_id
            THEN (SELECT s.person_id FROM compact_staff s WHERE s.compact_id = i.compact_id AND s.role = 'coordinator')
            ELSE i.reporter_id END,
       e.trigger,
       CASE WHEN e.occurred_at > :now - interval '1 hour' THEN 'pending' ELSE 'sent' END,
       CASE WHEN e.occurred_at > :now - interval '1 hour' THEN 0 ELSE 1 END,
       e.occurred_at, e.occurred_at
FROM event e JOIN issue i ON i.id = e.issue_id
WHERE e.occurred_at > :now - interval '30 days'
"""


def load(scale: float, seed: int, name: str, console: Console) -> dict[str, Any]:
    """Generate the province at ``scale`` into a fresh database ``name``; returns the counts and seconds."""
    started = time.perf_counter()
    engine = recreate(name)
    province = data.build(scale, seed)
    folder = data.temporary_folder()
    timings: dict[str, float] = {}
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        # The load's own session skips the foreign-key and append-only triggers: the generator keeps the
        # references itself, and a row-by-row check would double the time of the ledger's COPY.
        cursor.execute("SET session_replication_role = replica")
        t0 = time.perf_counter()
        _reference(raw, province)
        timings["reference"] = time.perf_counter() - t0
        events = data.MonthFiles(folder, "event")
        ledger = data.Ledger(province, events)
        patrol_files = data.MonthFiles(folder, "patrol")
        with _progress(console) as bar:
            task = bar.add_task("issues and their ledger", total=data.issue_total(province))
            t0 = time.perf_counter()
            for n, (rng, sides, at) in enumerate(data.issue_plan(province), start=1):
                ledger.issue(rng, sides, at)
                if n % 500 == 0:
                    bar.update(task, completed=n)
            bar.update(task, completed=len(ledger.issues))
            timings["issues generated"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            data.copy_rows(raw, "issue", data.ISSUE_COLUMNS, ledger.issues)
            data.copy_rows(
                raw,
                "issue_counter",
                ("compact_id", "year", "last"),
                ((c, y, n) for (c, y), n in ledger.counters.items()),
            )
            months = len(events.files)
            task = bar.add_task("ledger COPY, month by month", total=months)
            data.copy_lines(raw, "event", data.EVENT_COLUMNS, _ticking(events.lines(), lambda: bar.advance(task)))
            timings["issues and ledger COPY"] = time.perf_counter() - t0
            task = bar.add_task("patrols and tracks", total=len(province.chiefs))
            t0 = time.perf_counter()
            patrol_count = data.patrols(province, patrol_files, lambda k: bar.advance(task, k))
            timings["patrols generated"] = time.perf_counter() - t0
            task = bar.add_task("patrols COPY, month by month", total=len(patrol_files.files))
            t0 = time.perf_counter()
            data.copy_lines(
                raw, "patrol", data.PATROL_COLUMNS, _ticking(patrol_files.lines(), lambda: bar.advance(task))
            )
            timings["patrols COPY"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cursor.execute(OUTBOX.replace(":now", "%(now)s"), {"now": data.NOW})
        for table in (
            "jurisdiction",
            "person",
            "compact",
            "river",
            "segment",
            "issue",
            "patrol_quota",
            "funding_standard",
        ):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        raw.commit()
        timings["outbox and sequences"] = time.perf_counter() - t0
    finally:
        raw.close()
        shutil.rmtree(folder, ignore_errors=True)  # the month files, on success already read and removed
    t0 = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    timings["vacuum analyze"] = time.perf_counter() - t0
    counts = table_counts(engine)
    engine.dispose()
    return {
        "scale": scale,
        "effective scale": data.effective_scale(scale),
        "seed": seed,
        "seconds": time.perf_counter() - started,
        "timings": timings,
        "counts": counts,
        "made": {"issues": len(ledger.issues), "events": ledger.event_count, "patrols": patrol_count},
    }


def _ticking(chunks: Iterator[bytes], tick: Callable[[], None]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk
        tick()


SIZED = ("jurisdiction", "person", "compact", "segment", "issue", "event", "outbox", "patrol")


def table_counts(engine: Engine) -> dict[str, dict[str, int]]:
    """Rows and bytes on disk (with indexes and TOAST) of the tables that grow."""
    found = {}
    with engine.connect() as conn:
        for table in SIZED:
            rows = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            size = conn.execute(sa.text(f"SELECT pg_total_relation_size('{table}')")).scalar_one()
            found[table] = {"rows": int(rows), "bytes": int(size)}
        found["database"] = {
            "rows": 0,
            "bytes": int(conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one()),
        }
        border = conn.execute(
            sa.text(
                "SELECT count(*) FROM issue i JOIN jurisdiction a ON a.id = i.reporting_jurisdiction_id "
                "JOIN jurisdiction b ON b.id = i.receiving_jurisdiction_id "
                "WHERE split_part(a.path, '/', 2) <> split_part(b.path, '/', 2) AND i.created_at >= :y"
            ),
            {"y": data.YEAR_START},
        ).scalar_one()
        year = conn.execute(
            sa.text("SELECT count(*) FROM issue WHERE created_at >= :y"),
            {"y": data.YEAR_START},
        ).scalar_one()
        chiefs = conn.execute(sa.text("SELECT count(*) FROM person WHERE role = 'chief'")).scalar_one()
    found["issues this year"] = {"rows": int(year), "bytes": 0}
    found["of them across provinces"] = {"rows": int(border), "bytes": 0}
    found["chiefs"] = {"rows": int(chiefs), "bytes": 0}
    return found


# -- measure ----------------------------------------------------------------------------------------


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 20 else max(samples)


def timed(run: Callable[[], Any], requests: int, budget_s: float = 60.0) -> dict[str, Any]:
    """p50 and p95 in ms of ``run`` after one warm-up, ``requests`` times or as many as fit ``budget_s``."""
    t0 = time.perf_counter()
    run()
    first = time.perf_counter() - t0
    count = max(3, min(requests, int(budget_s / max(first, 1e-3))))
    samples = []
    for _ in range(count):
        t0 = time.perf_counter()
        run()
        samples.append((time.perf_counter() - t0) * 1000)
    return {"n": count, "p50": statistics.median(samples), "p95": _p95(samples), "max": max(samples)}


def concurrent(
    make: Callable[[], Callable[[], Any]], clients: int, each: int, engine: Engine | None = None
) -> dict[str, Any]:
    """``clients`` threads in this one process, each with its own client, each sending ``each`` requests at
    once after one untimed; latencies in ms, and the CPU this process and PostgreSQL (on ``engine``) spent."""
    samples: list[float] = []
    lock = threading.Lock()
    runs = [make() for _ in range(clients)]
    first: list[Reading] = []
    gate = threading.Barrier(clients, action=lambda: first.append(Reading.now(engine)))

    def worker(run: Callable[[], Any]) -> None:
        run()
        gate.wait()
        for _ in range(each):
            t0 = time.perf_counter()
            run()
            with lock:
                samples.append((time.perf_counter() - t0) * 1000)

    threads = [threading.Thread(target=worker, args=(r,)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return figures(samples, first[0], Reading.now(engine))


@dataclass(frozen=True, slots=True)
class Reading:
    """The wall clock and the CPU seconds spent so far: this process, the server's processes by pid (when it
    is another), PostgreSQL's backends on the database by pid."""

    at: float
    here: float
    server: dict[int, float]
    database: dict[int, float]

    @classmethod
    def now(cls, engine: Engine | None, server: Server | None = None) -> Reading:
        """Read them all now."""
        return cls(
            time.perf_counter(),
            time.process_time(),
            server.cpu_by_process() if server is not None else {},
            database_cpu_seconds(engine) if engine is not None else {},
        )


def figures(
    samples: list[float], before: Reading, after: Reading, errors: dict[str, int] | None = None
) -> dict[str, Any]:
    """Latencies (ms, nearest rank), throughput, and CPU per request: the server's (this process's, when it
    serves in-process), PostgreSQL's, and the clients' (this process's, when the server is another)."""
    n, seconds = len(samples), after.at - before.at
    served_apart = bool(after.server)
    server = spent(before.server, after.server) if served_apart else after.here - before.here
    return {
        "n": n,
        "p50": quantile(samples, 0.5),
        "p95": quantile(samples, 0.95),
        "p99": quantile(samples, 0.99),
        "max": max(samples, default=0.0),
        "per_s": n / seconds if seconds > 0 else 0.0,
        "seconds": seconds,
        "server_cpu_ms": 1000 * server / n if n else 0.0,
        "database_cpu_ms": 1000 * spent(before.database, after.database) / n if n else 0.0,
        "client_cpu_ms": 1000 * (after.here - before.here) / n if n and served_apart else None,
        # The busiest process's share of the server's CPU: keep-alive connections stay with the worker that
        # accepted them, so the workers need not share the load evenly.
        "busiest_share": (
            max(cpu - before.server.get(pid, 0.0) for pid, cpu in after.server.items()) / server
            if served_apart and server > 0
            else None
        ),
        "errors": errors or {},
    }


def _ok(answer: Any) -> Any:
    if answer.status_code != 200:
        raise RuntimeError(f"{answer.status_code}: {answer.text[:1000]}")
    return answer


@contextmanager
def scene(app: App, stack: ExitStack) -> Iterator[dict[str, Any]]:
    """The busiest compact's coordinator and the township chief with most open issues, signed in, and a long issue."""
    with app.engine.connect() as conn:
        compact, coordinator = conn.execute(
            sa.text(
                "SELECT c.code, p.code FROM compact c "
                "JOIN compact_staff s ON s.compact_id = c.id AND s.role = 'coordinator' "
                "JOIN person p ON p.id = s.person_id ORDER BY c.id LIMIT 1"
            )
        ).one()
        chief = conn.execute(
            sa.text(
                "SELECT p.code FROM issue i JOIN person p ON p.id = i.reporter_id "
                "WHERE i.next_check_at IS NOT NULL GROUP BY p.code ORDER BY count(*) DESC, p.code LIMIT 1"
            )
        ).scalar_one()
        long_issue = conn.execute(
            sa.text(
                "SELECT i.code FROM issue i JOIN compact c ON c.id = i.compact_id "
                "WHERE c.code = :c AND i.created_at >= :y ORDER BY i.version DESC, i.id LIMIT 1"
            ),
            {"c": compact, "y": data.YEAR_START},
        ).scalar_one()
        party = conn.execute(
            sa.text("SELECT code FROM jurisdiction WHERE level = 'township' ORDER BY id LIMIT 1")
        ).scalar_one()
    for person in (coordinator, chief):
        set_password(app.uow(), person, PASSWORD)
    _, token = create_token(app.uow(), coordinator, "bench.province")
    # As `riverchief serve` readies a worker: what start-up made is frozen out of the collector's walks. Without
    # it, every full collection here walked the bench's process (120-160 ms each): that pause was the reads'
    # p95 (the dashboard's, the map's and funding's about twice their medians), and a served worker has none of it.
    api = settled(create_api(app))

    def browser(person: str) -> TestClient:
        client = stack.enter_context(TestClient(api))
        _ok(client.post("/api/v1/session", json={"person": person, "password": PASSWORD}))
        return client

    yield {
        "compact": compact,
        "issue": long_issue,
        "party": party,
        "api": lambda: stack.enter_context(TestClient(api, headers={"Authorization": f"Bearer {token}"})),
        "coordinator": browser(coordinator),
        "chief": browser(chief),
        "who": {"coordinator": coordinator, "chief": chief},
    }


def reads(app: App, s: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    """Every interactive read, as one callable each."""
    api = s["api"]()
    c, coord, chief = s["compact"], s["coordinator"], s["chief"]
    since, until = f"{YEAR}-01-01", f"{YEAR + 1}-01-01"

    def patrol_figure(read: Callable[[sa.Connection], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with app.replica_reader() as uow:
                return read(uow.connection)

        return run

    return {
        "issue list page (coordinator)": lambda: _ok(coord.get("/issues")),
        "API issue list, no filter": lambda: _ok(api.get(f"/api/v1/issues?compact={c}")),
        "API issue list, overdue in 办": lambda: _ok(api.get(f"/api/v1/issues?compact={c}&overdue=true&phase=ban")),
        "API issue list, a party receiving": lambda: _ok(
            api.get(f"/api/v1/issues?compact={c}&party={s['party']}&side=receiving")
        ),
        "API issue list, waiting on receiving": lambda: _ok(
            api.get(f"/api/v1/issues?compact={c}&waiting_on=receiving")
        ),
        "API issue list, text": lambda: _ok(api.get(f"/api/v1/issues?compact={c}&q=%E9%87%87%E7%A0%82")),
        "API issue list, a state this year": lambda: _ok(
            api.get(f"/api/v1/issues?compact={c}&state=ban.rectifying&from={since}")
        ),
        "issue page": lambda: _ok(coord.get(f"/issues/{s['issue']}")),
        "API issue": lambda: _ok(api.get(f"/api/v1/issues/{s['issue']}")),
        "my queue (township chief)": lambda: _ok(chief.get("/queue")),
        "dashboard (coordinator)": lambda: _ok(coord.get("/dashboard")),
        "map (coordinator)": lambda: _ok(coord.get("/map")),
        "stats for a year (compact)": lambda: _ok(api.get(f"/api/v1/stats?compact={c}&from={since}&to={until}")),
        "completion, a month, all chiefs": patrol_figure(lambda conn: completion(conn, MONTH)),
        "completion, a month, a compact": patrol_figure(
            lambda conn: completion(
                conn, MONTH, conn.execute(sa.text("SELECT id FROM compact ORDER BY id LIMIT 1")).scalar_one()
            )
        ),
        "funding, a month": patrol_figure(lambda conn: funding(conn, MONTH)),
    }


# -- twenty clients over HTTP, the server in processes of its own ------------------------------------


def sign_in(port: int, person: str) -> str:
    """A browser session of ``person`` on the served app, as the pages' sign-in makes it: its cookie, name=value."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        body = json.dumps({"person": person, "password": PASSWORD}).encode()
        conn.request("POST", "/api/v1/session", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"signing in {person}: {response.status}: {answer[:1000]!r}")
        morsel = SimpleCookie(response.getheader("set-cookie", ""))[SESSION_COOKIE]
        return f"{SESSION_COOKIE}={morsel.value}"
    finally:
        conn.close()


async def _answered(conn: Connection, path: str, cookie: str) -> None:
    status, body = await conn.request("GET", path, cookie=cookie)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status}: {body[:1000]!r}")


async def _one_client(
    conn: Connection, path: str, cookie: str, until: float, samples: list[float], errors: Counter[str]
) -> None:
    """GET ``path`` again and again until ``until`` (perf_counter), each timed from sending to the last byte."""
    while time.perf_counter() < until:
        began = time.perf_counter()
        try:
            status, _ = await conn.request("GET", path, cookie=cookie)
        except CLIENT_FAILURES as exc:
            errors[type(exc).__name__] += 1
            await conn.close()
            await asyncio.sleep(0.05)
            continue
        samples.append((time.perf_counter() - began) * 1000)
        if status != 200:
            errors[f"HTTP {status}"] += 1


async def _clients_at_once(
    server: Server, engine: Engine, path: str, cookies: list[str], warmup: int, seconds: float
) -> dict[str, Any]:
    """One keep-alive connection per cookie, loading ``path`` for ``seconds`` once all of them are loading.

    The clients join one after another, as browsers arrive: each sends its ``warmup`` untimed requests while
    those before it keep the server busy, then loads it too. So the connections spread over the workers as
    they would: a worker busy with requests is slower to take the next one. (Opened all at once, every
    connection went to the first worker to wake, which accepts all that wait: four workers served as one.)
    """
    conns = [Connection(server.port) for _ in cookies]
    samples: list[float] = []
    errors: Counter[str] = Counter()
    start = asyncio.Event()
    until: list[float] = []

    async def client(conn: Connection, cookie: str, joined: asyncio.Event) -> None:
        try:
            for _ in range(warmup):
                await _answered(conn, path, cookie)
        finally:
            joined.set()
        while not start.is_set():
            await _answered(conn, path, cookie)
        await _one_client(conn, path, cookie, until[0], samples, errors)

    tasks: list[asyncio.Task[None]] = []
    try:
        for conn, cookie in zip(conns, cookies, strict=True):
            joined = asyncio.Event()
            tasks.append(asyncio.create_task(client(conn, cookie, joined)))
            await joined.wait()
            if tasks[-1].done():
                tasks[-1].result()  # its warm-up failed: say why
        before = Reading.now(engine, server)
        until.append(before.at + seconds)
        start.set()
        await asyncio.gather(*tasks)
        after = Reading.now(engine, server)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in conns))
    server.alive()
    return figures(samples, before, after, dict(errors))


def over_http(
    args: argparse.Namespace, pages: dict[str, str], person: str, folder: Path, console: Console
) -> dict[str, dict[str, Any]]:
    """The ``pages`` (label: path) under ``args.clients`` keep-alive clients, each signed in as ``person``, from
    ``riverchief serve --workers N`` for each N asked, one server at a time; start-up and sign-in untimed."""
    found: dict[str, dict[str, Any]] = {}
    url = database_url(args.database)
    engine = sa.create_engine(url, poolclass=sa.NullPool)  # only to read PostgreSQL's backends' CPU
    env = clean_env(RIVERCHIEF_DATABASE_URL=url, RIVERCHIEF_DATA_DIR=str(folder))
    try:
        for workers in args.workers:
            (port,) = free_ports(1)
            command = [str(RIVERCHIEF), "serve", "--no-scheduler", "--no-dispatcher", "--host", "127.0.0.1"]
            command += ["--port", str(port), *serve_flags(workers)]
            log = folder / f"serve-{workers}.log"
            with started(f"riverchief serve --workers {workers}", command, env, folder, port, log) as server:
                server.wait_ready()
                cookies = [sign_in(port, person) for _ in range(args.clients)]
                for page, path in pages.items():
                    label = f"{page}, {args.clients} clients over HTTP, {workers} worker{'s' if workers > 1 else ''}"
                    r = asyncio.run(_clients_at_once(server, engine, path, cookies, args.warmup, args.http_seconds))
                    found[label] = r
                    console.print(
                        f"{label:<56} p50 {r['p50']:7.0f} p95 {r['p95']:7.0f} p99 {r['p99']:7.0f} ms  "
                        f"{r['per_s']:5.1f}/s  server {r['server_cpu_ms']:5.0f} + PostgreSQL "
                        f"{r['database_cpu_ms']:4.0f} ms CPU a request"
                        + (f"  [red]errors {r['errors']}[/]" if r["errors"] else "")
                    )
    finally:
        engine.dispose()
    return found


def batches(app: App, console: Console, wanted: Callable[[str], bool]) -> dict[str, dict[str, Any]]:
    """Each batch job ``wanted`` once: ledger verify (with its progress), the sweep, the bulletins, the interviews."""
    found: dict[str, dict[str, Any]] = {}
    with app.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM bulletin"))
        issues = conn.execute(sa.text("SELECT count(*) FROM issue")).scalar_one()
        due = conn.execute(
            sa.text("SELECT count(*) FROM issue WHERE next_check_at <= :now"), {"now": data.NOW}
        ).scalar_one()
    if wanted("ledger verify"):
        with _progress(console) as bar:
            task = bar.add_task("ledger verify", total=issues)
            t0 = time.perf_counter()
            with app.reader() as uow:
                report = verify(uow.session, progress=lambda: bar.advance(task))
            found["ledger verify"] = {
                "s": time.perf_counter() - t0,
                "ok": report.ok,
                "events": report.events,
                "issues": report.issues,
            }
        if not report.ok:
            console.print(report.findings[:5])
    if wanted("deadline sweep"):
        t0 = time.perf_counter()
        swept = deadline_sweep(app.uow, data.NOW)
        found["deadline sweep"] = {"s": time.perf_counter() - t0, "due": due, **swept}
    with app.engine.connect() as conn:
        compacts = len(conn.execute(sa.text("SELECT id FROM compact")).all())
    if wanted("monthly bulletin, every compact"):
        t0 = time.perf_counter()
        made = monthly_bulletin(app.uow, data.NOW, MONTH)
        found["monthly bulletin, every compact"] = {"s": time.perf_counter() - t0, "compacts": compacts, **made}
    if wanted("interview list, every compact"):
        t0 = time.perf_counter()
        made = quarterly_interviews(app.uow, data.NOW, QUARTER)
        found["interview list, every compact"] = {"s": time.perf_counter() - t0, "compacts": compacts, **made}
    return found


def measure(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Time every read with one client, the issue list and page with many, then each batch job."""
    load_before = [round(x, 2) for x in os.getloadavg()]
    folder = Path(tempfile.mkdtemp(prefix="province-measure-"))
    clock = FrozenClock(data.NOW)
    app = bootstrap(Settings(database_url=database_url(args.database), data_dir=folder), clock=clock)
    one: dict[str, Any] = {}
    many: dict[str, Any] = {}

    def wanted(label: str) -> bool:
        return not args.only or any(part in label for part in args.only)

    try:
        with ExitStack() as stack, scene(app, stack) as s:
            for label, run in reads(app, s).items():
                if not wanted(label):
                    continue
                one[label] = timed(run, args.requests)
                console.print(
                    f"{label:<40} p50 {one[label]['p50']:8.1f} ms  p95 {one[label]['p95']:8.1f} ms  n={one[label]['n']}"
                )
            coordinator = s["who"]["coordinator"]

            def client_for(path: str) -> Callable[[], Callable[[], Any]]:
                def make() -> Callable[[], Any]:
                    client = stack.enter_context(TestClient(settled(create_api(app))))
                    _ok(client.post("/api/v1/session", json={"person": coordinator, "password": PASSWORD}))
                    return lambda: _ok(client.get(path))

                return make

            pages = {"issue list page": "/issues", "issue page": f"/issues/{s['issue']}"}
            for label, path in pages.items():
                row = f"{label}, {args.clients} clients in one process"
                if not wanted(row):
                    continue
                alone = one.get("issue page" if label == "issue page" else "issue list page (coordinator)")
                slow = alone is None or alone["p50"] > 1000
                # a slow page: fewer rounds
                many[row] = r = concurrent(client_for(path), args.clients, 2 if slow else 5, app.engine)
                console.print(f"{row:<56} p50 {r['p50']:7.0f} p95 {r['p95']:7.0f} p99 {r['p99']:7.0f} ms")
            served = {
                label: path
                for label, path in pages.items()
                if any(wanted(f"{label}, {args.clients} clients over HTTP, {n} worker") for n in args.workers)
            }
            if served:
                many |= over_http(args, served, coordinator, folder, console)
        jobs = batches(app, console, wanted)
    finally:
        app.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    engine = sa.create_engine(database_url(args.database))
    counts = table_counts(engine)
    engine.dispose()
    return {
        "scale": args.scale,
        "load average": load_before,
        "load average after": [round(x, 2) for x in os.getloadavg()],
        "one client": one,
        "clients": args.clients,
        "many clients": many,
        "batch": jobs,
        "counts": counts,
    }


def markdown(result: dict[str, Any]) -> str:
    """The figures as markdown tables."""
    lines = ["| read | n | p50 ms | p95 ms | max ms |", "| --- | --: | --: | --: | --: |"]
    for label, r in result["one client"].items():
        lines.append(f"| {label} | {r['n']} | {r['p50']:.0f} | {r['p95']:.0f} | {r['max']:.0f} |")
    if result["many clients"]:
        lines += [
            "",
            "| read, clients at once | n | p50 ms | p95 ms | p99 ms | max ms | req/s "
            "| server CPU ms/req | PostgreSQL CPU ms/req |",
            "| --- | --: | --: | --: | --: | --: | --: | --: | --: |",
        ]
        for label, r in result["many clients"].items():
            lines.append(
                f"| {label} | {r['n']} | {r['p50']:.0f} | {r['p95']:.0f} | {r['p99']:.0f} | {r['max']:.0f} "
                f"| {r['per_s']:.1f} | {r['server_cpu_ms']:.0f} | {r['database_cpu_ms']:.0f} |"
            )
    lines += ["", "| batch job | seconds | what |", "| --- | --: | --- |"]
    for label, r in result["batch"].items():
        what = ", ".join(f"{k} {v}" for k, v in r.items() if k != "s")
        lines.append(f"| {label} | {r['s']:.1f} | {what} |")
    lines += ["", "| table | rows | MiB |", "| --- | --: | --: |"]
    for table, r in result["counts"].items():
        lines.append(f"| {table} | {r['rows']:,} | {r['bytes'] / 2**20:.1f} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.province", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("load", "measure"))
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--requests", type=int, default=20, help="timed requests of each read, one client")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients for the issue list and page")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[2],
        metavar="N",
        help="worker processes of the server the clients reach over HTTP; several: one server after another "
        "(default 2)",
    )
    parser.add_argument(
        "--http-seconds", type=float, default=20.0, help="seconds the clients load each page over HTTP (default 20)"
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="untimed requests of each HTTP client before the clock starts (default 2)"
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="TEXT",
        help="time only the reads and batch jobs whose label contains TEXT (repeatable), e.g. --only dashboard",
    )
    args = parser.parse_args(argv)
    if args.clients < 1 or min(args.workers) < 1 or args.http_seconds <= 0 or args.warmup < 1:
        parser.error("--clients, --workers and --warmup must be at least 1 and --http-seconds above 0")
    return args


def main(argv: list[str] | None = None) -> None:
    """``load`` or ``measure``."""
    args = parse_args(argv)
    stop_on_sigterm()  # a server started for the HTTP rows is stopped however the bench ends
    console = Console(width=None if sys.stdout.isatty() else 160)
    out = Path(__file__).with_name("province.json")
    if args.command == "load":
        result = load(args.scale, args.seed, args.database, console)
        console.print_json(json.dumps(result, default=str))
        out.with_name("province-load.json").write_text(json.dumps({"host": host(), **result}, indent=2, default=str))
        return
    result = measure(args, console)
    out.write_text(json.dumps({"host": host(), **result}, indent=2, default=str))
    print(markdown(result))


if __name__ == "__main__":
    main()
