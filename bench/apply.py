"""How fast ``workflow.core.services.apply`` is, against the floor: the same writes in plain SQLAlchemy Core.

Run ``.venv/bin/python -m bench.apply [--quick] [--dialect sqlite|postgres|both]``; bench/README.md says
what is measured and how. In one process, for each dialect:

* the whole life of an issue, round-robin over a set of issues each reported afresh when the last one
  was archived: report, investigate, confirm, hand off, accept, plan, report done, request the joint
  check, two sign-offs, close, revisit, no rebound, archive; with the real audience and outbox rows,
  timed and counted (statements sent) step by step;
* two steady cycles, round-robin over a pool of issues prepared beforehand: ``progress`` (ban.rectifying,
  the state stays) and the failed-check loop ``report_done -> request_verify -> fail_check``;
* the floor: one transaction per step with the writes ``apply`` made (the UPDATE of the issue, the
  INSERT of the event, as many outbox rows as ``apply`` wrote for that step, and the step's own rows:
  sign-offs and checklist items, revisits), statements built once, on the same engine;
* history: a step on issues with 100 failed checks behind them against fresh issues in the same state;
* memory: RSS and tracemalloc over many steps of the whole life, floor and apply.
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
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
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
from states import INITIAL
from states.policy import DEADLINES, PLANNED_STATES, revisit_offsets
from tests.factories import (
    AUDITOR,
    CHECKLIST,
    COORDINATOR,
    RECEIVER,
    RECEIVING_CODE,
    REPORTER,
    START,
    World,
    load_world,
)
from workflow.core.calendar import end_of_day, local_today
from workflow.core.clock import FrozenClock
from workflow.core.db import make_engine
from workflow.core.deadlines import next_check
from workflow.core.models import (
    ChecklistCheck,
    Event,
    Issue,
    IssueCounter,
    Jurisdiction,
    Outbox,
    Revisit,
    Segment,
    SignOff,
    table_of,
)
from workflow.core.services import IssueDraft, apply, report_issue

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results.json"
PROFILES = HERE / "profiles"  # cProfile dumps of --profile, for snakeviz or pstats
POSTGRES_URL = os.environ.get("RIVERCHIEF_BENCH_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/riverchief_bench")
DIALECT_NAMES = {"sqlite": "sqlite", "postgresql": "postgres"}  # SQLAlchemy's name -> the command line's
# apply time / floor time, at most: the whole path (issue 17), and the steady cycles (the first targets)
LIFE_TARGETS = {"sqlite": 2.0, "postgresql": 1.3}
CYCLE_TARGETS = {"sqlite": 1.5, "postgresql": 1.15}
HISTORY_TARGET = 1.10  # step time on an old issue / on a fresh one, at most

_issue, _event, _outbox = table_of(Issue), table_of(Event), table_of(Outbox)
_counter, _sign_off, _check, _revisit = (
    table_of(IssueCounter),
    table_of(SignOff),
    table_of(ChecklistCheck),
    table_of(Revisit),
)

# -- the cycles ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Move:
    """One step of a cycle: who fires what, with what, how they stand, where it leads (None: stays).

    ``sets``: the columns the step's effects change, which the floor writes too; ``label`` names the
    step where one trigger is fired twice in a cycle (the two sign-offs).
    """

    trigger: str
    who: str
    payload: dict[str, Any]
    parties: str
    dest: str | None
    sets: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""

    @property
    def name(self) -> str:
        """How the tables name the step."""
        return self.label or self.trigger


@dataclass(frozen=True, slots=True)
class Cycle:
    """Steps fired in turn on each issue of a lane.

    ``fresh``: each turn starts with a new report (the whole life), instead of on an issue prepared in
    ban.rectifying and left there at the end of each turn.
    """

    name: str
    moves: tuple[Move, ...]
    fresh: bool
    targets: Mapping[str, float]


DRAFT = {
    "compact": "QJ",
    "title": "白马镇段排污口",
    "category": "domestic_sewage",
    "description": "白马镇段左岸发现一处排污口，有灰黑色污水直排入江",
    "place": "白马镇码头下游约 300 米",
    "segment": "qj-baima",
}
RECEIVING, REPORTING = "member,receiving", "member,reporting"


def make_cycles(world: World) -> dict[str, Cycle]:
    """The whole life, and the two steady cycles, with realistic payloads."""
    deadline = world.deadline(10)
    with world.app.engine.connect() as conn:
        places = table_of(Jurisdiction)
        receiving_id = conn.execute(sa.select(places.c.id).where(places.c.code == RECEIVING_CODE)).scalar_one()
    plan = {"plan": "封堵排口并接入市政管网", "deadline": deadline}
    progress = Move("progress", RECEIVER, {"note": "排口封堵完成一半，正在清理管网", "percent": 50}, RECEIVING, None)
    report_done = Move(
        "report_done", RECEIVER, {"summary": "排口已封堵，管网已接入污水处理厂"}, RECEIVING, "du.rectified"
    )
    request_verify = Move("request_verify", REPORTER, {"note": "请组织联合复核"}, REPORTING, "du.verifying")
    fail_check = Move(
        "fail_check",
        REPORTER,
        {"reason": "复核发现排口仍有渗漏", "deadline": deadline},
        REPORTING,
        "ban.rectifying",
        {"rectify_deadline": date.fromisoformat(deadline)},
    )
    life = (
        Move("report", REPORTER, DRAFT, REPORTING, "xun.reported"),
        Move("investigate", REPORTER, {"note": "安排现场核查"}, REPORTING, "cha.investigating"),
        Move("confirm", REPORTER, {"findings": "现场核实排口直排属实"}, REPORTING, "cha.confirmed"),
        Move(
            "hand_off",
            REPORTER,
            {"receiving": RECEIVING_CODE, "note": "排口位于对岸，请接收整改"},
            REPORTING,
            "ban.handed_off",
            {"receiving_jurisdiction_id": receiving_id},
        ),
        Move("accept", RECEIVER, {"note": "已接收"}, RECEIVING, "ban.accepted"),
        Move(
            "start_rectify",
            RECEIVER,
            plan,
            RECEIVING,
            "ban.rectifying",
            {"rectify_plan": plan["plan"], "rectify_deadline": date.fromisoformat(deadline)},
        ),
        report_done,
        request_verify,
        Move("pass_check", RECEIVER, {"checklist": CHECKLIST[:2]}, RECEIVING, None, label="pass_check (receiving)"),
        Move(
            "pass_check",
            REPORTER,
            {"checklist": CHECKLIST[2:], "note": "排口已封堵"},
            REPORTING,
            None,
            label="pass_check (reporting)",
        ),
        Move("close", REPORTER, {"note": "双方签认，销号"}, REPORTING, "du.closed", {"last_revisit_clean": None}),
        Move("start_revisit", AUDITOR, {"note": "第一次回头看"}, "auditor", "du.revisiting"),
        Move(
            "no_rebound",
            AUDITOR,
            {"finding": "排口封堵完好，未见反弹"},
            "auditor",
            "du.closed",
            {"revisit_count": 1, "last_revisit_clean": True},
        ),
        Move("archive", COORDINATOR, {"note": "回头看未反弹，归档"}, "coordinator", "archived"),
    )
    return {
        "whole life": Cycle("whole life", life, True, LIFE_TARGETS),
        "progress": Cycle("progress", (progress,), False, CYCLE_TARGETS),
        "failed-check loop": Cycle(
            "failed-check loop", (report_done, request_verify, fail_check), False, CYCLE_TARGETS
        ),
    }


@dataclass(slots=True)
class Head:
    """What the floor must know of an issue to write its next step."""

    id: int
    state: str
    version: int
    due_at: datetime | None
    waiting_since: datetime | None
    check_at: datetime | None
    round: int


@dataclass(slots=True)
class Tally:
    """Steps fired and outbox rows written, per step of the cycle."""

    steps: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)

    def add(self, name: str, rows: int) -> None:
        """Count one step."""
        self.steps[name] += 1
        self.rows[name] += rows

    def rows_per_step(self) -> dict[str, float]:
        """Mean outbox rows per step of each name."""
        return {t: self.rows[t] / n for t, n in self.steps.items()}


@dataclass(slots=True)
class Bench:
    """One dialect's loaded world and what the cycles and the floor need."""

    dialect: str
    world: World
    cycles: dict[str, Cycle]
    due: dict[str, datetime | None]  # the due_at a move into each state sets (the clock is frozen)
    check_at: dict[str, datetime | None]  # and the next_check_at
    recipients: list[int]  # distinct people the floor writes outbox rows for
    draft: dict[str, Any]  # the floor's report: the issue's columns that do not change
    rows: dict[str, int] = field(default_factory=dict)  # outbox rows apply writes per step name
    server: Callable[[], float] = lambda: 0.0  # CPU seconds the database's server has spent for us so far

    @property
    def engine(self) -> Engine:
        """The application's engine, shared by apply and the floor."""
        return self.world.app.engine


