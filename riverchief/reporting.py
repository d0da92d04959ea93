"""Report generation wired together: gather (workflow), render (reports), file (workflow.core.filing)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, Protocol

import sqlalchemy as sa

from reports import builders
from reports.render import ReportRenderer
from reports.words import DEFAULT, check_lang
from riverchief.settings import Settings
from workflow.core.clock import Clock
from workflow.core.filing import Filed, file_report
from workflow.core.models import Compact, Event, Issue, JobRun, Meeting, ReportFile, table_of
from workflow.core.uow import UnitOfWork
from workflow.jobs import bulletins, runs
from workflow.reading.figures import month_bounds

KINDS = ("followup", "revisit", "bulletin", "progress", "interview", "minutes", "ledger")

Reader = Callable[[], UnitOfWork]


class App(Protocol):
    """What report wiring needs of the wired app (``riverchief.bootstrap.App``, which files reports through here)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    def uow(self) -> UnitOfWork:
        """A fresh unit of work."""
        ...

    def reader(self) -> UnitOfWork:
        """A fresh read-only unit of work on the primary."""
        ...

    def replica_reader(self) -> UnitOfWork:
        """A fresh read-only unit of work on the read replica (the primary when none is set)."""
        ...


@cache
def renderer_for(attachments: str) -> ReportRenderer:
    """One warm renderer per process (fonts and stylesheet loaded once)."""
    from pathlib import Path

    return ReportRenderer(Path(attachments))


def renderer(app: App) -> ReportRenderer:
    """The process's renderer for this app's attachment store."""
    return renderer_for(str((app.settings.data_dir / "attachments").resolve()))


def make(
    app: App,
    kind: str,
    *,
    compact: str = "QJ",
    period: str | None = None,
    issue: str | None = None,
    meeting: str | None = None,
    fmt: str = "pdf",
    archival: bool = False,
    progress: Callable[[int, int], None] | None = None,
    reader: Reader | None = None,
    span: tuple[date, date] | None = None,
    issues: Collection[str] | None = None,
    lang: str = DEFAULT,
) -> builders.Built:
    """Render one report (not filed), read through ``reader`` (default: the primary).

    A revisit report over ``span`` (first and last day) of the chosen ``issues`` is an auditor's own; without
    them it is the scheduler's, over ``period``. ``lang`` "en" gives an English copy (the Chinese is the default).
    """
    check_lang(lang)
    with (reader or app.reader)() as uow:
        conn = uow.connection
        if kind == "revisit" and span is not None:
            first, last = span
            return builders.revisit_chosen(
                renderer(app), conn, compact, first, last, issues or (), archival=archival, lang=lang
            )
        if kind == "followup":
            assert issue is not None
            return builders.followup(renderer(app), conn, issue, archival=archival, lang=lang)
        if kind == "minutes" and meeting is not None:
            return builders.meeting_minutes(renderer(app), conn, meeting, app.clock.now(), archival=archival, lang=lang)
        if kind == "ledger":
            if fmt == "csv":
                return builders.ledger_csv(conn, compact, period, lang=lang)
            if fmt == "xlsx":
                return builders.ledger_xlsx(conn, compact, period, lang=lang)
            return builders.ledger(renderer(app), conn, compact, period, progress=progress, lang=lang)
        assert period is not None
        build = {
            "revisit": builders.revisit,
            "bulletin": builders.bulletin,
            "progress": builders.progress_bulletin,
            "interview": builders.interview,
            "minutes": builders.minutes,
        }[kind]
        return build(renderer(app), conn, compact, period, archival=archival, lang=lang)


def make_and_file(app: App, kind: str, **options: Any) -> Filed:
    """Render a report and file it in the archive (and the issue's ledger)."""
    return file_report(app.uow(), make(app, kind, **options), app.settings.data_dir)


def caught_up(app: App, job: str, period: str, *, done: bool) -> Reader:
    """Where a scheduled report run reads: the read replica once it holds the run's fence, else the primary.

    The fence is the ``job_run`` row of (``job``, ``period``), done if ``done``: committed on the primary after
    everything the run reads, so a replica that has it has the rest (a streaming replica replays commits in
    order). A replica that lags or has stalled is passed over, never filed from: a filed report is kept, its
    hash in the ledger, and its period is not run again.
    """
    job_run = table_of(JobRun)
    fence = sa.select(job_run.c.id).where(job_run.c.job == job, job_run.c.period == period)
    if done:
        fence = fence.where(job_run.c.status == "done")
    with app.replica_reader() as uow:
        held = uow.connection.execute(fence).first() is not None
    return app.replica_reader if held else app.reader


