"""The scheduler service: periods owed, catch-up after a stop, one active scheduler, and the jobs CLI.

Catch-up runs on a FrozenClock, so "a week later" is one ``set``. The leadership
tests start real OS processes (``riverchief scheduler``) and kill one with SIGKILL;
the CLI tests run the installed ``riverchief`` command on a SQLite file.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from riverchief.bootstrap import App, bootstrap
from riverchief.demo.play import DATA
from riverchief.migrate import upgrade
from riverchief.scheduler import (
    JOBS,
    JOBS_BY_NAME,
    AdvisoryLock,
    FileLock,
    SchedulerService,
    catch_up,
    owed_now,
    run_owed,
)
from riverchief.settings import Settings
from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.factories import RECEIVING_CODE, REPORTER, World
from workflow.accounts import signin as accounts
from workflow.core.actors import load_actor
from workflow.core.calendar import local_today
from workflow.core.clock import SHANGHAI, FrozenClock
from workflow.core.db import make_engine
from workflow.core.models import Bulletin, Event, JobRun, LedgerSeal, Outbox
from workflow.core.services import IssueDraft, report_issue
from workflow.jobs import bulletins, runs

RIVERCHIEF = Path(sys.executable).parent / "riverchief"
ACTIVE = re.compile(r"active scheduler \(pid (\d+)\)")  # not "waiting to become the active scheduler"


def at(day: str, hour: int = 9, minute: int = 0, second: int = 0) -> datetime:
    """A wall-clock time in Asia/Shanghai, as the clock gives it (UTC)."""
    local = datetime.fromisoformat(day).replace(hour=hour, minute=minute, second=second, tzinfo=SHANGHAI)
    return local.astimezone(UTC)


def rows(app: App, model: Any, *order: Any) -> list[Any]:
    """Every row of a table model, in the given order."""
    with app.reader() as uow:
        return list(uow.session.execute(sa.select(model).order_by(*order)).scalars())


def job_runs(app: App) -> list[tuple[str, str, str, Any]]:
    """The job_run table as (job, period, status, detail)."""
    return [(r.job, r.period, r.status, r.detail) for r in rows(app, JobRun, JobRun.job, JobRun.period)]


def periods(ran: dict[str, list[tuple[str, Any]]]) -> dict[str, list[str]]:
    """What a catch-up ran, as job → periods."""
    return {name: [period for period, _ in runs] for name, runs in ran.items()}


def stop_after(seconds: float) -> threading.Event:
    """A stop event that sets itself after ``seconds``: a bound on how long a lock is waited for."""
    event = threading.Event()
    timer = threading.Timer(seconds, event.set)
    timer.daemon = True
    timer.start()
    return event


def wait_until(condition: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy (returned) or ``timeout`` passes (None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    return None


def _hold_file_lock(path: str, held: Any) -> None:
    """In a spawned process: take the file lock, say so, and keep it until killed."""
    lock = FileLock(Path(path))
    if lock.acquire(threading.Event(), poll_seconds=0.05):
        held.set()
    time.sleep(120)


# -- which periods are owed -----------------------------------------------------------------------

OWED = [
    # (job, last done, now (Shanghai wall clock), periods owed)
    ("monthly_bulletin", "2026-02", at("2026-04-03"), ["2026-03"]),
    ("monthly_bulletin", "2026-03", at("2026-04-03"), []),
    ("monthly_bulletin", "2026-01", at("2026-04-03"), ["2026-02", "2026-03"]),
    ("monthly_bulletin", "2025-11", at("2026-02-01", 0, 30), ["2025-12", "2026-01"]),
    ("monthly_bulletin", "2026-02", at("2026-03-31", 23, 59, 59), []),  # 15:59:59 UTC: March not over here
    ("monthly_bulletin", "2026-02", at("2026-04-01", 0, 0, 0), ["2026-03"]),  # still 03-31 in UTC
    ("quarterly_interviews", "2025-Q4", at("2026-03-31", 23, 59), []),
    ("quarterly_interviews", "2025-Q4", at("2026-04-01", 1), ["2026-Q1"]),
    ("quarterly_interviews", "2025-Q2", at("2026-04-01", 1), ["2025-Q3", "2025-Q4", "2026-Q1"]),
    ("quarterly_interviews", "2025-Q3", at("2026-01-01", 0, 5), ["2025-Q4"]),
    ("daily_seal", "2026-03-29", at("2026-04-01", 0, 10), ["2026-03-30", "2026-03-31"]),
    ("daily_seal", "2026-03-31", at("2026-04-01", 23, 59), []),
    ("daily_seal", "2026-02-27", at("2026-03-01", 0, 5), ["2026-02-28"]),
    ("daily_seal", "2025-12-30", at("2026-01-01", 0, 5), ["2025-12-31"]),
    # never run: only the latest period, not the whole calendar back to the epoch
    ("monthly_bulletin", None, at("2026-04-03"), ["2026-03"]),
    ("quarterly_interviews", None, at("2026-04-03"), ["2026-Q1"]),
    ("daily_seal", None, at("2026-04-03"), ["2026-04-02"]),
    ("deadline_sweep", None, at("2026-04-03", 9, 1, 30), ["2026-04-03T09:01"]),
    # sweeps are owed once now, not once per missed minute
    ("deadline_sweep", "2026-03-27T10:00", at("2026-04-03", 9, 1), ["2026-04-03T09:01"]),
    ("deadline_sweep", "2026-04-03T09:01", at("2026-04-03", 9, 1, 59), []),
    ("revisit_sweep", "2026-04-03T09:00", at("2026-04-03", 9, 14, 59), []),
    ("revisit_sweep", "2026-04-03T09:00", at("2026-04-03", 9, 15), ["2026-04-03T09:15"]),
]


@pytest.mark.parametrize(
    ("job", "last", "now", "owed"),
    OWED,
    ids=[f"{job}-after-{last}-at-{now.astimezone(SHANGHAI):%m%dT%H%M%S}" for job, last, now, _ in OWED],
)
def test_a_job_owes_each_period_after_its_last_done_one_up_to_the_latest_ended_one(
    job: str, last: str | None, now: datetime, owed: list[str]
) -> None:
    assert JOBS_BY_NAME[job].owed(last, now) == owed


# -- catching up after a stop ---------------------------------------------------------------------


def test_a_scheduler_stopped_over_a_deadline_and_a_month_end_does_each_missed_run_once_on_restart(
    sqlite_world: World,
) -> None:
    world = sqlite_world
    world.clock.set(at("2026-03-27", 10))  # a Friday
    code = world.report()
    world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)  # due Wednesday 04-01
    first = catch_up(world.app)
    # a first start runs each job's latest period only, not its whole history
    assert periods(first) == {job.name: [job.latest(world.clock.now())] for job in JOBS}
    assert periods(first)["monthly_bulletin"] == ["2026-02"]
    assert periods(first)["daily_seal"] == ["2026-03-26"]

    # Down for a week over the deadline, the month end and the quarter end; a new process starts.
    later = FrozenClock(at("2026-04-03", 9))
    restarted = bootstrap(world.app.settings, clock=later, engine=world.app.engine)
    second = catch_up(restarted)

    missed_days = [(date(2026, 3, 27) + timedelta(days=n)).isoformat() for n in range(7)]
    assert periods(second) == {
        "deadline_sweep": ["2026-04-03T09:00"],
        "revisit_sweep": ["2026-04-03T09:00"],
        "meeting_sweep": ["2026-04-03T09:00"],
        "daily_seal": missed_days,
        "monthly_bulletin": ["2026-03"],
        "quarterly_interviews": ["2026-Q1"],
        "quarterly_reports": ["2026-Q1"],
        "daily_reports": missed_days,
        "monthly_reports": ["2026-03"],
        "calendar_check": ["2026-04-03"],  # only today's: it looks at the calendar as it is now
        "account_prune": ["2026-04-02"],  # only the latest: a prune covers everything before it
    }
    assert second["deadline_sweep"][0][1]["escalated"] == 1
    assert [(e.trigger, e.actor_code) for e in world.events(code)][-1] == ("dispatch", "system")
    assert [e.trigger for e in world.events(code)].count("dispatch") == 1
    assert [s.day.isoformat() for s in rows(world.app, LedgerSeal, LedgerSeal.day)] == ["2026-03-26", *missed_days]
    made = [(b.kind, b.period) for b in rows(world.app, Bulletin, Bulletin.id)]
    assert made == [("monthly", "2026-02"), ("interview", "2025-Q4"), ("monthly", "2026-03"), ("interview", "2026-Q1")]
    march = next(b for b in rows(world.app, Bulletin, Bulletin.id) if b.period == "2026-03")
    # written on 04-03, it still counts March only: the hand-off, not the April dispatch
    assert (march.figures["month"]["handed_over"], march.figures["month"]["dispatched"]) == (1, 0)
    assert {status for _, _, status, _ in job_runs(world.app)} == {"done"}
    ran = [(name, period) for catch in (first, second) for name, runs in catch.items() for period, _ in runs]
    assert sorted((job, period) for job, period, _, _ in job_runs(world.app)) == sorted(ran)

    counts = world.counts()
    third = catch_up(restarted)
    assert third == {job.name: [] for job in JOBS}
    assert world.counts() == counts

    later.advance(minutes=1)
    assert {name: found for name, found in periods(catch_up(restarted)).items() if found} == {
        "deadline_sweep": ["2026-04-03T09:01"]
    }


def test_a_period_run_by_hand_while_the_scheduler_was_down_does_not_hide_an_earlier_missed_one(
    sqlite_world: World,
) -> None:
    app, bulletin = sqlite_world.app, JOBS_BY_NAME["monthly_bulletin"]
    sqlite_world.clock.set(at("2026-02-01", 0, 30))
    assert periods({"b": run_owed(app, bulletin)}) == {"b": ["2026-01"]}

    # The scheduler is down through February and March; on 04-02 someone runs March's bulletin by hand,
    # as `riverchief jobs run monthly_bulletin --period 2026-03` does.
    by_hand = at("2026-04-02")
    runs.run_job(
        app.uow, "monthly_bulletin", "2026-03", by_hand, lambda: bulletins.monthly_bulletin(app.uow, by_hand, "2026-03")
    )

    sqlite_world.clock.set(at("2026-04-03"))
    assert periods({"b": run_owed(app, bulletin)}) == {"b": ["2026-02"]}  # February's was missed: owed once


def test_the_scheduler_service_leads_catches_up_schedules_every_job_and_lets_go_when_stopped(
    sqlite_world: World, tmp_path: Path
) -> None:
    sqlite_world.clock.set(at("2026-04-03"))
    service = SchedulerService(sqlite_world.app, blocking=False, poll_seconds=0.05)
    service.run()
    try:
        assert service.leadership.held()
        assert sorted(job.id for job in service.scheduler.get_jobs()) == sorted(JOBS_BY_NAME)
        assert {(job, period) for job, period, _, _ in job_runs(sqlite_world.app)} == {
            (job.name, job.latest(sqlite_world.clock.now())) for job in JOBS
        }
        assert ("monthly_bulletin", "2026-03", "done", {"bulletins": 1}) in job_runs(sqlite_world.app)
        rival = FileLock(tmp_path / "scheduler.lock")
        assert rival.acquire(stop_after(0.2), poll_seconds=0.05) is False
    finally:
        service.stop()
    assert not service.scheduler.running
    assert rival.acquire(stop_after(5), poll_seconds=0.05)
    rival.release()


def test_the_start_up_catch_up_logs_a_failing_job_runs_the_others_and_the_next_tick_retries_it(
    sqlite_world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = sqlite_world.app
    sqlite_world.clock.set(at("2026-04-03"))

    def broken(*_args: Any) -> dict[str, int]:
        raise RuntimeError("the prune's query failed")

    monkeypatch.setattr(accounts, "prune", broken)
    service = SchedulerService(app, blocking=False, poll_seconds=0.05)
    service.run()
    try:
        assert sorted(job.id for job in service.scheduler.get_jobs()) == sorted(JOBS_BY_NAME)
        done = {(job, period) for job, period, status, _ in job_runs(app) if status == "done"}
        others = {(job.name, job.latest(sqlite_world.clock.now())) for job in JOBS if job.name != "account_prune"}
        assert done == others
        assert "job account_prune failed" in caplog.text
        assert "the prune's query failed" in caplog.text

        monkeypatch.undo()
        service._tick(JOBS_BY_NAME["account_prune"])

        assert ("account_prune", "2026-04-02", "done") in [r[:3] for r in job_runs(app)]
    finally:
        service.stop()


# -- one run per period ---------------------------------------------------------------------------


def test_run_job_does_a_period_once_and_returns_none_when_it_is_asked_again(sqlite_app: App) -> None:
    calls: list[str] = []

    def work() -> dict[str, Any]:
        calls.append("ran")
        return {"n": len(calls)}

    now = at("2026-04-01", 0, 30)
    assert runs.run_job(sqlite_app.uow, "monthly_bulletin", "2026-03", now, work) == {"n": 1}
    assert runs.run_job(sqlite_app.uow, "monthly_bulletin", "2026-03", now, work) is None
    assert calls == ["ran"]
    assert runs.last_done(sqlite_app.uow, "monthly_bulletin") == "2026-03"
    (run,) = rows(sqlite_app, JobRun, JobRun.id)
    assert (run.status, run.detail, run.started_at, run.finished_at) == ("done", {"n": 1}, now, now)

    assert runs.run_job(sqlite_app.uow, "monthly_bulletin", "2026-04", now, work) == {"n": 2}
    assert runs.last_done(sqlite_app.uow, "monthly_bulletin") == "2026-04"


def test_a_run_that_crashed_half_way_is_redone_by_the_next_call_without_doubling_what_it_wrote(
    sqlite_world: World,
) -> None:
    uow = sqlite_world.app.uow
    now = at("2026-04-01", 0, 30)

    def crash_after_the_bulletin() -> dict[str, Any]:
        bulletins.monthly_bulletin(uow, now, "2026-03")
        raise RuntimeError("killed half-way")

    with pytest.raises(RuntimeError, match="half-way"):
        runs.run_job(uow, "monthly_bulletin", "2026-03", now, crash_after_the_bulletin)
    assert job_runs(sqlite_world.app) == [("monthly_bulletin", "2026-03", "running", None)]
    assert runs.last_done(uow, "monthly_bulletin") is None

    sqlite_world.clock.set(now + timedelta(minutes=5))
    assert run_owed(sqlite_world.app, JOBS_BY_NAME["monthly_bulletin"]) == [("2026-03", {"bulletins": 0})]
    assert job_runs(sqlite_world.app) == [("monthly_bulletin", "2026-03", "done", {"bulletins": 0})]
    assert [(b.kind, b.period) for b in rows(sqlite_world.app, Bulletin, Bulletin.id)] == [("monthly", "2026-03")]
    assert len([o for o in rows(sqlite_world.app, Outbox, Outbox.id) if o.kind == "bulletin"]) == 1
    assert run_owed(sqlite_world.app, JOBS_BY_NAME["monthly_bulletin"]) == []


def test_a_scheduler_that_does_not_hold_the_lock_runs_nothing_and_stops(sqlite_app: App) -> None:
    service = SchedulerService(sqlite_app, blocking=False, poll_seconds=0.05)
    service._tick(JOBS_BY_NAME["daily_seal"])
    assert service.stop_event.is_set()
    assert job_runs(sqlite_app) == []
    with sqlite_app.reader() as uow:
        assert uow.connection.execute(sa.select(sa.func.count()).select_from(Event)).scalar() == 0


# -- one active scheduler: the file lock (SQLite) ------------------------------------------------


def test_on_sqlite_the_scheduler_lock_is_a_file_beside_the_database_naming_its_holder(
    sqlite_app: App, tmp_path: Path
) -> None:
    service = SchedulerService(sqlite_app, blocking=False)
    assert isinstance(service.leadership, FileLock)
    assert service.leadership.acquire(stop_after(5), poll_seconds=0.05)
    try:
        assert service.leadership.held()
        assert (tmp_path / "scheduler.lock").read_text() == f"{os.getpid()}\n"
    finally:
        service.stop()
    assert not service.leadership.held()


def test_two_file_locks_on_one_path_exclude_each_other_even_in_one_process(tmp_path: Path) -> None:
    path = tmp_path / "scheduler.lock"
    first, second = FileLock(path), FileLock(path)  # two open file descriptions: flock conflicts
    assert first.acquire(stop_after(5), poll_seconds=0.05)
    started = time.monotonic()
    assert second.acquire(stop_after(0.3), poll_seconds=0.05) is False
    assert time.monotonic() - started >= 0.25  # it kept trying until told to stop
    assert not second.held()
    first.release()
    assert second.acquire(stop_after(5), poll_seconds=0.05)
    second.release()


def test_a_file_lock_held_by_another_process_is_free_once_that_process_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "scheduler.lock"
    context = multiprocessing.get_context("spawn")
    held = context.Event()
    holder = context.Process(target=_hold_file_lock, args=(str(path), held), daemon=True)
    holder.start()
    try:
        assert held.wait(30), "the other process never took the lock"
        mine = FileLock(path)
        assert mine.acquire(stop_after(0.5), poll_seconds=0.05) is False
        assert path.read_text() == f"{holder.pid}\n"
        holder.kill()
        holder.join(10)
        assert mine.acquire(stop_after(5), poll_seconds=0.05)
        assert path.read_text() == f"{os.getpid()}\n"
        mine.release()
    finally:
        if holder.is_alive():
            holder.kill()
            holder.join(10)


# -- one active scheduler: the advisory lock (PostgreSQL) ----------------------------------------


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of its own (advisory locks are per database)."""
    url = fresh_postgres_database(postgres_server)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    drop_postgres_database(url)