def make_bench(world: World) -> Bench:
    """Cycles, due times, recipients and the floor's report for a loaded world."""
    cycles = make_cycles(world)
    now, calendar = world.clock.now(), world.app.calendar
    due: dict[str, datetime | None] = {}
    check_at: dict[str, datetime | None] = {}
    for cycle in cycles.values():
        for move in cycle.moves:
            state = move.dest
            if state is None:
                continue
            if state in PLANNED_STATES:
                due[state] = end_of_day(date.fromisoformat(move.payload["deadline"]))
            else:
                policy = DEADLINES.get(state)
                due[state] = calendar.due_after(now, policy.working_days) if policy else None
            check_at[state] = next_check(calendar, now, due[state], now)
    people = [world.people[code].id for code in (REPORTER, RECEIVER, COORDINATOR, AUDITOR)]
    recipients = [p for p in people if p is not None]
    reporter = world.people[REPORTER]
    with world.app.engine.connect() as conn:
        segment = conn.execute(
            sa.select(table_of(Segment).c.id).where(table_of(Segment).c.code == DRAFT["segment"])
        ).scalar_one()
    draft = {
        "compact_id": next(iter(reporter.member_of)),
        "title": DRAFT["title"],
        "description": DRAFT["description"],
        "category": DRAFT["category"],
        "difficulty": "normal",
        "place": DRAFT["place"],
        "segment_id": segment,
        "reporter_id": reporter.id,
        "reporting_jurisdiction_id": reporter.jurisdiction_id,
    }
    return Bench(world.app.engine.dialect.name, world, cycles, due, check_at, recipients, draft)


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
    """What the floor needs of each issue."""
    c = _issue.c
    query = sa.select(c.id, c.state, c.version, c.due_at, c.waiting_since, c.next_check_at, c.check_round)
    with engine.connect() as conn:
        return {row.id: Head(*row) for row in conn.execute(query.where(c.id.in_(ids)))}


