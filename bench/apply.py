"""How fast ``workflow.core.services.apply`` is, against the floor: the same writes in plain SQLAlchemy Core.

Run ``.venv/bin/python -m bench.apply [--steps N] [--dialect sqlite|postgres|both]``; bench/README.md says
what is measured and how. In one process, for each dialect:

* two steady cycles, round-robin over a pool of issues prepared beforehand: ``progress`` (ban.rectifying,
  the state stays) and the failed-check loop ``report_done -> request_verify -> fail_check``;
* the floor: one transaction per step with the UPDATE of the issue, the INSERT of the event and as many
  outbox rows as ``apply`` wrote for that trigger, statements built once, on the same engine;
* history: a step on issues with 100 failed checks behind them against fresh issues in the same state;
* memory: peak RSS growth and tracemalloc peak over many ``progress`` steps, floor and apply.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import json
import os
import pstats
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from bench.host import git_state as host_git_state
from bench.host import host
from riverchief.bootstrap import bootstrap
from riverchief.migrate import upgrade
from riverchief.settings import Settings
from states.policy import DEADLINES
from tests.factories import AUDITOR, COORDINATOR, RECEIVER, RECEIVING_CODE, REPORTER, START, World, load_world
from workflow.core.calendar import end_of_day
from workflow.core.clock import FrozenClock
from workflow.core.db import make_engine
from workflow.core.models import Event, Issue, Outbox, table_of
from workflow.core.services import apply

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results.json"
PROFILES = HERE / "profiles"  # cProfile dumps of --profile, for snakeviz or pstats
POSTGRES_URL = os.environ.get("RIVERCHIEF_BENCH_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/riverchief_bench")
DIALECT_NAMES = {"sqlite": "sqlite", "postgresql": "postgres"}  # SQLAlchemy's name -> the command line's
TARGETS = {"sqlite": 1.5, "postgresql": 1.15}  # apply time / floor time, at most
HISTORY_TARGET = 1.10  # step time on an old issue / on a fresh one, at most

_issue, _event, _outbox = table_of(Issue), table_of(Event), table_of(Outbox)

# -- the cycles ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Move:
    """One trigger of a cycle: who fires it, with what, how they stand, where it leads (None: stays)."""

    trigger: str
    who: str
    payload: dict[str, Any]
    parties: str
    dest: str | None


def make_moves(deadline: str) -> dict[str, Move]:
    """The triggers the cycles fire, with realistic payloads."""
    receiving, reporting = "member,receiving", "member,reporting"
    moves = (
        Move("progress", RECEIVER, {"note": "排口封堵完成一半，正在清理管网", "percent": 50}, receiving, None),
        Move("report_done", RECEIVER, {"summary": "排口已封堵，管网已接入污水处理厂"}, receiving, "du.rectified"),
        Move("request_verify", REPORTER, {"note": "请组织联合复核"}, reporting, "du.verifying"),
        Move(
            "fail_check",
            REPORTER,
            {"reason": "复核发现排口仍有渗漏", "deadline": deadline},
            reporting,
            "ban.rectifying",
        ),
    )
    return {m.trigger: m for m in moves}


# A cycle names the trigger fired from each state it passes through.
PROGRESS: Mapping[str, str] = {"ban.rectifying": "progress"}
FAILED_CHECKS: Mapping[str, str] = {
    "ban.rectifying": "report_done",
    "du.rectified": "request_verify",
    "du.verifying": "fail_check",
}
CYCLES: dict[str, Mapping[str, str]] = {"progress": PROGRESS, "failed-check loop": FAILED_CHECKS}


@dataclass(slots=True)
class Head:
    """What the floor must know of an issue to write its next step."""

    state: str
    version: int
    due_at: datetime | None


@dataclass(slots=True)
class Tally:
    """Steps fired and outbox rows written, per trigger."""

    steps: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)

    def add(self, trigger: str, rows: int) -> None:
        """Count one step."""
        self.steps[trigger] += 1
        self.rows[trigger] += rows

    def rows_per_trigger(self) -> dict[str, float]:
        """Mean outbox rows per step of each trigger."""
        return {t: self.rows[t] / n for t, n in self.steps.items()}


@dataclass(slots=True)
class Bench:
    """One dialect's loaded world and what the cycles and the floor need."""

    dialect: str
    world: World
    moves: dict[str, Move]
    due: dict[str, datetime]  # the due_at a state-changing move sets (the clock is frozen)
    recipients: list[int]  # distinct people the floor writes outbox rows for
    rows: dict[str, int] = field(default_factory=dict)  # outbox rows apply writes per trigger

    @property
    def engine(self) -> Engine:
        """The application's engine, shared by apply and the floor."""
        return self.world.app.engine


