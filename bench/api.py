"""How fast the HTTP API answers many clients on loopback, against the floor: the same HTTP stack doing no work.

Run ``.venv/bin/python -m bench.api [--db sqlite|postgres|both] [--clients 50] [--seconds N] [--issues N]``;
bench/README.md says what is measured and how. For each database:

* the world: the 琼江 compact of the demo, ``--issues`` issues bulk-inserted with their ledgers
  (``bench.reports.bulk_load``), and ``--own`` issues per client reported and walked to ``ban.rectifying``
  through ``apply``; one personal access token per client (the receiving chief's);
* riverchief: ``riverchief serve --no-scheduler --no-dispatcher`` as a subprocess on that database;
* the floor: ``bench/api_floor.py`` started the same way (uvicorn, same logging, same worker count), its
  routes plain functions returning a body of the same size and shape without touching a database;
* the clients: ``--clients`` keep-alive HTTP/1.1 connections from this process (asyncio), each sending its
  next request as soon as the last is answered: ``GET /api/v1/issues/{code}`` over random codes,
  ``POST /api/v1/issues/{code}/transitions`` firing ``progress`` on the client's own issues with the
  version it last saw, and a 90/10 mix; riverchief and the floor alternate round by round;
* then the open loop, for each of ``--rates``: the same clients and workloads, each request falling due at random
  at the offered rate whether or not the last was answered, and timed from when it fell due, so the latency is a
  request's at that load rather than the queue that a closed loop of 50 clients makes (Little's law).

Afterwards every client-owned issue must stand at the version its client last saw, and have moved once per
accepted POST: the bench checks that the API did what it answered. Figures go to bench/api-results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import fastapi
import sqlalchemy as sa
import starlette
import uvicorn
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from bench.apply import POSTGRES_URL, machine, postgres_database, rectifying, server_info
from bench.reports import bulk_load
from bench.served import (
    CLIENT_FAILURES,
    RIVERCHIEF,
    Connection,
    Server,
    clean_env,
    free_ports,
    quantile,
    serve_flags,
    started,
)
from riverchief.bootstrap import bootstrap
from riverchief.migrate import upgrade
from riverchief.settings import Settings
from tests.factories import RECEIVER, START, load_world
from workflow.accounts.tokens import create_token
from workflow.core.clock import FrozenClock
from workflow.core.db import make_engine
from workflow.core.models import Issue, table_of

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "api-results.json"
TARGETS = ("riverchief", "floor")
NOTE = "排口封堵完成一半，正在清理管网"

_issue = table_of(Issue)


@dataclass(frozen=True, slots=True)
class Workload:
    """What the clients ask: the share of their requests that are POSTs (the rest are GETs)."""

    name: str
    post_share: float


WORKLOADS = {w.name: w for w in (Workload("get", 0.0), Workload("post", 1.0), Workload("mixed", 0.1))}


# -- the world -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Owned:
    """An issue a client fires triggers on: its code and the version the client last saw."""

    code: str
    version: int
    stale: bool = False  # the last POST was refused or failed: read the version before the next


@dataclass(frozen=True, slots=True)
class Prepared:
    """The database the servers are started on, and what the clients need of it."""

    url: str
    codes: list[str]  # every issue, for the GETs
    owned: list[list[Owned]]  # per client: its issues in ban.rectifying, for the POSTs
    tokens: list[str]  # per client: its bearer token
    server: dict[str, str]
    seconds: float


def prepare(url: str, folder: Path, args: argparse.Namespace) -> Prepared:
    """Migrate, load the compact, insert the issues, walk the clients' issues to ban.rectifying, make tokens."""
    began = time.perf_counter()
    postgres = make_url(url).get_backend_name() == "postgresql"
    # Setting up is not measured: on PostgreSQL its commits need not wait for the WAL flush.
    engine = make_engine(url, connect_args={"options": "-c synchronous_commit=off"}) if postgres else make_engine(url)
    try:
        upgrade(engine)
        clock = FrozenClock(START)
        app = bootstrap(Settings(database_url=url, data_dir=folder), clock=clock, engine=engine)
        world = load_world(app, clock)
        if args.issues:
            bulk_load(app, args.issues, months=12, year=START.year - 1, seed=args.seed)
        owned = [[rectifying(world) for _ in range(args.own)] for _ in range(args.clients)]
        tokens = [create_token(app.uow(), RECEIVER, f"bench client {i + 1}")[1] for i in range(args.clients)]
        with engine.connect() as conn:
            versions = dict(conn.execute(sa.select(_issue.c.code, _issue.c.version)).all())
        info = server_info(engine)
    finally:
        engine.dispose()
    return Prepared(
        url=url,
        codes=sorted(versions),
        owned=[[Owned(code, versions[code]) for code in codes] for codes in owned],
        tokens=tokens,
        server=info,
        seconds=time.perf_counter() - began,
    )