def table_counts(engine: Engine) -> tuple[int, int]:
    """Rows in event and outbox."""
    count = sa.func.count()
    with engine.connect() as conn:
        events = conn.execute(sa.select(count).select_from(_event)).scalar_one()
        outbox = conn.execute(sa.select(count).select_from(_outbox)).scalar_one()
    return events, outbox


@contextmanager
def counting(engine: Engine) -> Iterator[Counter[str]]:
    """Counts the statements sent to the database (BEGIN IMMEDIATE included, COMMIT not) while open.

    An executemany is one statement: SQLAlchemy sends it as one (several rows in one INSERT on
    PostgreSQL, the driver's executemany on SQLite).
    """
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


# -- the floor -------------------------------------------------------------------------------------

HASH = hashlib.sha256(b"riverchief bench").hexdigest()
_FLOOR_UPDATE = _issue.update().where(
    _issue.c.id == sa.bindparam("b_id"), _issue.c.version == sa.bindparam("b_version")
)  # SET: the parameters' other keys
_FLOOR_EVENT = _event.insert()
_FLOOR_OUTBOX = _outbox.insert()
_FLOOR_ISSUE = _issue.insert()
_FLOOR_COUNTER = (
    _counter.update()
    .where(_counter.c.compact_id == sa.bindparam("b_compact"), _counter.c.year == sa.bindparam("b_year"))
    .values(last=_counter.c.last + 1)
    .returning(_counter.c.last)
)
_FLOOR_SIGN_OFF = _sign_off.insert()
_FLOOR_CHECK = _check.insert()
_FLOOR_REVISIT = _revisit.insert()
_FLOOR_FINISH_REVISIT = (
    _revisit.update()
    .where(_revisit.c.issue_id == sa.bindparam("b_issue"), _revisit.c.cycle == 1, _revisit.c.seq == 1)
    .values(status="done", outcome="clean", done_at=sa.bindparam("b_now", type_=_revisit.c.done_at.type))
)
_FLOOR_CANCEL_REVISITS = (
    _revisit.update()
    .where(_revisit.c.issue_id == sa.bindparam("b_issue"), _revisit.c.status == "planned")
    .values(status="cancelled")
)


def floor_report(conn: sa.Connection, bench: Bench, values: dict[str, Any]) -> int:
    """A new issue, inserted as its report leaves it: the counter, then the row; returns its id."""
    year = local_today(values["created_at"]).year
    number = conn.execute(_FLOOR_COUNTER, {"b_compact": bench.draft["compact_id"], "b_year": year}).scalar_one()
    row = {**bench.draft, **values, "code": f"{DRAFT['compact']}-{year}-{number:04d}"}
    return int(conn.execute(_FLOOR_ISSUE, row).inserted_primary_key[0])  # type: ignore[index]


def floor_extras(conn: sa.Connection, bench: Bench, head: Head, move: Move) -> dict[str, Any]:
    """The writes of a step beyond the issue, its event and its outbox rows; returns the columns they set."""
    now = bench.world.clock.now()
    if move.trigger == "request_verify":
        head.round += 1
        return {"check_round": head.round}
    if move.trigger == "pass_check":
        who = bench.world.people[move.who].id
        mine = {"issue_id": head.id, "round": head.round, "person_id": who, "event_seq": head.version + 1}
        conn.execute(_FLOOR_SIGN_OFF, {**mine, "side": move.parties.split(",")[-1], "signed_at": now})
        items = move.payload.get("checklist", [])
        if items:
            conn.execute(_FLOOR_CHECK, [{**mine, "item": item, "checked_at": now} for item in items])
    elif move.trigger == "close":
        closed_on = local_today(now)
        offsets = enumerate(revisit_offsets(DRAFT["category"]), start=1)
        planned = {"issue_id": head.id, "cycle": 1, "status": "planned"}
        due = [{**planned, "seq": seq, "offset_days": d, "due_on": closed_on + timedelta(days=d)} for seq, d in offsets]
        conn.execute(_FLOOR_REVISIT, due)
        return {"closed_at": now}
    elif move.trigger == "no_rebound":
        conn.execute(_FLOOR_FINISH_REVISIT, {"b_issue": head.id, "b_now": now})
    elif move.trigger == "archive":
        conn.execute(_FLOOR_CANCEL_REVISITS, {"b_issue": head.id})
    return {}