def make_bench(world: World) -> Bench:
    """Moves, due times and recipients for a loaded world."""
    deadline = world.deadline(10)
    now = world.clock.now()
    due = {"ban.rectifying": end_of_day(date.fromisoformat(deadline))}
    for state in ("du.rectified", "du.verifying"):
        due[state] = world.app.calendar.due_after(now, DEADLINES[state].working_days)
    people = [world.people[code].id for code in (REPORTER, RECEIVER, COORDINATOR, AUDITOR)]
    recipients = [p for p in people if p is not None]
    return Bench(world.app.engine.dialect.name, world, make_moves(deadline), due, recipients)


# -- preparing issues ------------------------------------------------------------------------------


def rectifying(world: World) -> str:
    """Report an issue and walk it to ban.rectifying (four events); returns its code."""
    code = world.report()
    world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    world.fire(code, "accept", RECEIVER)
    world.fire(code, "start_rectify", RECEIVER, plan="封堵排口并接管", deadline=world.deadline(10))
    return code


def make_pool(world: World, size: int) -> list[int]:
    """``size`` issues in ban.rectifying; returns their ids."""
    codes = [rectifying(world) for _ in range(size)]
    with world.app.engine.connect() as conn:
        found = dict(conn.execute(sa.select(_issue.c.code, _issue.c.id).where(_issue.c.code.in_(codes))).all())
    return [found[code] for code in codes]


def heads(engine: Engine, ids: list[int]) -> dict[int, Head]:
    """The current state, version and due time of each issue."""
    query = sa.select(_issue.c.id, _issue.c.state, _issue.c.version, _issue.c.due_at).where(_issue.c.id.in_(ids))
    with engine.connect() as conn:
        return {row.id: Head(row.state, row.version, row.due_at) for row in conn.execute(query)}


def table_counts(engine: Engine) -> tuple[int, int]:
    """Rows in event and outbox."""
    count = sa.func.count()
    with engine.connect() as conn:
        events = conn.execute(sa.select(count).select_from(_event)).scalar_one()
        outbox = conn.execute(sa.select(count).select_from(_outbox)).scalar_one()
    return events, outbox


@contextmanager
def counting(engine: Engine) -> Iterator[Counter[str]]:
    """Counts the statements sent to the database (BEGIN IMMEDIATE included, COMMIT not) while open."""
    counts: Counter[str] = Counter()

    def count(*_: Any) -> None:
        counts["statements"] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", count)


def history_of(engine: Engine, ids: list[int]) -> dict[str, float]:
    """Mean events and failed checks per issue."""
    failed = sa.func.sum(sa.case((_event.c.trigger == "fail_check", 1), else_=0))
    query = sa.select(sa.func.count(), failed).where(_event.c.issue_id.in_(ids))
    with engine.connect() as conn:
        events, fails = conn.execute(query).one()
    return {"events_per_issue": events / len(ids), "failed_checks_per_issue": int(fails or 0) / len(ids)}


# -- the lanes: apply and the floor ----------------------------------------------------------------

HASH = hashlib.sha256(b"riverchief bench").hexdigest()
_FLOOR_UPDATE = _issue.update().where(
    _issue.c.id == sa.bindparam("b_id"), _issue.c.version == sa.bindparam("b_version")
)  # SET state, version, due_at, ledger_head, updated_at: from the parameters' keys
_FLOOR_EVENT = _event.insert()
_FLOOR_OUTBOX = _outbox.insert()