def check_versions(prepared: Prepared, owned: list[list[Owned]], accepted: int) -> dict[str, int]:
    """Every client-owned issue stands at the version its client saw, having moved once per accepted POST."""
    engine = make_engine(prepared.url)
    try:
        with engine.connect() as conn:
            stored = dict(conn.execute(sa.select(_issue.c.code, _issue.c.version)).all())
    finally:
        engine.dispose()
    seen = {o.code: o.version for issues in owned for o in issues}
    wrong = {code: (version, stored[code]) for code, version in seen.items() if stored[code] != version}
    if wrong:
        raise RuntimeError(f"issues not at the version their client saw (seen, stored): {wrong}")
    moved = sum(o.version for issues in owned for o in issues) - sum(o.version for i in prepared.owned for o in i)
    if moved != accepted:
        raise RuntimeError(f"{accepted} POSTs were answered 200 but the issues moved {moved} versions")
    return {"issues_checked": len(seen), "versions_moved": moved}


# -- the servers (bench.served starts them) --------------------------------------------------------


def sample_body(server: Server, prepared: Prepared, rng: random.Random) -> bytes:
    """A GET body riverchief gave, of the median size among a sample of issues: what the floor will serve."""
    bodies = []
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for code in rng.sample(prepared.codes, min(51, len(prepared.codes))):
            conn.request("GET", f"/api/v1/issues/{code}", headers={"Authorization": f"Bearer {prepared.tokens[0]}"})
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {code} answered {response.status}: {body[:300]!r}")
            bodies.append(body)
    finally:
        conn.close()
    bodies.sort(key=len)
    return bodies[len(bodies) // 2]


# -- the clients (over bench.served's connections) -------------------------------------------------


@dataclass
class Tally:
    """What the clients got from one target: latencies per kind of request, statuses, bytes."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {"get": [], "post": []})
    woke_late: list[float] = field(default_factory=list)  # open loop: how late a client idle till then sent
    ok: Counter[str] = field(default_factory=Counter)
    conflicts: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    body_bytes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0

    @property
    def requests(self) -> int:
        """Requests answered (whatever the answer)."""
        return sum(len(v) for v in self.latencies.values())

    def merge(self, other: Tally) -> None:
        """Add another run's figures to these."""
        for kind, values in other.latencies.items():
            self.latencies[kind] += values
        self.woke_late += other.woke_late
        self.ok.update(other.ok)
        self.conflicts += other.conflicts
        self.errors.update(other.errors)
        self.body_bytes.update(other.body_bytes)
        self.seconds += other.seconds
        self.client_cpu += other.client_cpu
        self.server_cpu += other.server_cpu


@dataclass
class Client:
    """One client: its token, its own issues (fired round-robin), its random stream of codes."""

    token: str
    owned: list[Owned]
    rng: random.Random
    arrivals: random.Random  # the open loop's gaps between requests, apart from what is asked
    turn: int = 0

    def progress_body(self, issue: Owned) -> bytes:
        """A ``progress`` report on one of its issues, expecting the version it last saw."""
        self.turn += 1
        payload = {"note": NOTE, "percent": self.turn % 101}
        body = {"trigger": "progress", "payload": payload, "expected_version": issue.version}
        return json.dumps(body, ensure_ascii=False).encode()


async def refresh(conn: Connection, client: Client, issue: Owned) -> None:
    """Read an issue's version again (after a refusal or a failure; not counted)."""
    status, body = await conn.request("GET", f"/api/v1/issues/{issue.code}", client.token)
    if status == 200:
        issue.version = int(json.loads(body)["version"])
        issue.stale = False


async def one_client(
    port: int,
    client: Client,
    codes: list[str],
    post_share: float,
    span: tuple[float, float],
    tally: Tally,
    rate: float = 0.0,
) -> None:
    """Requests from ``span``'s start until its end (perf_counter), each timed to the last byte of its answer.

    Closed loop (``rate`` 0): each request is sent when the last is answered and timed from its sending. Open loop:
    this client's requests fall due at ``rate`` a second on average, at random (exponential gaps, so that all the
    clients together arrive as a Poisson stream), and each is timed from when it fell due: a request that had to
    wait for its client's last answer counts that wait, as a person's second click would.
    """
    conn = Connection(port)
    clock = time.perf_counter
    start, until = span
    due = start + (client.arrivals.expovariate(rate) if rate else 0.0)
    try:
        while (due if rate else clock()) < until:
            if rate and (wait := due - clock()) > 0:
                await asyncio.sleep(wait)
                tally.woke_late.append(clock() - due)  # the client's own lateness, in every latency it times
            post = post_share >= 1.0 or (post_share > 0.0 and client.rng.random() < post_share)
            kind = "post" if post else "get"
            try:
                if post:
                    issue = client.owned[client.turn % len(client.owned)]
                    if issue.stale:
                        await refresh(conn, client, issue)
                    body = client.progress_body(issue)
                    began = due if rate else clock()
                    status, answer = await conn.request(
                        "POST", f"/api/v1/issues/{issue.code}/transitions", client.token, body
                    )
                else:
                    code = codes[client.rng.randrange(len(codes))]
                    began = due if rate else clock()
                    status, answer = await conn.request("GET", f"/api/v1/issues/{code}", client.token)
            except CLIENT_FAILURES as exc:
                tally.errors[type(exc).__name__] += 1
                if post:
                    issue.stale = True
                await conn.close()
                await asyncio.sleep(0.05)
                continue
            finally:
                due += client.arrivals.expovariate(rate) if rate else 0.0
            tally.latencies[kind].append(clock() - began)
            tally.body_bytes[kind] += len(answer)
            if status == 200:
                tally.ok[kind] += 1
                if post:
                    issue.version = int(json.loads(answer)["version"])
                continue
            if status == 409:
                tally.conflicts += 1
            else:
                tally.errors[f"HTTP {status}"] += 1
            if post:
                issue.stale = True
    finally:
        await conn.close()


async def load(
    port: int, clients: list[Client], codes: list[str], workload: Workload, seconds: float, rate: float = 0.0
) -> Tally:
    """All clients at once for ``seconds`` (offering ``rate`` requests a second between them, or as fast as they
    are answered when 0); the run ends when the last request in flight is answered."""
    tally = Tally()
    began = time.perf_counter()
    each = rate / len(clients)
    span = (began, began + seconds)
    await asyncio.gather(*(one_client(port, c, codes, workload.post_share, span, tally, each) for c in clients))
    tally.seconds = time.perf_counter() - began
    return tally


def run(
    server: Server, clients: list[Client], codes: list[str], workload: Workload, seconds: float, rate: float = 0.0
) -> Tally:
    """One timed run against one server, with the CPU this process and the server spent."""
    cpu, server_cpu = time.process_time(), server.cpu_seconds()
    tally = asyncio.run(load(server.port, clients, codes, workload, seconds, rate))
    tally.client_cpu = time.process_time() - cpu
    tally.server_cpu = server.cpu_seconds() - server_cpu
    server.alive()
    return tally


# -- one database, end to end ----------------------------------------------------------------------


def figures(tally: Tally) -> dict[str, Any]:
    """Throughput, latency, refusals and CPU of one target on one workload."""
    every = tally.latencies["get"] + tally.latencies["post"]
    n = len(every)
    per_kind = {
        kind: {
            "requests": len(values),
            "ok": tally.ok[kind],
            "p50_ms": 1000 * quantile(values, 0.5),
            "p99_ms": 1000 * quantile(values, 0.99),
            "mean_body_bytes": tally.body_bytes[kind] / len(values) if values else 0,
        }
        for kind, values in tally.latencies.items()
        if values
    }
    return {
        "requests": n,
        "seconds": tally.seconds,
        "requests_per_s": n / tally.seconds if tally.seconds else 0.0,
        "p50_ms": 1000 * quantile(every, 0.5),
        "p99_ms": 1000 * quantile(every, 0.99),
        "ok": dict(tally.ok),
        "conflicts": tally.conflicts,
        "errors": dict(tally.errors),
        "client_woke_late_p50_ms": 1000 * quantile(tally.woke_late, 0.5) if tally.woke_late else None,
        "client_woke_late_p99_ms": 1000 * quantile(tally.woke_late, 0.99) if tally.woke_late else None,
        "server_cpu_ms_per_request": 1000 * tally.server_cpu / n if n else 0.0,
        "client_cpu_ms_per_request": 1000 * tally.client_cpu / n if n else 0.0,
        "kinds": per_kind,
    }


def measure(
    servers: dict[str, Server],
    clients: dict[str, list[Client]],
    codes: list[str],
    workload: Workload,
    args: argparse.Namespace,
    rate: float = 0.0,
) -> tuple[dict[str, Any], dict[str, int]]:
    """A warm-up of each target, then ``args.rounds`` rounds in which they take turns to go first.

    ``rate``: the requests a second the clients offer between them (the open loop, with no warm-up: the closed
    loop has warmed both servers), or 0 for as many as are answered. Returns the figures and the POSTs each target
    accepted, warm-up included.
    """
    accepted: dict[str, int] = {}
    for name in TARGETS:
        if args.warmup and not rate:
            accepted[name] = run(servers[name], clients[name], codes, workload, args.warmup).ok["post"]
        else:
            accepted[name] = 0
    tallies = {name: Tally() for name in TARGETS}
    for number in range(args.rounds):
        for name in TARGETS if number % 2 == 0 else TARGETS[::-1]:
            tally = run(servers[name], clients[name], codes, workload, args.seconds, rate)
            accepted[name] += tally.ok["post"]
            tallies[name].merge(tally)
    result: dict[str, Any] = {"workload": workload.name, "post_share": workload.post_share, "offered_per_s": rate}
    result |= {name: figures(tallies[name]) for name in TARGETS}
    rc, floor = result["riverchief"], result["floor"]
    result["ratio"] = {
        "throughput": rc["requests_per_s"] / floor["requests_per_s"] if floor["requests_per_s"] else None,
        "p50": rc["p50_ms"] / floor["p50_ms"] if floor["p50_ms"] else None,
        "p99": rc["p99_ms"] / floor["p99_ms"] if floor["p99_ms"] else None,
        "server_cpu": (
            rc["server_cpu_ms_per_request"] / floor["server_cpu_ms_per_request"]
            if floor["server_cpu_ms_per_request"]
            else None
        ),
    }
    return result, accepted


@contextmanager
def database(dialect: str, folder: Path) -> Iterator[str]:
    """An empty database: a SQLite file in ``folder``, or a scratch PostgreSQL database of this process."""
    if dialect == "sqlite":
        yield f"sqlite:///{folder / 'riverchief.db'}"
        return
    name = f"riverchief_bench_api_{os.getpid()}"
    with postgres_database(make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)) as url:
        yield url