@pytest.mark.postgres
def test_the_advisory_lock_admits_one_holder_until_it_releases_or_its_session_dies(postgres_url: str) -> None:
    engines = [make_engine(postgres_url) for _ in range(3)]
    first, second = AdvisoryLock(engines[0]), AdvisoryLock(engines[1])
    try:
        assert first.acquire(stop_after(5), poll_seconds=0.05)
        assert first.held()
        assert second.acquire(stop_after(0.3), poll_seconds=0.05) is False
        assert not second.held()
        first.release()
        assert not first.held()
        assert second.acquire(stop_after(5), poll_seconds=0.05)

        # The server ends the holder's session (as when its process is killed): the lock goes with it. Only in
        # this test's database: schedulers of other tests running beside it hold the same key in theirs.
        with engines[2].connect() as admin:
            ended = admin.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND objid = :key AND granted"
                    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"key": 0x52435343},
            ).scalars()
            assert list(ended) == [True]
            admin.commit()
        assert wait_until(lambda: not second.held(), timeout=5)
        assert first.acquire(stop_after(5), poll_seconds=0.05)
    finally:
        first.release()
        second.release()
        for engine in engines:
            engine.dispose()


@pytest.mark.postgres
def test_of_two_scheduler_processes_one_is_active_and_the_other_takes_over_soon_after_a_kill_9(
    postgres_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "RIVERCHIEF_DATABASE_URL": postgres_url, "RIVERCHIEF_DATA_DIR": str(tmp_path)}
    logs = {name: tmp_path / f"scheduler-{name}.log" for name in ("a", "b")}
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def log(name: str) -> str:
        return logs[name].read_text(encoding="utf-8", errors="replace")

    try:
        for name, path in logs.items():
            with path.open("wb") as out:
                procs[name] = subprocess.Popen(
                    [str(RIVERCHIEF), "scheduler", "--poll", "0.2"], env=env, cwd=tmp_path, stdout=out, stderr=out
                )
        both_started = wait_until(lambda: all("waiting" in log(n) for n in procs), timeout=30)
        assert both_started, {n: log(n) for n in procs}
        active = wait_until(lambda: [n for n in procs if ACTIVE.search(log(n))], timeout=20)
        assert active is not None, {n: log(n) for n in procs}
        assert len(active) == 1, {n: log(n) for n in procs}
        (leader,) = active
        (other,) = set(procs) - {leader}
        assert ACTIVE.search(log(leader)).group(1) == str(procs[leader].pid)  # type: ignore[union-attr]

        # While the leader lives, the other keeps waiting through several polls.
        assert wait_until(lambda: ACTIVE.search(log(other)), timeout=1.5) is None
        assert procs[other].poll() is None
        assert procs[leader].poll() is None, log(leader)  # the leader is alive (its catch-up did not kill it)

        procs[leader].send_signal(signal.SIGKILL)
        procs[leader].wait(10)
        took_over = wait_until(lambda: ACTIVE.search(log(other)), timeout=10)
        assert took_over is not None, log(other)
        assert took_over.group(1) == str(procs[other].pid)
        assert procs[other].poll() is None, log(other)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