def floor_step(conn: sa.Connection, bench: Bench, issue: int, head: Head, move: Move) -> int:
    """The writes of one step in Core, inside the caller's transaction; returns the outbox rows written."""
    now = bench.world.clock.now()
    seq, to_state = head.version + 1, move.dest or head.state
    due_at = bench.due[to_state] if move.dest else head.due_at
    values = {"state": to_state, "version": seq, "due_at": due_at, "ledger_head": HASH, "updated_at": now}
    updated = conn.execute(_FLOOR_UPDATE, {"b_id": issue, "b_version": head.version, **values})
    if updated.rowcount != 1:
        raise RuntimeError(f"floor: issue {issue} is not at version {head.version}")
    actor = bench.world.people[move.who]
    event = {
        "issue_id": issue,
        "seq": seq,
        "trigger": move.trigger,
        "from_state": head.state,
        "to_state": to_state,
        "actor_id": actor.id,
        "actor_code": actor.code,
        "parties": move.parties,
        "payload": move.payload,
        "due_at": due_at,
        "occurred_at": now,
        "prev_hash": HASH,
        "hash": HASH,
    }
    event_id = conn.execute(_FLOOR_EVENT, event).inserted_primary_key[0]  # type: ignore[index]
    rows = bench.rows[move.trigger]
    if rows:
        outbox = {"event_id": event_id, "issue_id": issue, "kind": move.trigger, "status": "pending", "attempts": 0}
        times = {"next_attempt_at": now, "created_at": now}
        conn.execute(_FLOOR_OUTBOX, [{**outbox, **times, "recipient_id": r} for r in bench.recipients[:rows]])
    head.state, head.version, head.due_at = to_state, seq, due_at
    return rows


class Lane:
    """A pool of issues stepped round-robin through a cycle, by ``apply`` or by the floor; resumable.

    Each lane owns its pool, so apply and the floor never touch each other's issues and, started from
    the same states, fire the same sequence of triggers.
    """

    def __init__(self, bench: Bench, kind: str, cycle: Mapping[str, str], ids: list[int]) -> None:
        self.bench, self.kind, self.cycle, self.ids = bench, kind, cycle, ids
        self.heads = heads(bench.engine, ids)
        self.position = 0
        self.tally = Tally()

    def run(self, steps: int) -> None:
        """The next ``steps`` steps."""
        (self._apply if self.kind == "apply" else self._floor)(self.position, self.position + steps)
        self.position += steps

    def settle(self) -> None:
        """Finish the current turn of the cycle, so every issue is back in the state it started from."""
        self.run(-self.position % (len(self.cycle) * len(self.ids)))

    def _apply(self, start: int, stop: int) -> None:
        app, people, moves = self.bench.world.app, self.bench.world.people, self.bench.moves
        for k in range(start, stop):
            issue = self.ids[k % len(self.ids)]
            head = self.heads[issue]
            move = moves[self.cycle[head.state]]
            result = apply(app.uow(), issue, move.trigger, people[move.who], move.payload)
            head.state = result.state
            self.tally.add(move.trigger, result.notified)

    def _floor(self, start: int, stop: int) -> None:
        bench, engine, moves = self.bench, self.bench.engine, self.bench.moves
        for k in range(start, stop):
            issue = self.ids[k % len(self.ids)]
            head = self.heads[issue]
            move = moves[self.cycle[head.state]]
            with engine.begin() as conn:
                rows = floor_step(conn, bench, issue, head, move)
            self.tally.add(move.trigger, rows)


@dataclass(slots=True)
class Rounds:
    """Wall-clock and process CPU seconds of each lane, one entry per round.

    CPU time leaves out waiting (for the CPU under load from elsewhere, for the database server), so on
    SQLite, where all the work is in this process, its ratio is the steadier one on a busy machine.
    """

    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]

    @classmethod
    def of(cls, names: Iterable[str]) -> Rounds:
        """No rounds yet for the named lanes."""
        names = list(names)
        return cls({n: [] for n in names}, {n: [] for n in names})

    def add(self, spent: Mapping[str, tuple[float, float]]) -> None:
        """Record one round's (wall, cpu) seconds per lane."""
        for name, (wall, cpu) in spent.items():
            self.wall[name].append(wall)
            self.cpu[name].append(cpu)

    def median(self, name: str, clock: str = "wall") -> float:
        """The median seconds of a lane's rounds."""
        return statistics.median((self.wall if clock == "wall" else self.cpu)[name])

    def ratio(self, a: str, b: str, clock: str = "wall") -> float:
        """Median seconds of ``a`` over median seconds of ``b``."""
        return self.median(a, clock) / self.median(b, clock)

    def per_round(self, a: str, b: str) -> list[float]:
        """The wall-clock ratio of each round."""
        return [x / y for x, y in zip(self.wall[a], self.wall[b], strict=True)]


