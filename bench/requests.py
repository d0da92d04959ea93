"""How many SQL statements and pool checkouts (units of work) each kind of HTTP request costs (bench/README.md)."""

from __future__ import annotations

import argparse
import os
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from bench.host import git_state
from riverchief.bootstrap import App, bootstrap
from riverchief.migrate import upgrade
from riverchief.settings import Settings
from tests.factories import COORDINATOR, RECEIVER, START, World, load_world, walk_to
from web.api import create_api

# The only names taken from workflow/: what no HTTP route offers (a token, a password) and the frozen clock.
from workflow.accounts.signin import set_password
from workflow.accounts.tokens import create_token
from workflow.core.clock import FrozenClock

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = (
    make_url(os.environ.get("RIVERCHIEF_BENCH_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/riverchief_bench"))
    .set(database="riverchief_bench_requests")
    .render_as_string(hide_password=False)
)
DIALECTS = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
PASSWORD = "琼江清水长流-2026"
NOTE = "排口封堵完成一半，正在清理管网"


# -- counting --------------------------------------------------------------------------------------


@dataclass(slots=True)
class Cost:
    """What one request cost the database: statements, checkouts, pre-pings, commits, round trips."""

    statements: int = 0
    checkouts: int = 0
    pings: int = 0
    commits: int = 0
    # PostgreSQL only: the statements, the BEGIN the driver sends before a transaction's first one, and the
    # COMMIT or ROLLBACK that ends a transaction begun (psycopg sends each as a message of its own, and waits)
    trips: int = 0
    sql: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)  # with tracing: the project code behind each checkout

    def figures(self) -> tuple[int, int, int, int, int]:
        """(statements, checkouts, pings, commits, round trips)."""
        return self.statements, self.checkouts, self.pings, self.commits, self.trips


def _caller() -> str:
    """The project frames (web/, workflow/) that led here, innermost first, without the unit of work's own."""
    found = []
    for frame in reversed(traceback.extract_stack()):
        path = Path(frame.filename)
        inside = path.is_relative_to(ROOT) and path.parts[len(ROOT.parts)] in ("web", "workflow")
        if inside and path.relative_to(ROOT) != Path("workflow/core/uow.py"):
            found.append(f"{path.relative_to(ROOT)}:{frame.lineno} {frame.name}")
    return " < ".join(found) or "?"


