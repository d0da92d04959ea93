"""The scheduler service: a few periodic jobs on APScheduler, run by one active scheduler at a time.

APScheduler only says *when* to look; what has been done lives in the
``job_run`` table, so a restart never acts twice and a period missed while
no scheduler ran is caught up exactly once, whatever the job store remembers
(the jobs are kept in memory for that reason). A PostgreSQL advisory lock,
or a file lock beside the SQLite database, makes every other scheduler wait
until the active one dies.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

from workflow.core.calendar import local_today
from workflow.core.clock import SHANGHAI
from workflow.jobs import bulletins, calendars, meetings, prunes, runs, sweeps

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler
    from apscheduler.triggers.base import BaseTrigger
    from sqlalchemy.engine import Engine

    from riverchief.bootstrap import App

log = logging.getLogger(__name__)

# pg_advisory_lock key: "RCSC" — one scheduler per database.
ADVISORY_KEY = 0x52435343


# -- periods --------------------------------------------------------------------------------------


def _month(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


def _quarter(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def _previous_month(day: date) -> date:
    return day.replace(day=1) - timedelta(days=1)


def _previous_quarter_end(day: date) -> date:
    first_month = (day.month - 1) // 3 * 3 + 1
    return day.replace(month=first_month, day=1) - timedelta(days=1)


def _days_after(last: str, until: date) -> list[str]:
    day, out = date.fromisoformat(last) + timedelta(days=1), []
    while day <= until:
        out.append(day.isoformat())
        day += timedelta(days=1)
    return out


def _cycles_after(last: str, until: str, separator: str, per_year: int, label: str) -> list[str]:
    """The periods after ``last`` up to ``until``, for periods that count ``per_year`` to a year."""
    year, number = (int(x) for x in last.split(separator))
    out: list[str] = []
    while True:
        number += 1
        if number > per_year:
            year, number = year + 1, 1
        period = f"{year}{separator}{label.format(number)}"
        if period > until:
            return out
        out.append(period)


def _months_after(last: str, until: date) -> list[str]:
    return _cycles_after(last, _month(until), "-", 12, "{:02d}")


def _quarters_after(last: str, until: date) -> list[str]:
    return _cycles_after(last, _quarter(until), "-Q", 4, "{}")


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """A job, when APScheduler wakes it, and which periods are owed at a given time."""

    name: str
    summary: str
    trigger: Callable[[], Any]
    latest: Callable[[datetime], str]  # the newest period owed at ``now``
    after: Callable[[str, date], list[str]] | None  # periods after a done one, up to a day; None: sweeps
    work: Callable[[App, datetime, str], dict[str, Any]]

    def owed(self, last_done: str | None, now: datetime) -> list[str]:
        """The periods to run now, oldest first: every missed one once, or just the latest."""
        latest = self.latest(now)
        if last_done is None or self.after is None:
            return [] if last_done == latest else [latest]
        return [p for p in self.after(last_done, local_today(now)) if p <= latest]


def _minute(now: datetime) -> str:
    return now.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def _quarter_hour(now: datetime) -> str:
    local = now.astimezone(SHANGHAI)
    return local.replace(minute=local.minute // 15 * 15).strftime("%Y-%m-%dT%H:%M")


# APScheduler is imported when the scheduler runs, and the report renderer (WeasyPrint) when a report job runs:
# ``riverchief jobs list`` and ``jobs run`` of another job read this table without them.


def _every(minutes: int) -> BaseTrigger:
    from apscheduler.triggers.interval import IntervalTrigger

    return IntervalTrigger(minutes=minutes)


def _cron(**fields: str | int) -> BaseTrigger:
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger(timezone=SHANGHAI, **fields)


def _daily_reports(app: App, _now: datetime, period: str) -> dict[str, Any]:
    from riverchief import reporting

    return reporting.daily_reports(app, period)


def _monthly_reports(app: App, _now: datetime, period: str) -> dict[str, Any]:
    from riverchief import reporting

    return reporting.monthly_reports(app, period)


def _quarterly_reports(app: App, _now: datetime, period: str) -> dict[str, Any]:
    from riverchief import reporting

    return reporting.quarterly_reports(app, period)


def _account_prune(app: App, now: datetime, _period: str) -> dict[str, Any]:
    from workflow.accounts.signin import prune

    return {**prune(app.uow(), now), **prunes.prune_idempotency_keys(app.uow(), now)}


JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        "deadline_sweep",
        "reminders, escalations and overdue notices (every minute)",
        partial(_every, 1),
        _minute,
        None,
        lambda app, now, _period: sweeps.deadline_sweep(app.uow, now),
    ),
    PeriodicJob(
        "revisit_sweep",
        "due and overdue revisits, archiving after clean revisits (every 15 minutes)",
        partial(_every, 15),
        _quarter_hour,
        None,
        lambda app, now, _period: sweeps.revisit_sweep(app.uow, now),
    ),
    PeriodicJob(
        "meeting_sweep",
        "joint meetings the day before, action items coming due or overdue (every 15 minutes)",
        partial(_every, 15),
        _quarter_hour,
        None,
        lambda app, now, _period: meetings.meeting_sweep(app.uow, now),
    ),
    PeriodicJob(
        "daily_seal",
        "seal yesterday's ledger (00:10 daily)",
        partial(_cron, hour=0, minute=10),
        lambda now: (local_today(now) - timedelta(days=1)).isoformat(),
        _days_after,
        lambda app, now, period: runs.daily_seal(app.uow, now, period),
    ),
    PeriodicJob(
        "monthly_bulletin",
        "月通报 of last month per compact (1st of the month, 00:30)",
        partial(_cron, day=1, hour=0, minute=30),
        lambda now: _month(_previous_month(local_today(now))),
        _months_after,
        lambda app, now, period: bulletins.monthly_bulletin(app.uow, now, period),
    ),
    PeriodicJob(
        "quarterly_interviews",
        "季约谈 list of last quarter per compact (first day of a quarter, 01:00)",
        partial(_cron, month="1,4,7,10", day=1, hour=1, minute=0),
        lambda now: _quarter(_previous_quarter_end(local_today(now))),
        _quarters_after,
        lambda app, now, period: bulletins.quarterly_interviews(app.uow, now, period),
    ),
    PeriodicJob(
        "daily_reports",
        "follow-up reports of issues closed, revisit reports of revisits done (02:30 daily)",
        partial(_cron, hour=2, minute=30),
        lambda now: (local_today(now) - timedelta(days=1)).isoformat(),
        _days_after,
        _daily_reports,
    ),
    PeriodicJob(
        "monthly_reports",
        "月通报 PDF and joint-meeting minutes of last month (1st of the month, 02:00)",
        partial(_cron, day=1, hour=2, minute=0),
        lambda now: _month(_previous_month(local_today(now))),
        _months_after,
        _monthly_reports,
    ),
    PeriodicJob(
        "calendar_check",
        "working-day calendar: re-read, recompute deadlines, warn of years it does not know (00:20 daily)",
        partial(_cron, hour=0, minute=20),
        lambda now: local_today(now).isoformat(),
        None,
        lambda app, now, period: calendars.calendar_check(app.uow, now, period),
    ),
    PeriodicJob(
        "quarterly_reports",
        "季约谈 list of last quarter per compact, filed as a PDF (first day of a quarter, 02:15)",
        partial(_cron, month="1,4,7,10", day=1, hour=2, minute=15),
        lambda now: _quarter(_previous_quarter_end(local_today(now))),
        _quarters_after,
        _quarterly_reports,
    ),
    PeriodicJob(
        "account_prune",
        "sign-in attempts, ended sessions and idempotency keys older than 30 days (03:00 daily)",
        partial(_cron, hour=3, minute=0),
        lambda now: (local_today(now) - timedelta(days=1)).isoformat(),
        None,
        _account_prune,
    ),
)
JOBS_BY_NAME = {job.name: job for job in JOBS}


def caught_up_to(job: PeriodicJob, done: set[str], now: datetime) -> str | None:
    """The last period before the first gap in what is done: a period run by hand later must not hide a missed one."""
    if not done:
        return None
    if job.after is None:
        return max(done)
    last = min(done)
    for period in job.after(last, local_today(now)):
        if period not in done:
            break
        last = period
    return last


def valid_period(period: str) -> bool:
    """True for a real minute, day, month or quarter ("2026-02-30", "2026-00" and "2026-Q5" are not)."""
    try:
        if "T" in period:
            datetime.strptime(period, "%Y-%m-%dT%H:%M")
        elif "-Q" in period:
            year, quarter = period.split("-Q")
            return len(year) == 4 and year.isdigit() and quarter in ("1", "2", "3", "4")
        elif len(period) == 7:
            datetime.strptime(period, "%Y-%m")
        else:
            date.fromisoformat(period)
    except ValueError:
        return False
    return True


def owed_now(app: App, job: PeriodicJob, now: datetime) -> list[str]:
    """The periods of ``job`` the scheduler would run now, oldest first: every one missed and not done since."""
    done = runs.done_periods(app.uow, job.name)
    return [period for period in job.owed(caught_up_to(job, done, now), now) if period not in done]


def run_owed(app: App, job: PeriodicJob) -> list[tuple[str, dict[str, Any]]]:
    """Run every period of ``job`` owed now that is not done yet; returns what ran."""
    now = app.clock.now()
    done: list[tuple[str, dict[str, Any]]] = []
    for period in owed_now(app, job, now):
        result = runs.run_job(app.uow, job.name, period, now, partial(job.work, app, now, period))
        if result is not None:
            log.info("%s %s: %s", job.name, period, result)
            done.append((period, result))
    return done


def catch_up(app: App) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Run, once each, every period missed while no scheduler ran; a failing job is logged and left to its tick."""
    ran: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for job in JOBS:
        try:
            ran[job.name] = run_owed(app, job)
        except Exception:  # as in the tick: one failed job must not keep the others (or the scheduler) from running
            log.exception("job %s failed", job.name)
            ran[job.name] = []
    return ran