def run_database(dialect: str, args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Every workload against riverchief and the floor on one database, dropped at the end."""
    load_before = os.getloadavg()
    rng = random.Random(args.seed)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="riverchief-bench-api-")))
        url = stack.enter_context(database(dialect, folder))
        prepared = prepare(url, folder, args)
        console.log(
            f"{dialect}: {len(prepared.codes)} issues, {args.clients}×{args.own} in ban.rectifying, "
            f"{args.clients} tokens ({prepared.seconds:.1f}s)"
        )
        # riverchief serves SQLite from one process (one writer): the floor then gets one worker too.
        workers = 1 if dialect == "sqlite" else args.workers
        env = clean_env(RIVERCHIEF_DATABASE_URL=url, RIVERCHIEF_DATA_DIR=str(folder))
        ports = dict(zip(TARGETS, free_ports(len(TARGETS)), strict=True))
        command = [str(RIVERCHIEF), "serve", "--no-scheduler", "--no-dispatcher", "--host", "127.0.0.1"]
        command += ["--port", str(ports["riverchief"]), *serve_flags(workers)]
        body = folder / "floor-body.json"  # the floor reads it at its first GET
        floor_command = [sys.executable, "-m", "bench.api_floor", "--port", str(ports["floor"]), "--body", str(body)]
        floor_command += ["--workers", str(workers)]
        riverchief = stack.enter_context(
            started("riverchief", command, env, folder, ports["riverchief"], folder / "riverchief.log")
        )
        floor = stack.enter_context(started("floor", floor_command, env, ROOT, ports["floor"], folder / "floor.log"))
        riverchief.wait_ready()
        floor.wait_ready()
        body.write_bytes(sample_body(riverchief, prepared, rng))
        servers = {"riverchief": riverchief, "floor": floor}
        # Each target has its own clients (same tokens, issues and random streams), so the floor's made-up
        # versions never mix with riverchief's.
        clients = {
            name: [
                Client(
                    token,
                    [replace(o) for o in owned],
                    random.Random(f"{args.seed}-{i}"),
                    random.Random(f"{args.seed}-{i}-arrivals"),
                )
                for i, (token, owned) in enumerate(zip(prepared.tokens, prepared.owned, strict=True))
            ]
            for name in TARGETS
        }
        workloads, offered, accepted = [], [], 0
        for name in args.workloads:
            result, posts = measure(servers, clients, prepared.codes, WORKLOADS[name], args)
            workloads.append(result)
            accepted += posts["riverchief"]
            console.log(f"{dialect} {name}: throughput riverchief/floor {result['ratio']['throughput']:.2f}")
        for rate in args.rates:
            for name in args.workloads:
                result, posts = measure(servers, clients, prepared.codes, WORKLOADS[name], args, rate)
                offered.append(result)
                accepted += posts["riverchief"]
                p99 = {target: result[target]["p99_ms"] for target in TARGETS}
                console.log(
                    f"{dialect} {name} at {rate:g}/s: p99 riverchief {p99['riverchief']:.1f} ms, "
                    f"floor {p99['floor']:.1f} ms"
                )
        checked = check_versions(prepared, [c.owned for c in clients["riverchief"]], accepted)
        body_bytes = body.stat().st_size
    return {
        "database": dialect,
        "server": prepared.server,
        "setup_seconds": prepared.seconds,
        "workers": workers,
        "issues": len(prepared.codes),
        "floor_get_body_bytes": body_bytes,
        "checked": checked,
        "workloads": workloads,
        "offered": offered,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


# -- the report ------------------------------------------------------------------------------------


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def table(results: dict[str, Any], clients: int) -> Table:
    """riverchief against the floor, per database and workload."""
    title = (
        f"HTTP API under {clients} clients on loopback: riverchief against the floor "
        "(ratios riverchief / floor; latencies in ms)"
    )
    grid = Table(title=title)
    columns = (
        "database",
        "workload",
        "req/s rc",
        "req/s floor",
        "ratio",
        "p50 rc",
        "p50 floor",
        "ratio",
        "p99 rc",
        "p99 floor",
        "ratio",
        "409 rc",
        "errors rc / floor",
        "server CPU ms/req rc / floor",
        "ratio",
    )
    for column in columns:
        grid.add_column(column, justify="left" if column in ("database", "workload") else "right")
    for dialect, result in results.items():
        for w in result["workloads"]:
            rc, floor, ratio = w["riverchief"], w["floor"], w["ratio"]
            errors = f"{sum(rc['errors'].values())} / {sum(floor['errors'].values())}"
            if rc["errors"] or floor["errors"]:
                errors = f"[red]{errors}[/]"
            grid.add_row(
                dialect,
                w["workload"],
                f"{rc['requests_per_s']:.0f}",
                f"{floor['requests_per_s']:.0f}",
                f"[bold]{_ratio(ratio['throughput'])}[/]",
                f"{rc['p50_ms']:.1f}",
                f"{floor['p50_ms']:.1f}",
                f"[bold]{_ratio(ratio['p50'])}[/]",
                f"{rc['p99_ms']:.1f}",
                f"{floor['p99_ms']:.1f}",
                f"[bold]{_ratio(ratio['p99'])}[/]",
                str(rc["conflicts"]),
                errors,
                f"{rc['server_cpu_ms_per_request']:.2f} / {floor['server_cpu_ms_per_request']:.2f}",
                _ratio(ratio["server_cpu"]),
            )
    return grid


def offered_table(results: dict[str, Any], clients: int) -> Table:
    """The open-loop runs: what each target answered, and how late, at the load the clients offered."""
    title = (
        f"HTTP API at an offered load from {clients} clients (open loop; each request timed from when it fell due; ms)"
    )
    grid = Table(title=title)
    columns = ("database", "workload", "offered req/s", "answered rc / floor", "p50 rc / floor", "p99 rc / floor")
    for column in (*columns, "p99 under 50 ms rc / floor", "client late p99", "errors rc / floor"):
        grid.add_column(column, justify="left" if column in ("database", "workload") else "right")
    for dialect, result in results.items():
        for w in result["offered"]:
            rc, floor = w["riverchief"], w["floor"]
            under = " / ".join("[green]yes[/]" if f["p99_ms"] < 50 else "[red]no[/]" for f in (rc, floor))
            grid.add_row(
                dialect,
                w["workload"],
                f"{w['offered_per_s']:g}",
                f"{rc['requests_per_s']:.0f} / {floor['requests_per_s']:.0f}",
                f"{rc['p50_ms']:.1f} / {floor['p50_ms']:.1f}",
                f"[bold]{rc['p99_ms']:.1f}[/] / {floor['p99_ms']:.1f}",
                under,
                " / ".join(f"{f['client_woke_late_p99_ms'] or 0:.1f}" for f in (rc, floor)),
                f"{sum(rc['errors'].values())} / {sum(floor['errors'].values())}",
            )
    return grid


# -- the command -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--clients", type=int, default=50, help="concurrent keep-alive clients (default 50)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of one timed run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each target per workload (default 3)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of an untimed run first (default 2)")
    parser.add_argument("--issues", type=int, default=3000, help="issues bulk-inserted for the GETs (default 3000)")
    parser.add_argument("--own", type=int, default=4, help="issues each client fires progress on (default 4)")
    parser.add_argument(
        "--workloads", nargs="+", choices=tuple(WORKLOADS), default=list(WORKLOADS), help="default: all three"
    )
    parser.add_argument(
        "--rates",
        nargs="*",
        type=float,
        default=[100.0, 200.0],
        help="requests a second the clients offer between them in the open-loop runs (default 100 200; none: skip)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes of both targets on PostgreSQL (SQLite: 1)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="the JSON results (default bench/api-results.json)"
    )
    args = parser.parse_args(argv)
    if args.clients < 1 or args.own < 1 or args.rounds < 1 or args.seconds <= 0 or args.workers < 1:
        parser.error("--clients, --own, --rounds, --workers must be at least 1 and --seconds above 0")
    if any(rate <= 0 for rate in args.rates):
        parser.error("--rates: each must be above 0 (requests a second)")
    return args


def stack_part(fast: str, plain: str) -> str:
    """Which of two packages uvicorn takes for a part of the stack: ``fast`` with its version when installed."""
    try:
        return f"{fast} {version(fast)}"
    except PackageNotFoundError:
        return plain


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write the JSON; exit 0 (the figures are the result)."""
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 200)
    started_at = time.perf_counter()
    dialects = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    results = {d: run_database(d, args, console) for d in dialects}
    host = machine()
    host |= {"uvicorn": uvicorn.__version__, "fastapi": fastapi.__version__, "starlette": starlette.__version__}
    host |= {"http_parser": stack_part("httptools", "h11"), "event_loop": stack_part("uvloop", "asyncio")}
    report = {
        "benchmark": "api",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": host,
        "config": {k: str(v) for k, v in vars(args).items()},
        "databases": results,
        "elapsed_s": time.perf_counter() - started_at,
    }
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    console.print(table(results, args.clients))
    if args.rates:
        console.print(offered_table(results, args.clients))
    loads = ", ".join(
        f"{d} {r['load_average_before'][0]:.1f}→{r['load_average_after'][0]:.1f}" for d, r in results.items()
    )
    workers = ", ".join(f"{d} {r['workers']}" for d, r in results.items())
    servers = ", ".join(
        f"{d} {r['server'].get('server_version', r['server'].get('version'))}" for d, r in results.items()
    )
    console.print(
        f"machine: {host['nproc']} CPUs ({host['cpu']}), Python {host['python']}, uvicorn {uvicorn.__version__} "
        f"({host['http_parser']}, {host['event_loop']}), "
        f"{servers}; workers {workers}; load average {loads}; git {host['git']['commit']}"
        f"{' (modified)' if host['git']['changed'] else ''}; total {report['elapsed_s']:.0f}s"
    )
    console.print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