class Meter:
    """Counts what happens on an app's engines while ``counting()`` is open; ``close()`` takes the listeners off.

    The engines are the app's own and, on PostgreSQL, each serving loop's (``App.on_loop``: the quick routes'
    statements run there), watched from the first ``counting()`` after the loop began serving."""

    def __init__(self, app: App, *, trace: bool = False) -> None:
        self.app = app
        self.trace = trace
        self.cost: Cost | None = None
        self._postgres = app.engine.dialect.name == "postgresql"
        self._watched: list[Engine] = []
        self._listeners: list[tuple[Any, str, Callable[..., None]]] = []
        self._watch(app.engine)

    def _watch(self, engine: Engine) -> None:
        listeners = [
            (engine, "before_cursor_execute", self._statement),
            (engine, "commit", self._commit),
            (engine, "rollback", self._rollback),
            (engine.pool, "checkout", self._checkout),
            (engine.pool, "reset", self._reset),
        ]
        for target, name, listener in listeners:
            event.listen(target, name, listener)
        self._listeners += listeners
        self._watched.append(engine)
        # The pre-ping goes to the driver's cursor, not through the Connection, so no engine event sees it.
        dialect = engine.dialect
        ping = dialect.do_ping

        def counted_ping(dbapi_connection: Any) -> bool:
            if self.cost is not None:
                self.cost.pings += 1
            return ping(dbapi_connection)

        dialect.do_ping = counted_ping  # type: ignore[method-assign]

    def _statement(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.cost is not None:
            self.cost.statements += 1
            if self._postgres:
                driver = conn.connection.dbapi_connection
                self.cost.trips += 1 if driver.autocommit or _begun(driver) else 2  # psycopg's BEGIN first
            if self.trace:
                self.cost.sql.append(" ".join(statement.split())[:160])

    def _commit(self, conn: Any) -> None:
        if self.cost is not None:
            self.cost.commits += 1
            self._ended(conn.connection.dbapi_connection)

    def _rollback(self, conn: Any) -> None:
        if self.cost is not None and not conn.invalidated and not conn.closed:
            self._ended(conn.connection.dbapi_connection)

    def _reset(self, dbapi_connection: Any, *_args: Any) -> None:
        # The pool rolls back what a connection given back still has open.
        if self.cost is not None:
            self._ended(dbapi_connection)

    def _ended(self, driver: Any) -> None:
        if self.cost is not None and self._postgres and _begun(driver):
            self.cost.trips += 1  # a COMMIT or ROLLBACK sent: psycopg sends none when no transaction was begun

    def _checkout(self, *_args: Any) -> None:
        if self.cost is not None:
            self.cost.checkouts += 1
            if self.trace:
                self.cost.where.append(_caller())

    @contextmanager
    def counting(self) -> Iterator[Cost]:
        """A fresh Cost that counts until the block ends."""
        for engine in [loop.sync_engine for loop in self.app.loop_engines]:
            if engine not in self._watched:
                self._watch(engine)
        self.cost = Cost()
        try:
            yield self.cost
        finally:
            self.cost = None

    def close(self) -> None:
        """Take the listeners off and restore the dialects' ping."""
        for target, name, listener in self._listeners:
            event.remove(target, name, listener)
        for engine in self._watched:
            vars(engine.dialect).pop("do_ping", None)


def _begun(driver: Any) -> bool:
    """Whether a psycopg connection has a transaction open on the server (so ending it is a round trip)."""
    from psycopg.pq import TransactionStatus  # PostgreSQL's driver, asked only on PostgreSQL

    return bool(driver.info.transaction_status != TransactionStatus.IDLE)


# -- the world and the requests --------------------------------------------------------------------


class Answer(Protocol):
    """What a request got (the test client's response: httpx's or httpx2's, whichever Starlette found)."""

    @property
    def status_code(self) -> int:
        """The HTTP status."""

    @property
    def text(self) -> str:
        """The body as text."""

    def json(self) -> Any:
        """The body as JSON."""


@dataclass(slots=True)
class Scene:
    """The clients and issues the requests need."""

    world: World
    api: TestClient  # a personal access token of the receiving chief, no cookies
    chief: TestClient  # the receiving chief's browser session
    coordinator: TestClient  # the coordinator's browser session
    csrf: str  # the chief's session's CSRF token
    read: str  # an issue in ban.rectifying that nothing steps
    api_steps: str  # an issue in ban.rectifying that the API's progress steps
    page_steps: str  # an issue in ban.rectifying that the page's progress form steps
    page_version: int  # page_steps' version, for the form's expected_version


def signed_in(stack: ExitStack, api: Any, person: str) -> tuple[TestClient, str]:
    """A client holding ``person``'s session cookie (``person`` has PASSWORD), and the session's CSRF token."""
    client = stack.enter_context(TestClient(api))
    answer = client.post("/api/v1/session", json={"person": person, "password": PASSWORD})
    if answer.status_code != 200:
        raise RuntimeError(f"{person} could not sign in: {answer.status_code} {answer.text[:500]}")
    return client, str(answer.json()["csrf_token"])


def stage(world: World, stack: ExitStack, extra: int = 0) -> Scene:
    """Issues in several states, a token, two browser sessions, and the clients on the ASGI app."""
    read, api_steps, page_steps = (world.report() for _ in range(3))
    for code in (read, api_steps, page_steps):
        walk_to(world, code, "start_rectify")
    walk_to(world, world.report(), "hand_off")
    walk_to(world, world.report(), "close")
    for _ in range(extra):  # more rows behind the lists, to see whether a request's cost grows with them
        walk_to(world, world.report(), "accept")
    app = world.app
    _, token = create_token(app.uow(), RECEIVER, "bench.requests")
    for person in (RECEIVER, COORDINATOR):
        set_password(app.uow(), person, PASSWORD)
    api = create_api(app)
    client = stack.enter_context(TestClient(api, headers={"Authorization": f"Bearer {token}"}))
    chief, csrf = signed_in(stack, api, RECEIVER)
    coordinator, _ = signed_in(stack, api, COORDINATOR)
    version = int(client.get(f"/api/v1/issues/{page_steps}").json()["version"])
    return Scene(world, client, chief, coordinator, csrf, read, api_steps, page_steps, version)


def _page_progress(scene: Scene) -> Answer:
    form = {"csrf_token": scene.csrf, "trigger": "progress", "expected_version": str(scene.page_version)}
    form |= {"note": NOTE, "percent": "50"}  # the form's fields, as a browser sends them
    answer = scene.chief.post(f"/issues/{scene.page_steps}/act", data=form, follow_redirects=False)
    if answer.status_code == 303:
        scene.page_version += 1
    return answer


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of request: its name, what it asks, how to send it and the status it must get."""

    name: str
    request: str
    send: Callable[[Scene], Answer]
    status: int = 200


KINDS = (
    Kind("api issue", "GET /api/v1/issues/{code}", lambda s: s.api.get(f"/api/v1/issues/{s.read}")),
    Kind("api issue list", "GET /api/v1/issues", lambda s: s.api.get("/api/v1/issues")),
    Kind(
        "api progress",
        "POST /api/v1/issues/{code}/transitions",
        lambda s: s.api.post(
            f"/api/v1/issues/{s.api_steps}/transitions",
            json={"trigger": "progress", "payload": {"note": NOTE, "percent": 50}},
        ),
    ),
    Kind("api stats", "GET /api/v1/stats", lambda s: s.api.get("/api/v1/stats?compact=QJ")),
    Kind("page issue", "GET /issues/{code}", lambda s: s.chief.get(f"/issues/{s.read}")),
    Kind("page issue list", "GET /issues", lambda s: s.chief.get("/issues")),
    Kind("page queue", "GET /queue", lambda s: s.chief.get("/queue")),
    Kind("page dashboard", "GET /dashboard", lambda s: s.coordinator.get("/dashboard")),
    Kind("page progress", "POST /issues/{code}/act", _page_progress, 303),
)
KIND_NAMES = tuple(k.name for k in KINDS)


def send(scene: Scene, kind: Kind) -> Answer:
    """Send one request of ``kind``; raise unless it got its status."""
    answer = kind.send(scene)
    if answer.status_code != kind.status:
        raise RuntimeError(f"{kind.name}: {kind.request} answered {answer.status_code}:\n{answer.text[:2000]}")
    return answer


def costs(scene: Scene, meter: Meter, kind: Kind, *, warmup: int = 2, repeat: int = 5) -> list[Cost]:
    """Send ``kind`` ``warmup`` times uncounted, then ``repeat`` times, counting each."""
    for _ in range(warmup):
        send(scene, kind)
    counted = []
    for _ in range(repeat):
        with meter.counting() as cost:
            send(scene, kind)
        counted.append(cost)
    return counted


# -- a dialect's run -------------------------------------------------------------------------------


@contextmanager
def database(dialect: str, folder: Path) -> Iterator[str]:
    """An empty database: a SQLite file in ``folder``, or a scratch PostgreSQL database dropped afterwards."""
    if dialect == "sqlite":
        yield f"sqlite:///{folder / 'requests.db'}"
        return
    parsed = make_url(POSTGRES_URL)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    drop = sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
    try:
        with admin.connect() as conn:
            conn.execute(drop)
            conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
        yield POSTGRES_URL
    finally:
        with admin.connect() as conn:
            conn.execute(drop)
        admin.dispose()


@contextmanager
def open_world(url: str, folder: Path) -> Iterator[World]:
    """The app as ``bootstrap`` wires it (its own engine) on a frozen clock, migrated, the compact loaded."""
    clock = FrozenClock(START)
    app = bootstrap(Settings(database_url=url, data_dir=folder), clock=clock)
    try:
        upgrade(app.engine)
        yield load_world(app, clock)
    finally:
        app.engine.dispose()


@dataclass(frozen=True, slots=True)
class Row:
    """One request kind's counted costs on one dialect."""

    kind: Kind
    costs: list[Cost]

    def figure(self, index: int) -> str:
        """The figure over the counted requests: one number when they agree, else min–max."""
        values = sorted(c.figures()[index] for c in self.costs)
        return str(values[0]) if values[0] == values[-1] else f"{values[0]}–{values[-1]}"


def run_dialect(dialect: str, args: argparse.Namespace, console: Console) -> dict[str, Row]:
    """Build the world on ``dialect`` and count each request kind."""
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        world = stack.enter_context(open_world(stack.enter_context(database(dialect, folder)), folder))
        scene = stage(world, stack, args.extra)
        meter = Meter(world.app, trace=args.trace)
        stack.callback(meter.close)
        rows = {k.name: Row(k, costs(scene, meter, k, warmup=args.warmup, repeat=args.repeat)) for k in KINDS}
    if args.trace:
        for row in rows.values():
            cost = row.costs[-1]
            console.print(f"[bold]{DIALECTS[dialect]}: {row.kind.name}[/] ({row.kind.request})")
            for where in cost.where:
                console.print(f"  checkout  {where}", markup=False, soft_wrap=True)
            for sql in cost.sql:
                console.print(f"  sql       {sql}", markup=False, soft_wrap=True)
    return rows


# -- the table -------------------------------------------------------------------------------------


def merged(values: Sequence[str]) -> str:
    """One figure when every dialect agrees, else each dialect's, separated by slashes."""
    return values[0] if len(set(values)) == 1 else " / ".join(values)


def table(results: dict[str, dict[str, Row]]) -> tuple[list[str], list[list[str]]]:
    """The header and the rows: statements per dialect; checkouts and commits once (a / b when they differ)."""
    dialects = list(results)
    names = [DIALECTS[d] for d in dialects]
    header = ["request", "HTTP", *(f"statements ({n})" for n in names), "checkouts", "commits"]
    pinged = "postgres" in results  # SQLite has no pre-ping
    if pinged:
        header[-1:-1] = ["pings (PostgreSQL)", "round trips (PostgreSQL)"]
    lines = []
    for name in results[dialects[0]]:
        rows = [results[d][name] for d in dialects]
        line = [name, f"`{rows[0].kind.request}`", *(r.figure(0) for r in rows), merged([r.figure(1) for r in rows])]
        if pinged:
            line += [results["postgres"][name].figure(2), results["postgres"][name].figure(4)]
        line.append(merged([r.figure(3) for r in rows]))
        lines.append(line)
    return header, lines


def markdown(header: list[str], lines: list[list[str]]) -> str:
    """A markdown table, numbers right-aligned."""
    rule = ["---", "---", *("--:" for _ in header[2:])]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in (header, rule, *lines))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dialect", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--warmup", type=int, default=2, help="uncounted requests of each kind first")
    parser.add_argument("--repeat", type=int, default=5, help="counted requests of each kind")
    parser.add_argument("--extra", type=int, default=0, help="issues beyond the five staged, behind the lists")
    parser.add_argument("--trace", action="store_true", help="print each kind's statements and checkout sites")
    parser.add_argument("--markdown", type=Path, help="also write the markdown table to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Count each request kind on each dialect, print the table and its markdown."""
    args = parse_args(argv)
    console = Console()
    dialects = ["sqlite", "postgres"] if args.dialect == "both" else [args.dialect]
    results = {d: run_dialect(d, args, console) for d in dialects}
    header, lines = table(results)
    measured = git_state("web", "workflow", "riverchief")
    changed = f" + {len(measured['changed'])} changed files" if measured["changed"] else ""
    shown = Table(*header, title=f"per request, commit {measured['commit']}{changed}")
    for line in lines:
        shown.add_row(*(cell.strip("`") for cell in line))
    console.print(shown)
    text = markdown(header, lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