# -- one active scheduler -------------------------------------------------------------------------


class Leadership(Protocol):
    """Who may run the jobs: exactly one process at a time."""

    def acquire(self, stop: threading.Event, poll_seconds: float = 2.0) -> bool: ...
    def held(self) -> bool: ...
    def release(self) -> None: ...


class AdvisoryLock:
    """A PostgreSQL session advisory lock, held on its own connection; it dies with the process."""

    def __init__(self, engine: Engine, key: int = ADVISORY_KEY) -> None:
        self._engine = engine
        self._key = key
        self._conn: sa.Connection | None = None

    def acquire(self, stop: threading.Event, poll_seconds: float = 2.0) -> bool:
        """Wait for the lock until ``stop`` is set; True once held."""
        while not stop.is_set():
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar():
                self._conn = conn
                return True
            conn.close()
            stop.wait(poll_seconds)
        return False

    def held(self) -> bool:
        """True while the lock's connection is alive."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(sa.text("SELECT 1"))
        except sa.exc.DBAPIError:
            self._conn = None
            return False
        return True

    def release(self) -> None:
        """Give the lock up (closing the connection does it too)."""
        if self._conn is not None:
            try:
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            finally:
                self._conn.close()
                self._conn = None


class FileLock:
    """An exclusive lock on a file beside the SQLite database; the kernel frees it when the process dies."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def acquire(self, stop: threading.Event, poll_seconds: float = 2.0) -> bool:
        """Wait for the lock until ``stop`` is set; True once held."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        while not stop.is_set():
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                stop.wait(poll_seconds)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
            return True
        return False

    def held(self) -> bool:
        """True once acquired (a file lock cannot be lost while the process lives)."""
        return self._fd is not None

    def release(self) -> None:
        """Unlock."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def leadership_for(app: App) -> Leadership:
    """The advisory lock on PostgreSQL, a file lock in the data folder otherwise."""
    if app.engine.dialect.name == "postgresql":
        return AdvisoryLock(app.engine)
    database = app.engine.url.database
    folder = Path(database).resolve().parent if database and database != ":memory:" else app.settings.data_dir
    return FileLock(folder / "scheduler.lock")