def race(lanes: Mapping[str, Lane], steps: int, block: int) -> dict[str, tuple[float, float]]:
    """One round: ``steps`` steps of each lane in interleaved blocks, alternating which goes first.

    Interleaving bills a burst of load from elsewhere on the machine to both lanes alike. Returns the
    (wall, cpu) seconds each lane spent.
    """
    gc.collect()
    wall, cpu = dict.fromkeys(lanes, 0.0), dict.fromkeys(lanes, 0.0)
    names = list(lanes)
    for number, start in enumerate(range(0, steps, block)):
        count = min(block, steps - start)
        for name in names if number % 2 == 0 else names[::-1]:
            began, began_cpu = time.perf_counter(), time.process_time()
            lanes[name].run(count)
            wall[name] += time.perf_counter() - began
            cpu[name] += time.process_time() - began_cpu
    return {name: (wall[name], cpu[name]) for name in names}


# -- the measurements ------------------------------------------------------------------------------


def warm_up(bench: Bench, lanes: Mapping[str, Lane], steps: int) -> dict[str, Any]:
    """One unmeasured round of each lane, apply first: learns how many outbox rows apply writes per trigger."""
    written: dict[str, Any] = {}
    for kind, lane in lanes.items():
        events, outbox = table_counts(bench.engine)
        with counting(bench.engine) as counts:
            lane.run(steps)
        events_after, outbox_after = table_counts(bench.engine)
        if kind == "apply":
            bench.rows.update({t: round(r) for t, r in lane.tally.rows_per_trigger().items()})
        written[kind] = {
            "outbox_rows_per_step": (outbox_after - outbox) / (events_after - events),
            "outbox_rows_per_trigger": lane.tally.rows_per_trigger(),
            "statements_per_step": counts["statements"] / steps,
        }
    return written


def measure_cycle(bench: Bench, name: str, pools: Mapping[str, list[int]], args: argparse.Namespace) -> dict[str, Any]:
    """Apply against the floor on one cycle: a warm-up round, then ``args.rounds`` interleaved rounds."""
    cycle = CYCLES[name]
    lanes = {kind: Lane(bench, kind, cycle, pools[kind]) for kind in ("apply", "floor")}
    written = warm_up(bench, lanes, max(args.steps, len(cycle) * len(pools["apply"])))  # every trigger seen
    rounds = Rounds.of(lanes)
    for _ in range(args.rounds):
        rounds.add(race(lanes, args.steps, args.block))
    for lane in lanes.values():
        lane.settle()
    apply_s, floor_s, ratio = rounds.median("apply"), rounds.median("floor"), rounds.ratio("apply", "floor")
    target = TARGETS[bench.dialect]
    return {
        "cycle": name,
        "issues_per_lane": len(pools["apply"]),
        "steps_per_round": args.steps,
        "block": args.block,
        "rounds": args.rounds,
        "seconds": rounds.wall,
        "cpu_seconds": rounds.cpu,
        "apply_steps_per_s": args.steps / apply_s,
        "floor_steps_per_s": args.steps / floor_s,
        "apply_us_per_step": apply_s / args.steps * 1e6,
        "floor_us_per_step": floor_s / args.steps * 1e6,
        "apply_cpu_us_per_step": rounds.median("apply", "cpu") / args.steps * 1e6,
        "floor_cpu_us_per_step": rounds.median("floor", "cpu") / args.steps * 1e6,
        "ratio": ratio,
        "cpu_ratio": rounds.ratio("apply", "floor", "cpu"),
        "ratio_per_round": rounds.per_round("apply", "floor"),
        "target": target,
        "meets_target": ratio <= target,
        "written": written,
    }