def _compacts(reader: Reader) -> list[str]:
    with reader() as uow:
        return list(
            uow.connection.execute(sa.select(table_of(Compact).c.code).order_by(table_of(Compact).c.code)).scalars()
        )


def monthly_reports(app: App, period: str) -> dict[str, int]:
    """On the 1st: each compact's bulletin PDF (after its record) and the month's joint-meeting minutes."""
    runs.run_job(
        app.uow,
        "monthly_bulletin",
        period,
        app.clock.now(),
        lambda: bulletins.monthly_bulletin(app.uow, app.clock.now(), period),
    )
    read = caught_up(app, "monthly_bulletin", period, done=True)  # the bulletin records, just made or not
    filed = 0
    start, end = month_bounds(period)
    for compact in _compacts(read):
        filed += make_and_file(app, "bulletin", compact=compact, period=period, reader=read).new
        if _convened(read, compact, start, end):
            filed += make_and_file(app, "minutes", compact=compact, period=period, reader=read).new
    for code in _meetings_without_minutes(read, start, end):
        filed += make_and_file(app, "minutes", meeting=code, reader=read).new
    return {"filed": filed}


def _convened(reader: Reader, compact: str, start: datetime, end: datetime) -> bool:
    """Whether any issue of the compact was put to a joint meeting in [start, end): no meeting, no minutes."""
    events, compacts = table_of(Event), table_of(Compact)
    with reader() as uow:
        return (
            uow.connection.execute(
                sa.select(events.c.id)
                .join(compacts, compacts.c.id == events.c.compact_id)  # the compact's own steps, by its index
                .where(
                    compacts.c.code == compact,
                    events.c.trigger == "convene",
                    events.c.occurred_at >= start,
                    events.c.occurred_at < end,
                )
                .limit(1)
            ).first()
            is not None
        )


def _meetings_without_minutes(reader: Reader, start: datetime, end: datetime) -> list[str]:
    """The meetings held in [start, end) whose own minutes were not filed yet (the coordinators may file them
    sooner, from the meeting's page)."""
    meetings, reports = table_of(Meeting), table_of(ReportFile)
    filed = sa.select(reports.c.id).where(reports.c.kind == "minutes", reports.c.period == meetings.c.code)
    with reader() as uow:
        return list(
            uow.connection.execute(
                sa.select(meetings.c.code)
                .where(
                    meetings.c.status == "held",
                    meetings.c.starts_at >= start,
                    meetings.c.starts_at < end,
                    ~filed.exists(),
                )
                .order_by(meetings.c.starts_at)
            ).scalars()
        )


def quarterly_reports(app: App, period: str) -> dict[str, int]:
    """On the first day of a quarter: each compact's interview list (after its record), filed as a report."""
    runs.run_job(
        app.uow,
        "quarterly_interviews",
        period,
        app.clock.now(),
        lambda: bulletins.quarterly_interviews(app.uow, app.clock.now(), period),
    )
    read = caught_up(app, "quarterly_interviews", period, done=True)  # the interview lists, just made or not
    return {
        "filed": sum(
            make_and_file(app, "interview", compact=c, period=period, reader=read).new for c in _compacts(read)
        )
    }


def daily_reports(app: App, period: str) -> dict[str, int]:
    """Each day: follow-up reports of the issues closed that day, and revisit reports of the revisits done."""
    start, _ = month_bounds(period[:7])
    day_start = start + timedelta(days=int(period[8:10]) - 1)
    day_end = day_start + timedelta(days=1)
    events, issues, compacts = table_of(Event), table_of(Issue), table_of(Compact)
    read = caught_up(app, "daily_reports", period, done=False)  # the run's claim: the day ended before it
    with read() as uow:
        closed = list(
            uow.connection.execute(
                sa.select(issues.c.code)
                .distinct()
                .join(events, events.c.issue_id == issues.c.id)
                .where(events.c.trigger == "close", events.c.occurred_at >= day_start, events.c.occurred_at < day_end)
                .order_by(issues.c.code)
            ).scalars()
        )
        revisited = list(
            uow.connection.execute(
                sa.select(compacts.c.code)
                .distinct()
                .join(issues, issues.c.compact_id == compacts.c.id)
                .join(events, events.c.issue_id == issues.c.id)
                .where(
                    events.c.trigger.in_(("no_rebound", "rebound")),
                    events.c.occurred_at >= day_start,
                    events.c.occurred_at < day_end,
                )
            ).scalars()
        )
    filed = sum(make_and_file(app, "followup", issue=code, reader=read).new for code in closed)
    filed += sum(make_and_file(app, "revisit", compact=code, period=period, reader=read).new for code in revisited)
    return {"followups": len(closed), "revisit_batches": len(revisited), "filed": filed}