def floor_step(conn: sa.Connection, bench: Bench, slot: Slot, move: Move) -> int:
    """The writes of one step in Core, inside the caller's transaction; returns the outbox rows written.

    A report inserts the issue as the step leaves it; any other step UPDATEs it, version-checked.
    """
    now = bench.world.clock.now()
    head = Head(0, INITIAL, 0, None, None, None, 0) if move.trigger == "report" else slot.head
    assert head is not None
    seq, to_state = head.version + 1, move.dest or head.state
    waiting_since: datetime | None = now
    if move.dest:
        due_at, check_at = bench.due[to_state], bench.check_at[to_state]
    else:
        due_at, waiting_since, check_at = head.due_at, head.waiting_since, head.check_at
    values = {
        "state": to_state,
        "version": seq,
        "due_at": due_at,
        "ledger_head": HASH,
        "updated_at": now,
        "waiting_since": waiting_since,
        "next_check_at": check_at,
        **move.sets,
    }
    if move.trigger == "report":
        head.id = floor_report(conn, bench, {**values, "created_at": now})
        slot.head = head
    else:
        values |= floor_extras(conn, bench, head, move)
        updated = conn.execute(_FLOOR_UPDATE, {"b_id": head.id, "b_version": head.version, **values})
        if updated.rowcount != 1:
            raise RuntimeError(f"floor: issue {head.id} is not at version {head.version}")
    actor = bench.world.people[move.who]
    event = {
        "issue_id": head.id,
        "compact_id": bench.draft["compact_id"],  # the lanes' issues are all in the one compact
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
    rows = bench.rows[move.name]
    if rows:
        outbox = {"event_id": event_id, "issue_id": head.id, "kind": move.trigger, "status": "pending", "attempts": 0}
        times = {"next_attempt_at": now, "created_at": now}
        conn.execute(_FLOOR_OUTBOX, [{**outbox, **times, "recipient_id": r} for r in bench.recipients[:rows]])
    head.state, head.version, head.due_at = to_state, seq, due_at
    head.waiting_since, head.check_at = waiting_since, check_at
    return rows


# -- the lanes: apply and the floor ----------------------------------------------------------------


@dataclass(slots=True)
class Slot:
    """One issue of a lane and the step of the cycle it is at.

    ``key``: the issue's id, or its code for an issue the lane reported (as a client names it);
    None before the first report. ``head``: what the floor knows of it.
    """

    key: int | str | None
    head: Head | None
    at: int = 0


class Lane:
    """Issues stepped round-robin through a cycle, by ``apply`` or by the floor; resumable.

    Each lane owns its issues, so apply and the floor never touch each other's and, started from the same
    states, fire the same sequence of steps. Each step's wall-clock time is summed per step name; while
    ``meter`` is set (a ``counting`` counter), so are the statements each step sent.
    """

    def __init__(self, bench: Bench, kind: str, cycle: Cycle, ids: list[int]) -> None:
        self.bench, self.kind, self.cycle = bench, kind, cycle
        if cycle.fresh:
            self.slots = [Slot(None, None) for _ in ids]  # as many issues, reported by the lane
        else:
            found = heads(bench.engine, ids) if kind == "floor" else {}
            self.slots = [Slot(issue, found.get(issue)) for issue in ids]
        self.position = 0
        self.meter: Counter[str] | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the steps counted so far (after a warm-up)."""
        self.tally = Tally()
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.statements: Counter[str] = Counter()

    def run(self, steps: int) -> None:
        """The next ``steps`` steps."""
        fire = self._apply if self.kind == "apply" else self._floor
        moves, slots, meter = self.cycle.moves, self.slots, self.meter
        for k in range(self.position, self.position + steps):
            slot = slots[k % len(slots)]
            move = moves[slot.at]
            sent = meter["statements"] if meter is not None else 0
            began = time.perf_counter()
            rows = fire(slot, move)
            self.seconds[move.name] += time.perf_counter() - began
            if meter is not None:
                self.statements[move.name] += meter["statements"] - sent
            self.tally.add(move.name, rows)
            slot.at = (slot.at + 1) % len(moves)
        self.position += steps

    def settle(self) -> None:
        """Finish the current turn of the cycle, so every issue is back where it started."""
        self.run(-self.position % (len(self.cycle.moves) * len(self.slots)))

    def _apply(self, slot: Slot, move: Move) -> int:
        app, actor = self.bench.world.app, self.bench.world.people[move.who]
        if move.trigger == "report":
            result = report_issue(app.uow(), actor, IssueDraft(**move.payload))
            slot.key = result.issue_code
        else:
            assert slot.key is not None
            result = apply(app.uow(), slot.key, move.trigger, actor, move.payload)
        return result.notified

    def _floor(self, slot: Slot, move: Move) -> int:
        with self.bench.engine.begin() as conn:
            return floor_step(conn, self.bench, slot, move)


CLOCKS = ("wall", "cpu", "server")


@dataclass(slots=True)
class Rounds:
    """Seconds each lane spent per round, on three clocks: wall, this process's CPU, the server's CPU.

    CPU time leaves out waiting (for the CPU under load from elsewhere, for the database server), so on
    SQLite, where all the work is in this process, its ratio is the steadier one on a busy machine. The
    server's CPU is that of the PostgreSQL backends serving the bench's database (0 on SQLite).
    """

    seconds: dict[str, dict[str, list[float]]]

    @classmethod
    def of(cls, names: Iterable[str]) -> Rounds:
        """No rounds yet for the named lanes."""
        names = list(names)
        return cls({clock: {n: [] for n in names} for clock in CLOCKS})

    def add(self, spent: Mapping[str, Mapping[str, float]]) -> None:
        """Record one round's seconds per clock and lane."""
        for clock, lanes in spent.items():
            for name, seconds in lanes.items():
                self.seconds[clock][name].append(seconds)

    def median(self, name: str, clock: str = "wall") -> float:
        """The median seconds of a lane's rounds."""
        return statistics.median(self.seconds[clock][name])

    def ratio(self, a: str, b: str, clock: str = "wall") -> float:
        """The median over rounds of ``a``'s seconds over ``b``'s in the same round (0 when ``b`` spent none).

        Within a round the lanes ran interleaved, block by block, so a burst of load from elsewhere
        fell on both; a ratio of the lanes' medians would pair a quiet round of one with a busy round of
        the other.
        """
        ratios = self.per_round(a, b, clock)
        return statistics.median(ratios) if ratios else 0.0

    def per_round(self, a: str, b: str, clock: str = "wall") -> list[float]:
        """The ratio of each round on ``clock`` (none when ``b`` spent nothing on it)."""
        pairs = zip(self.seconds[clock][a], self.seconds[clock][b], strict=True)
        return [x / y for x, y in pairs if y]


def race(lanes: Mapping[str, Lane], steps: int, block: int, server: Callable[[], float]) -> dict[str, dict[str, float]]:
    """One round: ``steps`` steps of each lane in interleaved blocks, alternating which goes first.

    Interleaving bills a burst of load from elsewhere on the machine to both lanes alike. Returns the
    seconds each lane spent on each clock.
    """
    gc.collect()
    spent = {clock: dict.fromkeys(lanes, 0.0) for clock in CLOCKS}
    names = list(lanes)
    for number, start in enumerate(range(0, steps, block)):
        count = min(block, steps - start)
        for name in names if number % 2 == 0 else names[::-1]:
            began, began_cpu, began_server = time.perf_counter(), time.process_time(), server()
            lanes[name].run(count)
            spent["wall"][name] += time.perf_counter() - began
            spent["cpu"][name] += time.process_time() - began_cpu
            spent["server"][name] += server() - began_server
    return spent


# -- the measurements ------------------------------------------------------------------------------


def warm_up(bench: Bench, lanes: Mapping[str, Lane], steps: int) -> dict[str, Any]:
    """One unmeasured round of each lane, apply first, counting each step's statements.

    Learns how many outbox rows apply writes per step, which the floor then writes.
    """
    written: dict[str, Any] = {}
    for kind, lane in lanes.items():
        events, outbox = table_counts(bench.engine)
        with counting(bench.engine) as counts:
            lane.meter = counts
            lane.run(steps)
            lane.meter = None
        events_after, outbox_after = table_counts(bench.engine)
        if kind == "apply":
            bench.rows.update({t: round(r) for t, r in lane.tally.rows_per_step().items()})
        written[kind] = {
            "outbox_rows_per_step": (outbox_after - outbox) / (events_after - events),
            "outbox_rows_per_trigger": lane.tally.rows_per_step(),
            "statements_per_step": counts["statements"] / steps,
            "statements_by_step": {name: lane.statements[name] / n for name, n in lane.tally.steps.items()},
        }
        lane.reset()
    return written


def by_step(lanes: Mapping[str, Lane], written: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each step of the cycle: mean wall-clock µs of apply and the floor over the timed rounds, statements."""
    apply_lane, floor_lane = lanes["apply"], lanes["floor"]
    steps = []
    for move in apply_lane.cycle.moves:
        name = move.name
        if not apply_lane.tally.steps[name] or not floor_lane.tally.steps[name]:
            continue  # not reached in the timed rounds
        apply_us = apply_lane.seconds[name] / apply_lane.tally.steps[name] * 1e6
        floor_us = floor_lane.seconds[name] / floor_lane.tally.steps[name] * 1e6
        steps.append(
            {
                "step": name,
                "apply_us": apply_us,
                "floor_us": floor_us,
                "ratio": apply_us / floor_us,
                "statements": {kind: written[kind]["statements_by_step"][name] for kind in ("apply", "floor")},
                "outbox_rows": written["apply"]["outbox_rows_per_trigger"][name],
            }
        )
    return steps


def lane_ids(cycle: Cycle, pools: Mapping[str, list[int]], kind: str, args: argparse.Namespace) -> list[int]:
    """The issues a lane of ``cycle`` steps: its pool, or as many new ones as ``--life-issues``."""
    return list(range(args.life_issues)) if cycle.fresh else pools[kind]


def measure_cycle(bench: Bench, name: str, pools: Mapping[str, list[int]], args: argparse.Namespace) -> dict[str, Any]:
    """Apply against the floor on one cycle: a warm-up round, then ``args.rounds`` interleaved rounds."""
    cycle = bench.cycles[name]
    lanes = {kind: Lane(bench, kind, cycle, lane_ids(cycle, pools, kind, args)) for kind in ("apply", "floor")}
    turn = len(cycle.moves) * len(lanes["apply"].slots)
    written = warm_up(bench, lanes, max(args.steps, turn))  # every step seen
    rounds = Rounds.of(lanes)
    for _ in range(args.rounds):
        rounds.add(race(lanes, args.steps, args.block, bench.server))
    steps = by_step(lanes, written)
    for lane in lanes.values():
        lane.settle()
    apply_s, floor_s, ratio = rounds.median("apply"), rounds.median("floor"), rounds.ratio("apply", "floor")
    target = cycle.targets[bench.dialect]
    return {
        "cycle": name,
        "issues_per_lane": len(lanes["apply"].slots),
        "steps_per_round": args.steps,
        "block": args.block,
        "rounds": args.rounds,
        "seconds": rounds.seconds,
        "apply_steps_per_s": args.steps / apply_s,
        "floor_steps_per_s": args.steps / floor_s,
        "apply_us_per_step": apply_s / args.steps * 1e6,
        "floor_us_per_step": floor_s / args.steps * 1e6,
        "apply_cpu_us_per_step": rounds.median("apply", "cpu") / args.steps * 1e6,
        "floor_cpu_us_per_step": rounds.median("floor", "cpu") / args.steps * 1e6,
        "apply_server_us_per_step": rounds.median("apply", "server") / args.steps * 1e6,
        "floor_server_us_per_step": rounds.median("floor", "server") / args.steps * 1e6,
        "ratio": ratio,
        "ratio_of_medians": apply_s / floor_s,
        "cpu_ratio": rounds.ratio("apply", "floor", "cpu"),
        "server_cpu_ratio": rounds.ratio("apply", "floor", "server"),
        "ratio_per_round": rounds.per_round("apply", "floor"),
        "target": target,
        "meets_target": ratio <= target,
        "written": written,
        "steps": steps,
    }


def aged_pool(bench: Bench, size: int, checks: int) -> list[int]:
    """``size`` issues in ban.rectifying with ``checks`` turns of the failed-check loop behind them."""
    ids = make_pool(bench.world, size)
    cycle = bench.cycles["failed-check loop"]
    Lane(bench, "apply", cycle, ids).run(len(cycle.moves) * checks * size)
    return ids


def measure_history(bench: Bench, setup: Bench, args: argparse.Namespace) -> dict[str, Any]:
    """A failed-check loop step on issues with many failed checks behind them, against fresh issues."""
    cycle = bench.cycles["failed-check loop"]
    size, turn = args.history_issues, len(cycle.moves) * args.history_issues
    old = aged_pool(setup, size, args.history_checks)
    fresh = [make_pool(setup.world, size) for _ in range(args.rounds)]  # a new batch each round stays fresh
    histories = {"old": history_of(bench.engine, old), "fresh": history_of(bench.engine, fresh[0])}
    steps = turn * args.history_cycles
    rounds = Rounds.of(("old", "fresh"))
    for number in range(args.rounds):
        pools = {"old": old, "fresh": fresh[number]}
        lanes = {kind: Lane(bench, "apply", cycle, ids) for kind, ids in pools.items()}
        rounds.add(race(lanes, steps, turn, bench.server))
    statements = {}
    for kind, ids in {"old": old, "fresh": fresh[-1]}.items():
        lane = Lane(bench, "apply", cycle, ids)
        with counting(bench.engine) as counts:
            lane.run(turn)
        statements[kind] = counts["statements"] / turn
    ratio = rounds.ratio("old", "fresh")
    return {
        "issues": size,
        "steps_per_round": steps,
        "rounds": args.rounds,
        "history": histories,
        "seconds": rounds.seconds,
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


MEMORY_SAMPLES = 10  # RSS (and what tracemalloc traces) is sampled after each tenth of the steps


def memory_of(lane: Lane, steps: int, trace: bool) -> dict[str, Any]:
    """RSS, sampled through ``steps`` steps of a lane, and tracemalloc's figures when ``trace``.

    Growth over the second half is what says whether memory is flat: the first half fills caches
    (statements compiled, the calendar's years) once.
    """
    gc.collect()
    max_before, rss_before = max_rss_kib(), rss_kib()
    if trace:
        tracemalloc.start()
    samples: list[dict[str, Any]] = []
    began = time.perf_counter()
    done = 0
    for number in range(1, MEMORY_SAMPLES + 1):
        chunk = steps * number // MEMORY_SAMPLES - done
        lane.run(chunk)
        done += chunk
        traced = tracemalloc.get_traced_memory()[0] / 1024 if trace else 0.0
        samples.append({"steps": done, "rss_kib": rss_kib(), "traced_kib": traced})
    seconds = time.perf_counter() - began
    figures: dict[str, Any] = {
        "steps": steps,
        "seconds": seconds,
        "traced": trace,
        "samples": samples,
        "max_rss_growth_kib": max_rss_kib() - max_before,
        "rss_growth_kib": samples[-1]["rss_kib"] - rss_before,
        "rss_growth_second_half_kib": samples[-1]["rss_kib"] - samples[MEMORY_SAMPLES // 2 - 1]["rss_kib"],
    }
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        figures |= {
            "tracemalloc_peak_kib": peak / 1024,
            "tracemalloc_retained_kib": samples[-1]["traced_kib"],
            "traced_growth_second_half_kib": samples[-1]["traced_kib"] - samples[MEMORY_SAMPLES // 2 - 1]["traced_kib"],
            "tracemalloc_own_kib": tracemalloc.get_tracemalloc_memory() / 1024,
        }
        tracemalloc.stop()
    return figures


def measure_memory(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    """Memory over ``--memory-steps`` steps of the whole life: the floor first, then apply (peak RSS only rises)."""
    cycle = bench.cycles["whole life"]
    slots = list(range(args.life_issues))
    # A turn of apply first, untraced, as a cycle's warm-up would (with --memory-only none has run): it
    # tells the floor how many outbox rows each step writes, and makes the year's code counter.
    warm = Lane(bench, "apply", cycle, slots)
    warm.run(len(cycle.moves) * len(slots))
    bench.rows.update({name: round(rows) for name, rows in warm.tally.rows_per_step().items()})
    return {
        kind: memory_of(Lane(bench, kind, cycle, slots), args.memory_steps, args.memory_trace)
        for kind in ("floor", "apply")
    }


def profile(bench: Bench, pools: Mapping[str, list[int]], args: argparse.Namespace, label: str) -> dict[str, str]:
    """cProfile ``args.profile_steps`` steps of each cycle, apply and floor; prints the top by cumulative time."""
    files: dict[str, str] = {}
    PROFILES.mkdir(exist_ok=True)
    for name in args.cycle:
        cycle = bench.cycles[name]
        for kind in ("apply", "floor"):
            lane = Lane(bench, kind, cycle, lane_ids(cycle, pools, kind, args))
            profiler = cProfile.Profile(time.process_time) if args.profile_clock == "cpu" else cProfile.Profile()
            profiler.runcall(lane.run, args.profile_steps)
            lane.settle()
            path = PROFILES / f"{label}-{name.split()[0]}-{kind}.prof"
            profiler.dump_stats(path)
            files[f"{label}/{name}/{kind}"] = str(path)
            print(f"\n=== {label} {name} {kind}: {args.profile_steps} steps, top {args.profile_top} by cumulative time")
            pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(args.profile_top)
    return files


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
def open_world(url: str, folder: Path, synchronous: str = "FULL") -> Iterator[World]:
    """The migrated database with the 琼江 compact loaded, on a frozen clock; the engine is disposed after."""
    engine = make_engine(url, sqlite_synchronous=synchronous)
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


_BACKENDS = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'"


@contextmanager
def server_clock(url: str) -> Iterator[Callable[[], float]]:
    """The CPU seconds spent so far by the PostgreSQL backends serving ``url``'s database.

    Read from /proc/<pid>/schedstat, so only when the server runs on this machine (0 otherwise), through a
    connection to another database whose backend is not counted.
    """
    parsed = make_url(url)
    admin = psycopg.connect(
        parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False),
        autocommit=True,
    )

    def spent() -> float:
        total = 0
        for (pid,) in admin.execute(_BACKENDS, (parsed.database,)).fetchall():
            try:
                total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue  # gone, or not on this machine
        return total / 1e9

    try:
        yield spent
    finally:
        admin.close()


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
        open_world(url, Path(tmp), args.sqlite_synchronous) as world,
    ):
        bench = make_bench(world)
        if bench.dialect != "postgresql":
            return measure_all(bench, bench, args, console)
        with server_clock(url) as clock:
            bench.server = clock
            with async_commit(bench) as fast:
                return measure_all(bench, fast, args, console)


def measure_all(bench: Bench, fast: Bench, args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """The cycles, history and memory (and the profile when asked) on one loaded world.

    ``fast`` is the same database without the wait for the WAL flush on PostgreSQL (``bench`` itself on
    SQLite): it prepares issues and runs the memory measurement, where commit latency is not the question.
    """
    out: dict[str, Any] = {"server": server_info(bench.engine), "loadavg_before": os.getloadavg()}
    started = time.perf_counter()
    pools: dict[str, list[int]] = {"apply": [], "floor": []}
    if any(not bench.cycles[name].fresh for name in args.cycle):
        pools = {kind: make_pool(fast.world, args.issues) for kind in ("apply", "floor")}
        console.log(f"{bench.dialect}: 2×{args.issues} issues in ban.rectifying ({time.perf_counter() - started:.1f}s)")
    out["cycles"] = [measure_cycle(bench, name, pools, args) for name in args.cycle]
    if out["cycles"]:
        ratios = ", ".join(f"{c['cycle']} {c['ratio']:.2f}" for c in out["cycles"])
        console.log(f"{bench.dialect}: apply/floor {ratios}")
    if fast is not bench and args.async_commit and args.cycle:
        out["cycles_async_commit"] = [measure_cycle(fast, name, pools, args) for name in args.cycle]
        console.log(f"{bench.dialect}: synchronous_commit=off done")
    if args.history_checks:
        out["history"] = measure_history(bench, fast, args)
        console.log(f"{bench.dialect}: history ratio {out['history']['ratio']:.2f}")
    if args.memory_steps and args.memory_dialect in ("both", DIALECT_NAMES[bench.dialect]):
        out["memory"] = measure_memory(fast, args)
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
    "server CPU ratio",
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
        f"{c['server_cpu_ratio']:.2f}" if c["server_cpu_ratio"] else "—",
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


def steps_table(results: dict[str, Any]) -> Table:
    """The whole life step by step: mean µs of apply and the floor, and the statements each sent."""
    table = Table(title="the whole life, step by step (mean wall-clock µs over the timed rounds; SQL: statements sent)")
    columns = ("dialect", "step", "apply µs", "floor µs", "ratio", "SQL apply", "SQL floor", "outbox rows")
    for column in columns:
        table.add_column(column, justify="left" if column in ("dialect", "step") else "right")
    for dialect, result in results.items():
        for c in result["cycles"]:
            if c["cycle"] != "whole life":
                continue
            for s in c["steps"]:
                table.add_row(
                    dialect,
                    s["step"],
                    f"{s['apply_us']:.0f}",
                    f"{s['floor_us']:.0f}",
                    f"{s['ratio']:.2f}",
                    f"{s['statements']['apply']:.0f}",
                    f"{s['statements']['floor']:.0f}",
                    f"{s['outbox_rows']:.0f}",
                )
    return table


def memory_table(results: dict[str, Any]) -> Table:
    """Memory of the floor and apply over many steps of the whole life."""
    table = Table(
        title="memory over steps of the whole life (KiB; growth over the second half says whether it is flat)"
    )
    for column in (
        "dialect",
        "run",
        "steps",
        "s",
        "peak RSS growth",
        "RSS growth",
        "RSS growth, 2nd half",
        "traced peak",
        "traced at the end",
        "traced growth, 2nd half",
    ):
        table.add_column(column, justify="left" if column in ("dialect", "run") else "right")
    for dialect, result in results.items():
        for kind, m in result.get("memory", {}).items():
            traced = (
                [
                    f"{m['tracemalloc_peak_kib']:.0f}",
                    f"{m['tracemalloc_retained_kib']:.0f}",
                    f"{m['traced_growth_second_half_kib']:.0f}",
                ]
                if m["traced"]
                else ["—", "—", "—"]
            )
            table.add_row(
                dialect,
                kind,
                str(m["steps"]),
                f"{m['seconds']:.0f}",
                str(m["max_rss_growth_kib"]),
                str(m["rss_growth_kib"]),
                str(m["rss_growth_second_half_kib"]),
                *traced,
            )
    return table


# -- the command -----------------------------------------------------------------------------------


# --quick: a run of a few minutes on a busy machine, for before-and-after comparisons; options given
# beside it still win.
QUICK = {
    "rounds": 3,
    "steps": 280,
    "block": 70,
    "issues": 40,
    "life_issues": 20,
    "history_issues": 4,
    "memory_steps": 2800,
    "async_commit": False,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.apply", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, steps and issues (see QUICK)")
    parser.add_argument(
        "--cycle",
        action="append",
        choices=("whole life", "progress", "failed-check loop"),
        help="a cycle to measure (repeatable; default all three)",
    )
    parser.add_argument("--steps", type=int, default=400, help="steps per timed round of each lane (default 400)")
    parser.add_argument("--block", type=int, default=100, help="steps per interleaved block within a round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds after the warm-up (median reported)")
    parser.add_argument("--dialect", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--issues", type=int, default=200, help="issues in each lane's pool for the steady cycles")
    parser.add_argument("--life-issues", type=int, default=50, help="issues each lane takes through the whole life")
    parser.add_argument("--history-checks", type=int, default=100, help="failed checks behind an old issue (0: skip)")
    parser.add_argument("--history-issues", type=int, default=10, help="old issues, and fresh issues per round")
    parser.add_argument("--history-cycles", type=int, default=3, help="loop turns per issue in a timed history round")
    parser.add_argument(
        "--async-commit",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the cycles on PostgreSQL with synchronous_commit=off (no wait for the WAL flush)",
    )
    parser.add_argument(
        "--sqlite-synchronous",
        choices=("FULL", "NORMAL"),
        default="FULL",
        help="SQLite's PRAGMA synchronous (default FULL, as riverchief runs)",
    )
    parser.add_argument("--memory-steps", type=int, default=10_000, help="steps of each for memory (0: skip)")
    parser.add_argument(
        "--memory-dialect",
        choices=("sqlite", "postgres", "both"),
        default="sqlite",
        help="where to measure memory (default sqlite: 2×10,000 PostgreSQL steps take minutes)",
    )
    parser.add_argument(
        "--memory-trace",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="tracemalloc during the memory run (it slows a step several times; RSS is sampled either way)",
    )
    parser.add_argument("--memory-only", action="store_true", help="measure memory alone (no cycles, no history)")
    parser.add_argument("--profile", action="store_true", help="also cProfile apply and the floor")
    parser.add_argument("--profile-steps", type=int, default=2000)
    parser.add_argument("--profile-top", type=int, default=40)
    parser.add_argument(
        "--profile-clock", choices=("wall", "cpu"), default="wall", help="cpu: this process's CPU time only"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="the JSON results (default bench/results.json)")
    args = parser.parse_args(argv)
    if args.quick:
        parser.set_defaults(**QUICK)
        args = parser.parse_args(argv)
    if args.memory_only:
        args.cycle, args.history_checks = [], 0
    elif not args.cycle:
        args.cycle = ["whole life", "progress", "failed-check loop"]
    return args


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
    for table in (cycles_table(results), steps_table(results), history_table(results), memory_table(results)):
        if table.row_count:
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