def aged_pool(bench: Bench, size: int, checks: int) -> list[int]:
    """``size`` issues in ban.rectifying with ``checks`` turns of the failed-check loop behind them."""
    ids = make_pool(bench.world, size)
    Lane(bench, "apply", FAILED_CHECKS, ids).run(len(FAILED_CHECKS) * checks * size)
    return ids


def measure_history(bench: Bench, setup: Bench, args: argparse.Namespace) -> dict[str, Any]:
    """A failed-check loop step on issues with many failed checks behind them, against fresh issues."""
    size, turn = args.history_issues, len(FAILED_CHECKS) * args.history_issues
    old = aged_pool(setup, size, args.history_checks)
    fresh = [make_pool(setup.world, size) for _ in range(args.rounds)]  # a new batch each round stays fresh
    histories = {"old": history_of(bench.engine, old), "fresh": history_of(bench.engine, fresh[0])}
    steps = turn * args.history_cycles
    rounds = Rounds.of(("old", "fresh"))
    for number in range(args.rounds):
        pools = {"old": old, "fresh": fresh[number]}
        rounds.add(race({kind: Lane(bench, "apply", FAILED_CHECKS, ids) for kind, ids in pools.items()}, steps, turn))
    statements = {}
    for kind, ids in {"old": old, "fresh": fresh[-1]}.items():
        lane = Lane(bench, "apply", FAILED_CHECKS, ids)
        with counting(bench.engine) as counts:
            lane.run(turn)
        statements[kind] = counts["statements"] / turn
    ratio = rounds.ratio("old", "fresh")
    return {
        "issues": size,
        "steps_per_round": steps,
        "rounds": args.rounds,
        "history": histories,
        "seconds": rounds.wall,
        "cpu_seconds": rounds.cpu,
        "statements_per_step": statements,
        "old_us_per_step": rounds.median("old") / steps * 1e6,
        "fresh_us_per_step": rounds.median("fresh") / steps * 1e6,
        "ratio": ratio,
        "cpu_ratio": rounds.ratio("old", "fresh", "cpu"),
        "ratio_per_round": rounds.per_round("old", "fresh"),
        "target": HISTORY_TARGET,
        "meets_target": ratio <= HISTORY_TARGET,
    }


def max_rss_kib() -> int:
    """The process's peak resident set so far (KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rss_kib() -> int:
    """The process's resident set now (KiB)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def memory_of(lane: Lane, steps: int) -> dict[str, Any]:
    """RSS growth and tracemalloc figures over ``steps`` steps of a lane (tracemalloc on throughout)."""
    gc.collect()
    max_before, rss_before = max_rss_kib(), rss_kib()
    tracemalloc.start()
    began = time.perf_counter()
    lane.run(steps)
    seconds = time.perf_counter() - began
    retained, peak = tracemalloc.get_traced_memory()
    own = tracemalloc.get_tracemalloc_memory()
    max_after, rss_after = max_rss_kib(), rss_kib()
    tracemalloc.stop()
    return {
        "steps": steps,
        "seconds_traced": seconds,
        "max_rss_growth_kib": max_after - max_before,
        "rss_growth_kib": rss_after - rss_before,
        "tracemalloc_peak_kib": peak / 1024,
        "tracemalloc_retained_kib": retained / 1024,
        "tracemalloc_own_kib": own / 1024,
    }


def measure_memory(bench: Bench, pools: Mapping[str, list[int]], steps: int) -> dict[str, Any]:
    """Memory over ``steps`` progress steps: the floor first, then apply (peak RSS only ever rises)."""
    return {kind: memory_of(Lane(bench, kind, PROGRESS, pools[kind]), steps) for kind in ("floor", "apply")}