# -- the jobs CLI, end to end ---------------------------------------------------------------------

THIS_MONTH = local_today(datetime.now(UTC))
BAD_PERIODS = {
    "malformed": ("monthly_bulletin", "2026-3"),
    "not over yet": ("monthly_bulletin", f"{THIS_MONTH.year}-{THIS_MONTH.month:02d}"),
    "no such month": ("monthly_bulletin", "2026-00"),  # the right shape, but not a month
}


def _start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(RIVERCHIEF), *args],
        env=env,
        cwd=env["RIVERCHIEF_DATA_DIR"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run_together(env: dict[str, str], commands: dict[str, list[str]]) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run several CLI commands at once (each is a whole interpreter start); their results by name."""
    started = {name: _start(env, *args) for name, args in commands.items()}
    done = {}
    for name, proc in started.items():
        out, err = proc.communicate(timeout=120)
        done[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A database set up and used through the CLI; every command's result by name, and the issues made."""
    home = tmp_path_factory.mktemp("cli")
    url = f"sqlite:///{home / 'riverchief.db'}"
    # The outer terminal's width (COLUMNS, set under some runners) must not fold the tables read here.
    outer = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env = {**outer, "RIVERCHIEF_DATABASE_URL": url, "RIVERCHIEF_DATA_DIR": str(home)}
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    for name, args in (("init", ["init"]), ("load", ["load", str(DATA)])):
        results |= _run_together(env, {name: args})
        assert results[name].returncode == 0, results[name].stderr

    # One issue reported three weeks ago and left: overdue today, waiting on the reporting side (太安镇).
    clock = FrozenClock(datetime.now(UTC) - timedelta(days=21))
    engine = make_engine(url)
    app = bootstrap(Settings(database_url=url, data_dir=home), clock=clock, engine=engine)
    with app.reader() as uow:
        reporter = load_actor(uow.session, REPORTER)
    stale = report_issue(app.uow(), reporter, IssueDraft(compact="QJ", title="三周前上报未处理", category="other"))
    engine.dispose()

    commands = {
        "new": ["issue", "new", "--as", REPORTER, "--title", "白马镇段排污口", "--category", "domestic_sewage"],
        "list": ["jobs", "list"],
        "run": ["jobs", "run", "monthly_bulletin", "--period", "2026-03"],
    }
    commands |= {case: ["jobs", "run", job, "--period", period] for case, (job, period) in BAD_PERIODS.items()}
    results |= _run_together(env, commands)
    assert results["new"].returncode == 0, results["new"].stderr
    fresh = results["new"].stdout.split(":")[0].strip()
    results |= _run_together(
        env,
        {
            "fire": ["issue", "fire", fresh, "hand_off", "--as", REPORTER, "--set", f"receiving={RECEIVING_CODE}"],
            "run again": ["jobs", "run", "monthly_bulletin", "--period", "2026-03"],
        },
    )
    results |= _run_together(env, {"due": ["due"]})
    check = make_engine(url)
    with check.connect() as conn:
        runs = [tuple(r) for r in conn.execute(sa.text("SELECT job, period, status FROM job_run ORDER BY id"))]
    check.dispose()
    return {"results": results, "stale": stale.issue_code, "fresh": fresh, "job_runs": runs}


def test_jobs_list_prints_every_job(cli: dict[str, Any]) -> None:
    listed = cli["results"]["list"]
    assert listed.returncode == 0, listed.stderr
    for job in JOBS:
        assert job.name in listed.stdout


def test_jobs_run_prints_its_result_then_already_done_the_second_time(cli: dict[str, Any]) -> None:
    first, again = cli["results"]["run"], cli["results"]["run again"]
    assert (first.returncode, again.returncode) == (0, 0), (first.stderr, again.stderr)
    assert first.stdout.strip() == "monthly_bulletin 2026-03: bulletins 1"
    assert again.stdout.strip() == "monthly_bulletin 2026-03: already done"
    assert ("monthly_bulletin", "2026-03", "done") in cli["job_runs"]


@pytest.mark.parametrize("case", list(BAD_PERIODS))
def test_jobs_run_refuses_a_bad_period_with_exit_3_naming_the_option_and_runs_nothing(
    cli: dict[str, Any], case: str
) -> None:
    _, period = BAD_PERIODS[case]
    result = cli["results"][case]
    message = " ".join(result.stderr.split())
    assert result.returncode == 3, message
    assert message.startswith("error: --period:"), message
    assert period in message
    assert result.stdout == ""
    assert [r for r in cli["job_runs"] if r[1] == period] == []


def test_due_lists_an_overdue_issue_first_under_the_party_it_waits_on(cli: dict[str, Any]) -> None:
    fire = cli["results"]["fire"]
    assert fire.returncode == 0, fire.stderr
    due = cli["results"]["due"]
    assert due.returncode == 0, due.stderr
    lines = due.stdout.splitlines()
    stale = next(i for i, line in enumerate(lines) if cli["stale"] in line)
    fresh = next(i for i, line in enumerate(lines) if cli["fresh"] in line)
    assert "太安镇" in lines[stale]  # reported and not handed on: the reporting side's move
    assert "超期" in lines[stale]
    assert "白马镇" in lines[fresh]  # handed off today: the receiving side's, due within three working days
    assert "超期" not in lines[fresh]
    assert stale < fresh  # overdue first


def test_what_is_owed_now_includes_every_missed_day_even_behind_one_run_by_hand(sqlite_app: App) -> None:
    seal = JOBS_BY_NAME["daily_seal"]
    now = sqlite_app.clock.now()
    today = local_today(now)
    done = [(today - timedelta(days=d)).isoformat() for d in (20, 19, 1)]  # 18 days missed, then yesterday by hand
    for period in done:
        runs.run_job(sqlite_app.uow, seal.name, period, now, lambda: {})

    owed = owed_now(sqlite_app, seal, now)

    assert owed == [(today - timedelta(days=d)).isoformat() for d in range(18, 1, -1)]
    assert [period for period, _ in run_owed(sqlite_app, seal)] == owed  # the list says what the scheduler runs


def test_a_long_run_of_owed_periods_is_folded_to_its_ends_and_a_count() -> None:
    from riverchief.cli import folded

    days = [f"2026-03-{d:02d}" for d in range(1, 32)]
    assert folded(days) == "2026-03-01, 2026-03-02 … 2026-03-31（共 31 个）"
    assert folded(days[:4]) == "2026-03-01, 2026-03-02, 2026-03-03, 2026-03-04"
    assert folded([]) == "—"