class SchedulerService:
    """Waits to become the one active scheduler, catches up, then runs the jobs on their triggers."""

    def __init__(self, app: App, *, blocking: bool = True, poll_seconds: float = 2.0) -> None:
        self.app = app
        self.poll_seconds = poll_seconds
        self.stop_event = threading.Event()
        self.leadership = leadership_for(app)
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.schedulers.blocking import BlockingScheduler

        scheduler_cls: type[BaseScheduler] = BlockingScheduler if blocking else BackgroundScheduler
        self.scheduler = scheduler_cls(
            timezone=SHANGHAI,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        )

    def _tick(self, job: PeriodicJob) -> None:
        if not self.leadership.held():
            log.error("lost the scheduler lock; stopping so another scheduler can take over")
            self.stop()
            return
        try:
            run_owed(self.app, job)
        except Exception:  # one failed run must not stop the others; it is retried next tick
            log.exception("job %s failed", job.name)

    def run(self) -> None:
        """Block until this process leads, catch up, then schedule the jobs (returns when stopped)."""
        log.info("waiting to become the active scheduler")
        if not self.leadership.acquire(self.stop_event, self.poll_seconds):
            return
        log.info("active scheduler (pid %s); catching up", os.getpid())
        catch_up(self.app)
        for job in JOBS:
            self.scheduler.add_job(self._tick, job.trigger(), args=[job], id=job.name, name=job.summary)
        self.scheduler.start()

    def stop(self) -> None:
        """Stop the jobs and give up the lock."""
        self.stop_event.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.leadership.release()