def profile(bench: Bench, pools: Mapping[str, list[int]], args: argparse.Namespace, label: str) -> dict[str, str]:
    """cProfile ``args.profile_steps`` steps of each cycle, apply and floor; prints the top by cumulative time."""
    files: dict[str, str] = {}
    PROFILES.mkdir(exist_ok=True)
    for name, cycle in CYCLES.items():
        for kind in ("apply", "floor"):
            lane = Lane(bench, kind, cycle, pools[kind])
            profiler = cProfile.Profile(time.process_time) if args.profile_clock == "cpu" else cProfile.Profile()
            profiler.runcall(lane.run, args.profile_steps)
            lane.settle()
            path = PROFILES / f"{label}-{name.split()[0]}-{kind}.prof"
            profiler.dump_stats(path)
            files[f"{label}/{name}/{kind}"] = str(path)
            print(f"\n=== {label} {name} {kind}: {args.profile_steps} steps, top {args.profile_top} by cumulative time")
            pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(args.profile_top)
    return files


# -- databases and the machine ---------------------------------------------------------------------


@contextmanager
def postgres_database(url: str) -> Iterator[str]:
    """A scratch database made from an AUTOCOMMIT connection to ``postgres``, dropped afterwards."""
    parsed = make_url(url)
    admin = make_engine(
        parsed.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    drop = sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
    try:
        with admin.connect() as conn:
            conn.execute(drop)
            conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(drop)
        admin.dispose()


@contextmanager
def database(dialect: str, folder: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file in ``folder``, or a scratch PostgreSQL database."""
    if dialect == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    with postgres_database(POSTGRES_URL) as url:
        yield url


@contextmanager
def open_world(url: str, folder: Path) -> Iterator[World]:
    """The migrated database with the 琼江 compact loaded, on a frozen clock; the engine is disposed after."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        clock = FrozenClock(START)
        app = bootstrap(Settings(database_url=url, data_dir=folder), clock=clock, engine=engine)
        yield load_world(app, clock)
    finally:
        engine.dispose()


@contextmanager
def async_commit(bench: Bench) -> Iterator[Bench]:
    """The same PostgreSQL database through an engine whose commits do not wait for the WAL flush."""
    url = bench.engine.url.render_as_string(hide_password=False)
    engine = make_engine(url, connect_args={"options": "-c synchronous_commit=off"})
    try:
        app = bootstrap(Settings(database_url=url), clock=bench.world.clock, engine=engine)
        yield replace(bench, world=World(app, bench.world.clock, bench.world.people))  # rows: shared
    finally:
        engine.dispose()


def server_info(engine: Engine) -> dict[str, str]:
    """The database's version and the settings that decide what a commit costs."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            pragmas = ("journal_mode", "synchronous")
            info = {p: str(conn.exec_driver_sql(f"PRAGMA {p}").scalar()) for p in pragmas}
            return {"version": sqlite3.sqlite_version, **info}
        settings = ("server_version", "synchronous_commit", "fsync", "wal_sync_method", "shared_buffers")
        return {s: str(conn.execute(sa.text(f"SELECT current_setting('{s}')")).scalar()) for s in settings}


def git_state() -> dict[str, Any]:
    """The commit measured and the files changed on top of it (the engine may be mid-edit)."""
    services = (ROOT / "workflow" / "core" / "services.py").read_bytes()
    return {
        **host_git_state("workflow", "states", "riverchief"),
        "services_sha256": hashlib.sha256(services).hexdigest()[:16],
    }


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        **host(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sa.__version__,
        "psycopg": psycopg.__version__,
        "git": git_state(),
    }


# -- one dialect, end to end -----------------------------------------------------------------------


def run_dialect(dialect: str, args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Every measurement on one dialect, in a scratch database dropped at the end."""
    with (
        tempfile.TemporaryDirectory(prefix="riverchief-bench-") as tmp,
        database(dialect, Path(tmp)) as url,
        open_world(url, Path(tmp)) as world,
    ):
        bench = make_bench(world)
        with async_commit(bench) if bench.dialect == "postgresql" else nullcontext(bench) as fast:
            return measure_all(bench, fast, args, console)


def measure_all(bench: Bench, fast: Bench, args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """The cycles, history and memory (and the profile when asked) on one loaded world.

    ``fast`` is the same database without the wait for the WAL flush on PostgreSQL (``bench`` itself on
    SQLite): it prepares issues and runs the memory measurement, where commit latency is not the question.
    """
    out: dict[str, Any] = {"server": server_info(bench.engine), "loadavg_before": os.getloadavg()}
    started = time.perf_counter()
    pools = {kind: make_pool(fast.world, args.issues) for kind in ("apply", "floor")}
    console.log(f"{bench.dialect}: 2×{args.issues} issues in ban.rectifying ({time.perf_counter() - started:.1f}s)")
    out["cycles"] = [measure_cycle(bench, name, pools, args) for name in CYCLES]
    ratios = ", ".join(f"{c['ratio']:.2f}" for c in out["cycles"])
    console.log(f"{bench.dialect}: apply/floor {ratios}")
    if fast is not bench and args.async_commit:
        out["cycles_async_commit"] = [measure_cycle(fast, name, pools, args) for name in CYCLES]
        console.log(f"{bench.dialect}: synchronous_commit=off done")
    if args.history_checks:
        out["history"] = measure_history(bench, fast, args)
        console.log(f"{bench.dialect}: history ratio {out['history']['ratio']:.2f}")
    if args.memory_steps and args.memory_dialect in ("both", DIALECT_NAMES[bench.dialect]):
        out["memory"] = measure_memory(fast, pools, args.memory_steps)
        console.log(f"{bench.dialect}: memory done")
    if args.profile:
        out["profile"] = profile(bench, pools, args, bench.dialect)
        if fast is not bench:
            out["profile"] |= profile(fast, pools, args, f"{bench.dialect}-async-commit")
    out["loadavg_after"] = os.getloadavg()
    out["elapsed_s"] = time.perf_counter() - started
    return out


# -- the report ------------------------------------------------------------------------------------


CYCLE_COLUMNS = (
    "dialect",
    "cycle",
    "steps",
    "apply steps/s",
    "floor steps/s",
    "apply µs",
    "floor µs",
    "ratio",
    "CPU ratio",
)


def cycles_table(results: dict[str, Any]) -> Table:
    """apply against the floor, per dialect and cycle."""
    table = Table(title="apply vs floor (median of rounds; ratio = apply time / floor time; pairs: apply / floor)")
    for column in (*CYCLE_COLUMNS, "target", "outbox rows/step", "SQL/step"):
        table.add_column(column, justify="left" if column in ("dialect", "cycle") else "right")
    for dialect, result in results.items():
        variants = {dialect: result["cycles"], f"{dialect} sync_commit=off": result.get("cycles_async_commit")}
        for label, cycles in variants.items():
            for c in cycles or []:
                table.add_row(label, *cycle_cells(c))
    return table


def cycle_cells(c: dict[str, Any]) -> list[str]:
    """One row of the cycles table, after the dialect."""
    colour = "green" if c["meets_target"] else "red"
    written = c["written"]
    return [
        c["cycle"],
        f"{c['rounds']}×{c['steps_per_round']}",
        f"{c['apply_steps_per_s']:.0f}",
        f"{c['floor_steps_per_s']:.0f}",
        f"{c['apply_us_per_step']:.0f}",
        f"{c['floor_us_per_step']:.0f}",
        f"[{colour}]{c['ratio']:.2f}[/]",
        f"{c['cpu_ratio']:.2f}",
        f"≤ {c['target']}",
        f"{written['apply']['outbox_rows_per_step']:.2f} / {written['floor']['outbox_rows_per_step']:.2f}",
        f"{written['apply']['statements_per_step']:.1f} / {written['floor']['statements_per_step']:.1f}",
    ]


def history_table(results: dict[str, Any]) -> Table:
    """Step time on old issues against fresh ones."""
    table = Table(title="history growth (failed-check loop step; ratio = old / fresh)")
    columns = ("dialect", "old: events, failed checks", "fresh: events", "old µs", "fresh µs", "ratio", "CPU ratio")
    for column in (*columns, "target", "SQL/step old / fresh"):
        table.add_column(column, justify="left" if column == "dialect" else "right")
    for dialect, result in results.items():
        h = result.get("history")
        if h:
            old, fresh = h["history"]["old"], h["history"]["fresh"]
            ok = "green" if h["meets_target"] else "red"
            table.add_row(
                dialect,
                f"{old['events_per_issue']:.0f}, {old['failed_checks_per_issue']:.0f}",
                f"{fresh['events_per_issue']:.0f}",
                f"{h['old_us_per_step']:.0f}",
                f"{h['fresh_us_per_step']:.0f}",
                f"[{ok}]{h['ratio']:.2f}[/]",
                f"{h['cpu_ratio']:.2f}",
                f"≤ {h['target']}",
                f"{h['statements_per_step']['old']:.2f} / {h['statements_per_step']['fresh']:.2f}",
            )
    return table


def memory_table(results: dict[str, Any]) -> Table:
    """Memory of the floor and apply over many progress steps."""
    table = Table(title="memory over progress steps (tracemalloc on; KiB)")
    for column in (
        "dialect",
        "run",
        "steps",
        "peak RSS growth",
        "RSS growth",
        "tracemalloc peak",
        "tracemalloc retained",
        "tracemalloc own",
    ):
        table.add_column(column, justify="left" if column in ("dialect", "run") else "right")
    for dialect, result in results.items():
        for kind, m in result.get("memory", {}).items():
            table.add_row(
                dialect,
                kind,
                str(m["steps"]),
                str(m["max_rss_growth_kib"]),
                str(m["rss_growth_kib"]),
                f"{m['tracemalloc_peak_kib']:.0f}",
                f"{m['tracemalloc_retained_kib']:.0f}",
                f"{m['tracemalloc_own_kib']:.0f}",
            )
    return table


# -- the command -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.apply", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="steps per timed round of each lane (default 400)")
    parser.add_argument("--block", type=int, default=100, help="steps per interleaved block within a round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds after the warm-up (median reported)")
    parser.add_argument("--dialect", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--issues", type=int, default=200, help="issues in each lane's round-robin pool")
    parser.add_argument("--history-checks", type=int, default=100, help="failed checks behind an old issue (0: skip)")
    parser.add_argument("--history-issues", type=int, default=10, help="old issues, and fresh issues per round")
    parser.add_argument("--history-cycles", type=int, default=3, help="loop turns per issue in a timed history round")
    parser.add_argument(
        "--async-commit",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the cycles on PostgreSQL with synchronous_commit=off (no wait for the WAL flush)",
    )
    parser.add_argument("--memory-steps", type=int, default=10_000, help="steps of each for memory (0: skip)")
    parser.add_argument(
        "--memory-dialect",
        choices=("sqlite", "postgres", "both"),
        default="sqlite",
        help="where to measure memory (default sqlite: tracemalloc makes 2×10,000 steps slow)",
    )
    parser.add_argument("--profile", action="store_true", help="also cProfile apply and the floor")
    parser.add_argument("--profile-steps", type=int, default=2000)
    parser.add_argument("--profile-top", type=int, default=40)
    parser.add_argument(
        "--profile-clock", choices=("wall", "cpu"), default="wall", help="cpu: this process's CPU time only"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="the JSON results (default bench/results.json)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the tables, write the JSON; exit 0 (the figures are the result)."""
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 180)
    dialects = ["sqlite", "postgres"] if args.dialect == "both" else [args.dialect]
    started = time.perf_counter()
    results = {d: run_dialect(d, args, console) for d in dialects}
    host = machine()
    report: dict[str, Any] = {
        "machine": host,
        "config": {k: str(v) for k, v in vars(args).items()},
        "dialects": results,
        "elapsed_s": time.perf_counter() - started,
    }
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    for table in (cycles_table(results), history_table(results), memory_table(results)):
        console.print(table)
    servers = ", ".join(
        f"{d} {r['server'].get('server_version', r['server'].get('version'))}" for d, r in results.items()
    )
    loads = ", ".join(f"{d} {r['loadavg_before'][0]:.1f}→{r['loadavg_after'][0]:.1f}" for d, r in results.items())
    console.print(
        f"machine: {host['nproc']} CPUs ({host['cpu']}), Python {host['python']}, {servers}; "
        f"load average {loads}; git {host['git']['commit']}{' (modified)' if host['git']['changed'] else ''}; "
        f"total {report['elapsed_s']:.0f}s"
    )
    console.print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
