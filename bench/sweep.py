"""The deadline sweep over many open issues: its cost must follow the issues due, not the issues open.

Run: ``.venv/bin/python -m bench.sweep [--sizes 10000 100000 1000000] [--dialect sqlite|postgres|both]``

For each size, the database holds that many open issues waiting on a hand-off,
1% of them past their deadline. One sweep escalates each due issue (an
``apply`` of ``dispatch`` by the system: UPDATE, ledger event, outbox rows).
The floor does the same writes with SQLAlchemy Core in the same process: the
indexed SELECT of what is due, then per issue one transaction with the UPDATE,
the event INSERT and the outbox INSERT. A second series keeps 100 issues due
while the open ones grow, to show the sweep does not read what is not due.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from riverchief.bootstrap import App, bootstrap
from riverchief.migrate import upgrade
from riverchief.settings import Settings
from tests.factories import START, load_world
from workflow.core.clock import FrozenClock
from workflow.core.db import make_engine
from workflow.core.models import Event, Issue, Jurisdiction, Outbox, Person, table_of
from workflow.jobs.sweeps import deadline_sweep

POSTGRES_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"
_issue, _event, _outbox = table_of(Issue), table_of(Event), table_of(Outbox)
NOW = START + timedelta(days=30)


def _fresh_engine(dialect: str, folder: Path, name: str) -> Engine:
    if dialect == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            (folder / f"{name}.db{suffix}").unlink(missing_ok=True)
        return make_engine(f"sqlite:///{folder / name}.db")
    admin = make_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_engine(f"postgresql://root@127.0.0.1:5432/{name}")


def _drop(dialect: str, engine: Engine, name: str) -> None:
    engine.dispose()
    if dialect == "postgres":
        admin = make_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _populate(app: App, open_issues: int, due: int) -> None:
    """Insert open issues waiting on a hand-off; ``due`` of them past their deadline."""
    with app.engine.begin() as conn:
        jid = dict(conn.execute(sa.select(table_of(Jurisdiction).c.code, table_of(Jurisdiction).c.id)).all())
        reporter = conn.execute(sa.select(table_of(Person).c.id).where(table_of(Person).c.code == "tn-taian")).scalar()
        compact = conn.execute(sa.text("SELECT id FROM compact WHERE code = 'QJ'")).scalar()
    past, future = NOW - timedelta(hours=1), NOW + timedelta(days=20)
    batch: list[dict[str, Any]] = []
    for n in range(open_issues):
        is_due = n % (open_issues // due) == 0 and n // (open_issues // due) < due
        at = past if is_due else future
        batch.append(
            {
                "code": f"QJ-2026-{n:07d}",
                "compact_id": compact,
                "title": "bench",
                "description": "",
                "category": "domestic_sewage",
                "difficulty": "normal",
                "place": "",
                "reporter_id": reporter,
                "reporting_jurisdiction_id": jid["500152102"],
                "receiving_jurisdiction_id": jid["510904101"],
                "state": "ban.handed_off",
                "version": 2,
                "due_at": at,
                "next_check_at": at,
                "waiting_since": START,
                "check_round": 0,
                "rebound_count": 0,
                "revisit_count": 0,
                "ledger_head": "0" * 64,
                "created_at": START,
                "updated_at": START,
            }
        )
        if len(batch) == 20000:
            _flush(app.engine, batch)
    _flush(app.engine, batch)


def _flush(engine: Engine, batch: list[dict[str, Any]]) -> None:
    if batch:
        with engine.begin() as conn:
            conn.execute(_issue.insert(), batch)
        batch.clear()


def _floor(app: App) -> float:
    """The same reads and writes in SQLAlchemy Core: indexed SELECT, then UPDATE + 2 INSERTs per due issue."""
    with app.engine.connect() as conn:
        people = list(conn.execute(sa.select(table_of(Person).c.id).limit(3)).scalars())
    started = time.perf_counter()
    with app.engine.connect() as conn:
        rows = conn.execute(
            sa.select(_issue.c.id, _issue.c.version, _issue.c.compact_id).where(_issue.c.next_check_at <= NOW)
        ).all()
    for row in rows:
        with app.engine.begin() as conn:
            conn.execute(
                _issue.update().where(_issue.c.id == row.id, _issue.c.version == row.version),
                {
                    "state": "ban.dispatched",
                    "version": row.version + 1,
                    "due_at": NOW,
                    "next_check_at": NOW,
                    "ledger_head": "a" * 64,
                    "updated_at": NOW,
                },
            )
            event_id = conn.execute(
                _event.insert(),
                {
                    "issue_id": row.id,
                    "compact_id": row.compact_id,
                    "seq": row.version + 1,
                    "trigger": "dispatch",
                    "from_state": "ban.handed_off",
                    "to_state": "ban.dispatched",
                    "actor_id": None,
                    "actor_code": "system",
                    "parties": "system",
                    "payload": {"order": "交办问题逾期未受理，提请联席会议河长调度"},
                    "due_at": NOW,
                    "occurred_at": NOW,
                    "prev_hash": "0" * 64,
                    "hash": "b" * 64,
                },
            ).inserted_primary_key[0]
            conn.execute(
                _outbox.insert(),
                [
                    {
                        "event_id": event_id,
                        "issue_id": row.id,
                        "recipient_id": person,
                        "kind": "dispatch",
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": NOW,
                        "created_at": NOW,
                    }
                    for person in people
                ],
            )
    return time.perf_counter() - started


def measure(dialect: str, open_issues: int, due: int, folder: Path) -> dict[str, Any]:
    """One sweep and one floor over identical databases."""
    results: dict[str, Any] = {"dialect": dialect, "open": open_issues, "due": due}
    for kind in ("sweep", "floor"):
        name = f"rc_bench_sweep_{kind}_{open_issues}_{due}"
        engine = _fresh_engine(dialect, folder, name)
        upgrade(engine)
        clock = FrozenClock(START)
        app = bootstrap(Settings(database_url=str(engine.url), data_dir=folder), clock=clock, engine=engine)
        load_world(app, clock)
        _populate(app, open_issues, due)
        if dialect == "postgres":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("ANALYZE"))
        clock.set(NOW)
        if kind == "sweep":
            started = time.perf_counter()
            counts = deadline_sweep(app.uow, clock.now())
            results["sweep_s"] = time.perf_counter() - started
            results["escalated"] = counts["escalated"]
        else:
            results["floor_s"] = _floor(app)
        _drop(dialect, engine, name)
    results["ratio"] = results["sweep_s"] / results["floor_s"]
    results["ms_per_due"] = results["sweep_s"] / due * 1000
    return results


def main() -> None:
    """Run both series and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--dialect", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    dialects = ["sqlite", "postgres"] if args.dialect == "both" else [args.dialect]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for dialect in dialects:
            for size in args.sizes:
                rows.append(measure(dialect, size, size // 100, Path(tmp)))
            for size in args.sizes:
                if size // 100 != 100:  # the first series had it already
                    rows.append(measure(dialect, size, 100, Path(tmp)))
    table = Table(title=f"deadline sweep ({datetime.now(UTC):%Y-%m-%d})")
    for column in ("dialect", "open", "due", "sweep s", "floor s", "ratio", "ms per due issue"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(
            r["dialect"],
            f"{r['open']:,}",
            f"{r['due']:,}",
            f"{r['sweep_s']:.2f}",
            f"{r['floor_s']:.2f}",
            f"{r['ratio']:.2f}",
            f"{r['ms_per_due']:.2f}",
        )
    Console().print(table)
    out = Path(__file__).with_name("sweep-results.json")
    out.write_text(json.dumps(rows, indent=2))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
