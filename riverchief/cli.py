"""The ``riverchief`` command line."""

from __future__ import annotations

import math
import re
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import typer.core
from rich.console import Console
from rich.markup import escape
from typer._click.core import Context as ClickContext
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from riverchief.patrol_cli import case_app, lead_app, patrol_app
from riverchief.present import terminal
from workflow.core.errors import Conflict, InvalidTransition, NotFound, NotPermitted, ValidationFailed, WorkflowError
from workflow.core.text import text_problem

if TYPE_CHECKING:
    from riverchief.bootstrap import App

# Each command imports what it needs when it runs: `--help`, and every command, starts without the database
# layer, the web stack, the report renderer or the scheduler unless it uses them (tests/e2e/test_cli_startup.py).

app = typer.Typer(no_args_is_help=True, help="riverchief: cross-border river issues from hand-off to revisit.")
issue_app = typer.Typer(no_args_is_help=True, help="Report, move and look at issues.")
ledger_app = typer.Typer(no_args_is_help=True, help="The ledger (台账): verify and seal.")
app.add_typer(issue_app, name="issue")
jobs_app = typer.Typer(no_args_is_help=True, help="The scheduler's periodic jobs.")
app.add_typer(ledger_app, name="ledger")
calendar_app = typer.Typer(no_args_is_help=True, help="The working-day calendar (工作日历): its years and deadlines.")
app.add_typer(calendar_app, name="calendar")
app.add_typer(jobs_app, name="jobs")
outbox_app = typer.Typer(no_args_is_help=True, help="Notifications waiting, sent and dead-lettered.")
app.add_typer(outbox_app, name="outbox")
app.add_typer(patrol_app, name="patrol")  # patrols, pairings, completion, funding (riverchief/patrol_cli.py)
app.add_typer(case_app, name="case")
app.add_typer(lead_app, name="lead")

# The terminal's width (or COLUMNS's); piped output gets room for the timeline tables instead of rich's 80 columns.
console = terminal()
# An error is one line however narrow the terminal or pipe; progress bars go here too.
err_console = Console(stderr=True, soft_wrap=True)

# One exit code per kind of refusal, so scripts can tell them apart (a subclass exits as its kind: TooLarge as 3).
EXIT_CODES: dict[type[WorkflowError], int] = {
    ValidationFailed: 3,
    NotFound: 4,
    InvalidTransition: 5,
    NotPermitted: 6,
    Conflict: 7,
}


def exit_code(exc: WorkflowError) -> int:
    """The exit code of a refusal: its own kind's, or the nearest base's; 2 for any other refusal."""
    return next((EXIT_CODES[kind] for kind in type(exc).__mro__ if kind in EXIT_CODES), 2)


def check_arguments(argv: list[str]) -> None:
    """Refuse an argument no database stores (a lone surrogate, from bytes that are not UTF-8), naming its option."""
    for i, argument in enumerate(argv):
        reason = text_problem(argument)
        if reason is None:
            continue
        option, sep, _ = argument.partition("=")
        if argument.startswith("--") and sep and text_problem(option) is None:
            raise ValidationFailed(option, reason)
        before = argv[i - 1] if i else ""
        raise ValidationFailed(before if before.startswith("-") else f"argument {i + 1}", reason)


def _finite(field: str, value: float, bound: float) -> None:
    if not math.isfinite(value) or not -bound <= value <= bound:
        raise ValidationFailed(field, f"必须在 -{bound:g} 与 {bound:g} 之间 (must be from -{bound:g} to {bound:g})")


def _app() -> App:
    from riverchief.bootstrap import bootstrap

    return bootstrap()


@app.command()
def init() -> None:
    """Create the database, or upgrade it to the newest schema."""
    from riverchief.migrate import upgrade

    wired = _app()
    before, after = upgrade(wired.engine)
    where = wired.engine.url.render_as_string(hide_password=True)
    if before == after:
        console.print(f"database {where} is up to date (revision {after})")
    else:
        console.print(f"database {where}: {before or 'empty'} → {after}")


@app.command()
def load(file: Annotated[Path, typer.Argument(help="YAML or JSON reference data")]) -> None:
    """Load jurisdictions, people, compacts, rivers and segments (an upsert by code)."""
    from workflow.core.reference import load as load_reference
    from workflow.core.reference import parse

    counts = load_reference(_app().uow(), parse(file))
    console.print("loaded " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))


def _pairs(values: list[str]) -> dict[str, str]:
    payload: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationFailed("--set", f"{item!r} is not key=value")
        payload[key.strip()] = value
    return payload


@issue_app.command("new")
def issue_new(
    actor: Annotated[str, typer.Option("--as", help="the reporting person's code")],
    title: Annotated[str, typer.Option()],
    category: Annotated[str, typer.Option(help="e.g. domestic_sewage, livestock, sand_mining")],
    compact: Annotated[str, typer.Option()] = "QJ",
    description: Annotated[str, typer.Option()] = "",
    segment: Annotated[str | None, typer.Option()] = None,
    place: Annotated[str, typer.Option()] = "",
    lon: Annotated[float | None, typer.Option()] = None,
    lat: Annotated[float | None, typer.Option()] = None,
    difficulty: Annotated[str, typer.Option()] = "normal",
    flag: Annotated[bool, typer.Option("--flag", help="watch a sensitive point (看) instead of reporting")] = False,
) -> None:
    """Report a new problem (or flag a sensitive point)."""
    from riverchief.present import state_label
    from workflow.core.actors import load_actor
    from workflow.core.services import IssueDraft, report_issue

    wired = _app()
    with wired.reader() as uow:
        who = load_actor(uow.session, actor)
    draft = IssueDraft(
        compact=compact,
        title=title,
        category=category,
        description=description,
        difficulty=difficulty,
        place=place,
        lon=lon,
        lat=lat,
        segment=segment,
    )
    result = report_issue(wired.uow(), who, draft, flag=flag)
    console.print(
        f"{result.issue_code}: {state_label(result.state)}, version {result.version}, {result.notified} to notify"
    )


@issue_app.command("fire")
def issue_fire(
    issue: Annotated[str, typer.Argument(help="issue code, e.g. QJ-2026-0018")],
    trigger: Annotated[str, typer.Argument(help="e.g. hand_off, accept, pass_check")],
    actor: Annotated[str, typer.Option("--as", help="the acting person's code")],
    sets: Annotated[list[str] | None, typer.Option("--set", help="payload field, key=value; repeatable")] = None,
    expected_version: Annotated[int | None, typer.Option(help="refuse if the issue moved past this version")] = None,
) -> None:
    """Fire a trigger on an issue."""
    from riverchief.present import state_label
    from workflow.core.actors import load_actor
    from workflow.core.payload import check_int
    from workflow.core.services import apply

    check_int("--expected-version", expected_version)
    wired = _app()
    with wired.reader() as uow:
        who = load_actor(uow.session, actor)
    result = apply(wired.uow(), issue, trigger, who, _pairs(sets or []), expected_version)
    console.print(
        f"{result.issue_code}: {state_label(result.from_state)} → {state_label(result.state)}, "
        f"version {result.version}, {result.notified} to notify"
    )


@issue_app.command("attach")
def issue_attach(
    issue: Annotated[str, typer.Argument(help="issue code")],
    file: Annotated[Path, typer.Argument(help="a JPEG, PNG or WebP photo, or a PDF")],
    actor: Annotated[str, typer.Option("--as", help="the person adding it")],
    caption: Annotated[str | None, typer.Option(help="what it shows")] = None,
) -> None:
    """Add a photo or document to an issue as evidence (recorded in its ledger)."""
    from riverchief.present import local
    from workflow.core.actors import load_actor
    from workflow.core.evidence import add_evidence

    wired = _app()
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise ValidationFailed("file", f"{file} cannot be read: {exc.strerror}") from exc
    with wired.reader() as uow:
        who = load_actor(uow.session, actor)
    stored = add_evidence(
        wired.uow(),
        issue,
        who,
        content,
        file.name,
        wired.settings.data_dir,
        caption=caption,
        max_bytes=wired.settings.upload_max_bytes,
    )
    facts = stored.facts
    where = f", taken {local(facts.taken_at)}" if facts.taken_at else ""
    where += f" at {facts.lon:.5f}, {facts.lat:.5f}" if facts.lat is not None and facts.lon is not None else ""
    state = "already on the issue" if stored.step is None else f"recorded as step {stored.step.version}"
    console.print(f"{issue}: {stored.content_type} sha256 {stored.sha256[:16]}… {state}{where}")


@issue_app.command("show")
def issue_show(issues: Annotated[list[str], typer.Argument(help="issue codes", show_default=False)]) -> None:
    """Issues and their timelines from the ledger, one after another."""
    from riverchief.present import print_issue
    from workflow.reading.issues import issue_view

    with _app().reader() as uow:
        views = [issue_view(uow.session, issue) for issue in issues]  # all found before any is printed
    for i, view in enumerate(views):
        if i:
            console.print()
        print_issue(console, view)


@issue_app.command("list")
def issue_list(
    compact: Annotated[str | None, typer.Option()] = None,
    state: Annotated[str | None, typer.Option(help="a state, or a phase: kan, xun, cha, ban, du")] = None,
    overdue: Annotated[bool, typer.Option("--overdue")] = False,
) -> None:
    """Issues, newest first."""
    from riverchief.present import print_issue_list
    from states.chart import PHASES
    from workflow.reading.issues import list_issues

    phase = state if state in {p.name for p in PHASES} else None
    wired = _app()
    with wired.reader() as uow:
        rows = list_issues(
            uow.session,
            now=wired.clock.now(),
            compact=compact,
            states=[state] if state and not phase else (),
            phase=phase,
            overdue=overdue,
        )
    print_issue_list(console, rows)


@ledger_app.command("verify")
def ledger_verify(
    jobs: Annotated[
        int, typer.Option(min=1, max=64, help="processes checking the chains by issue (the seals are checked once)")
    ] = 1,
) -> None:
    """Check every issue's hash chain, replay, and seal; name the first broken event of each bad issue."""
    import sqlalchemy as sa
    from rich.progress import Progress

    from riverchief.present import print_verify
    from workflow.core.filing import verify_reports
    from workflow.core.ledger import verify
    from workflow.core.models import Issue, table_of

    issue = table_of(Issue)
    wired = _app()
    with wired.reader() as uow:
        ids: list[int] = list(uow.connection.execute(sa.select(issue.c.id).order_by(issue.c.id)).scalars())
        with Progress(console=err_console, transient=True) as progress:
            task = progress.add_task("verifying", total=len(ids))
            if jobs > 1:
                from riverchief.verifying import verify_in_parallel

                report = verify_in_parallel(wired, ids, jobs, lambda n: progress.advance(task, n))
            else:
                report = verify(uow.session, progress=lambda: progress.advance(task))
        archive_problems = verify_reports(uow.connection, wired.settings.data_dir)
    print_verify(console, report)
    for note in report.notes:
        console.print(f"  [yellow]![/yellow] {escape(str(note))}")
    for problem in archive_problems:
        console.print(f"  [red]✗[/red] {escape(problem)}")
    if not report.ok or archive_problems:
        raise typer.Exit(1)


@ledger_app.command("seal")
def ledger_seal(day: Annotated[str | None, typer.Option(help="YYYY-MM-DD, default yesterday")] = None) -> None:
    """Seal a day: hash every chain head as it stood at the end of that day."""
    from datetime import timedelta

    from workflow.core.calendar import local_today
    from workflow.core.ledger import is_void, seal_day
    from workflow.core.payload import check_day

    wired = _app()
    try:
        target = date.fromisoformat(day) if day else local_today(wired.clock.now()) - timedelta(days=1)
    except ValueError as exc:
        raise ValidationFailed("--day", f"{day!r} is not a date (YYYY-MM-DD)") from exc
    check_day("--day", target)
    with wired.uow() as uow:
        try:
            seal = seal_day(uow.session, target, wired.clock.now())
        except ValidationFailed as exc:
            raise ValidationFailed("--day", exc.reason) from exc
        uow.commit()
    console.print(f"seal {seal.day}: {seal.chains} chains, {seal.hash}")
    if is_void(seal.day, seal.created_at):
        console.print(f"  [yellow]![/yellow] void: sealed on {local_today(seal.created_at)}, before the day ended")


@calendar_app.command("show")
def calendar_show() -> None:
    """Which years the calendar knows and from where, and the years pending deadlines run into that it does not."""
    from workflow.core.calendar import package_years
    from workflow.core.deadlines import unknown_deadline_years

    wired = _app()
    now = wired.clock.now()
    for source, years in package_years().items():
        console.print(f"{source}: {_year_span(years)}")
    overrides = [y for y in range(1990, 2100) if wired.calendar.source_of(y) == "override"]
    console.print(f"override: {_year_span(overrides)}")
    with wired.reader() as uow:
        unknown = unknown_deadline_years(uow.connection, wired.calendar, now)
    for year, by_compact in unknown.items():
        err_console.print(
            f"[yellow]![/yellow] 工作日历缺少 {year} 年节假日安排 no holiday data for {year}: "
            f"{sum(by_compact.values())} pending deadline(s) counted Monday-Friday"
        )


def _year_span(years: list[int]) -> str:
    return f"{years[0]}-{years[-1]}" if len(years) > 1 else (str(years[0]) if years else "-")


@calendar_app.command("refresh")
def calendar_refresh() -> None:
    """Read the calendar files again and recompute every pending working-day deadline (a ledger event each)."""
    from workflow.jobs.calendars import recompute_deadlines, warn_unknown_years

    wired = _app()
    now = wired.clock.now()
    counts = recompute_deadlines(wired.uow, now)
    console.print(f"deadlines recomputed 已重算时限: {counts['rescheduled']}, skipped: {counts['skipped']}")
    for year, deadlines in warn_unknown_years(wired.uow, now).items():
        err_console.print(
            f"[yellow]![/yellow] 工作日历缺少 {year} 年节假日安排 no holiday data for {year}: "
            f"{deadlines} pending deadline(s) counted Monday-Friday"
        )


@app.command()
def scheduler(
    poll: Annotated[float, typer.Option(help="seconds between tries for the scheduler lock")] = 2.0,
) -> None:
    """Run the scheduler: wait to be the one active scheduler, catch up, then run the jobs."""
    import logging
    import signal

    from riverchief.scheduler import SchedulerService

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service = SchedulerService(_app(), blocking=True, poll_seconds=poll)
    signal.signal(signal.SIGTERM, lambda *_: service.stop())
    try:
        service.run()
    except KeyboardInterrupt:
        service.stop()


@jobs_app.command("list")
def jobs_list() -> None:
    """Each job, when it runs, the last period done and what is owed now."""
    from rich.table import Table

    from riverchief.scheduler import JOBS, owed_now
    from workflow.jobs.runs import last_done

    wired = _app()
    now = wired.clock.now()
    table = Table(title="定时任务 jobs")
    for column in ("job", "what", "last done", "owed now"):
        table.add_column(column)
    for job in JOBS:
        table.add_row(job.name, job.summary, last_done(wired.uow, job.name) or "—", folded(owed_now(wired, job, now)))
    console.print(table)


def folded(periods: list[str], keep: int = 3) -> str:
    """Periods as a list; a long run folded to its ends and a count.

    ``2026-03-01, 2026-03-02 … 2026-03-31（共 31 个）``
    """
    if not periods:
        return "—"
    if len(periods) <= keep + 1:
        return ", ".join(periods)
    return f"{', '.join(periods[: keep - 1])} … {periods[-1]}（共 {len(periods)} 个）"


@jobs_app.command("run")
def jobs_run(
    job: Annotated[str, typer.Argument(help="a job name from `riverchief jobs list`")],
    period: Annotated[str | None, typer.Option(help="the period, e.g. 2026-03 or 2026-Q1 or 2026-03-02")] = None,
) -> None:
    """Run a job by hand for a period (idempotent: a period done is not done again)."""
    from riverchief.scheduler import JOBS_BY_NAME
    from workflow.jobs.runs import run_job

    spec = JOBS_BY_NAME.get(job)
    if spec is None:
        raise ValidationFailed("job", f"unknown job {job!r}; jobs: {', '.join(JOBS_BY_NAME)}")
    wired = _app()
    now = wired.clock.now()
    target = period or spec.latest(now)
    _check_period(spec.latest(now), target)
    result = run_job(wired.uow, job, target, now, lambda: spec.work(wired, now, target))
    if result is None:
        console.print(f"{job} {target}: already done")
    else:
        console.print(f"{job} {target}: " + ", ".join(f"{k} {v}" for k, v in result.items()))


def _check_period(example: str, period: str, *, latest: bool = True) -> None:
    from riverchief.scheduler import valid_period
    from workflow.core.payload import check_day

    shape = re.sub(r"\d", r"\\d", example)
    if not re.fullmatch(shape, period) or not valid_period(period):
        raise ValidationFailed("--period", f"{period!r} is not a period like {example!r}")
    check_day("--period", date(int(period[:4]), 1, 1))
    if latest and period > example:
        raise ValidationFailed("--period", f"{period} has not ended yet (the latest period owed is {example})")


@app.command()
def due(
    compact: Annotated[str | None, typer.Option()] = None,
    days: Annotated[int, typer.Option(help="working days ahead to include")] = 3,
) -> None:
    """What is due or overdue, by the party it waits on."""
    from riverchief.present import print_due
    from workflow.core.payload import check_int
    from workflow.reading.issues import due_by_party

    check_int("--days", days, 0, 366)
    wired = _app()
    with wired.reader() as uow:
        rows = due_by_party(
            uow.connection, now=wired.clock.now(), calendar=wired.calendar, compact=compact, working_days=days
        )
    print_due(console, rows)


@app.command()
def dispatch(
    once: Annotated[bool, typer.Option("--once", help="deliver what is due now, then exit")] = False,
    idle: Annotated[float, typer.Option(help="seconds to rest when the queue is empty")] = 2.0,
) -> None:
    """Deliver the outbox: email, webhooks, group robots and the in-app inbox."""
    import logging
    import signal
    import threading

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    dispatcher = _app().dispatcher()
    if once:
        outcomes = dispatcher.drain()
        console.print("dispatched: " + (", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())) or "nothing due"))
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        dispatcher.run(stop, idle)
    except KeyboardInterrupt:
        stop.set()


@outbox_app.command("list")
def outbox_list(
    dead: Annotated[bool, typer.Option("--dead", help="only dead-lettered rows")] = False,
    status: Annotated[str | None, typer.Option(help="pending, sent or dead")] = None,
) -> None:
    """Outbox rows, newest first."""
    from rich.table import Table

    from riverchief.present import local
    from workflow.core.outbox import list_rows

    if status not in (None, "pending", "sent", "dead"):
        raise ValidationFailed("--status", f"{status!r} is not one of pending, sent, dead")
    with _app().reader() as uow:
        rows = list_rows(uow.connection, status="dead" if dead else status)
    table = Table(title="通知队列 outbox")
    for column in ("id", "kind", "status", "attempts", "to", "issue", "next attempt", "last error"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            str(r.id),
            r.kind,
            r.status,
            str(r.attempts),
            r.recipient,
            r.issue_code or "—",
            local(r.next_attempt_at),
            escape(r.last_error or ""),
        )
    console.print(table)


@outbox_app.command("retry")
def outbox_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="dead-lettered row ids")] = None,
    all_dead: Annotated[bool, typer.Option("--all", help="every dead-lettered row")] = False,
) -> None:
    """Put dead-lettered rows back in the queue."""
    from workflow.core.outbox import requeue
    from workflow.core.payload import check_int

    if not ids and not all_dead:
        raise ValidationFailed("ids", "name the rows to retry, or pass --all")
    for row_id in ids or []:
        check_int("ids", row_id, 1)
    wired = _app()
    with wired.uow() as uow:
        count = requeue(uow.connection, None if all_dead else ids, wired.clock.now())
        uow.commit()
    console.print(f"re-queued {count} row(s)")


@app.command()
def inbox(
    person: Annotated[str, typer.Argument(help="the person's code")],
    unread: Annotated[bool, typer.Option("--unread")] = False,
    mark_read: Annotated[bool, typer.Option("--mark-read", help="mark what is shown as read")] = False,
) -> None:
    """A person's in-app inbox."""
    from riverchief.present import local
    from workflow.core.actors import load_actor
    from workflow.core.outbox import inbox as read_inbox
    from workflow.core.outbox import mark_read as mark

    wired = _app()
    with wired.uow() as uow:
        load_actor(uow.session, person)
        entries = read_inbox(uow.connection, person, unread_only=unread)
        for e in entries:
            flag = " " if e.read_at else "[bold]●[/bold]"
            when = (
                f"发生于 {local(e.occurred_at)}，送达 {local(e.created_at)}" if e.occurred_at else local(e.created_at)
            )
            console.print(f"{flag} #{e.id} {when} [bold]{escape(e.subject)}[/bold]")
            console.print("   " + escape(e.body.splitlines()[2] if len(e.body.splitlines()) > 2 else e.body))
        if mark_read and entries:
            mark(uow.connection, person, [e.id for e in entries], wired.clock.now())
            uow.commit()
    if not entries:
        console.print("no messages")


@app.command()
def report(
    kind: Annotated[str, typer.Argument(help="followup, revisit, bulletin, progress, minutes or ledger")],
    issue: Annotated[list[str] | None, typer.Argument(help="issue codes (followup)")] = None,
    compact: Annotated[str, typer.Option()] = "QJ",
    period: Annotated[str | None, typer.Option(help="a month 2026-03 (revisit: or a day 2026-03-18)")] = None,
    meeting: Annotated[str | None, typer.Option(help="minutes: one joint meeting's code, e.g. QJ-HY-2026-001")] = None,
    fmt: Annotated[str, typer.Option("--format", help="ledger: pdf, xlsx or csv")] = "pdf",
    all_closed: Annotated[bool, typer.Option("--all", help="followup: every closed or archived issue")] = False,
    archival: Annotated[bool, typer.Option("--archival", help="PDF/A-3u for long-term archives")] = False,
    lang: Annotated[str, typer.Option("--lang", help="zh-CN (the default) or en: an English copy, filed beside")] = (
        "zh-CN"
    ),
) -> None:
    """Render a report, file it in the data folder and record its SHA-256."""
    from rich.progress import Progress

    from reports.words import LANGUAGES
    from riverchief.reporting import KINDS, make_and_file

    if kind not in KINDS:
        raise ValidationFailed("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    if lang not in LANGUAGES:
        raise ValidationFailed("--lang", f"{lang!r} is not one of {', '.join(LANGUAGES)}")
    if fmt not in ("pdf", "xlsx", "csv") or (fmt != "pdf" and kind != "ledger"):
        raise ValidationFailed("--format", f"{fmt!r}: only the ledger has xlsx and csv; pdf for the rest")
    if meeting is not None and kind != "minutes":
        raise ValidationFailed("--meeting", "only minutes are made for one meeting")
    if kind in ("revisit", "bulletin", "progress", "minutes") and not period and not meeting:
        example = (
            "2026-003 (a progress bulletin issued through the pages or the API)" if kind == "progress" else "2026-03"
        )
        raise ValidationFailed(
            "--period",
            f"a {kind} report needs a period, e.g. {example}" + (" (or --meeting)" if kind == "minutes" else ""),
        )
    if period and kind == "progress":
        if not re.fullmatch(r"\d{4}-\d{3}", period):
            raise ValidationFailed("--period", f"{period!r} is not a progress bulletin's key like 2026-003")
    elif period:
        _check_period("2026-03-18" if kind == "revisit" and len(period) == 10 else "2026-03", period, latest=False)
    wired = _app()
    filed = []
    if kind == "followup":
        codes = list(issue or [])
        if all_closed:
            from workflow.reading.issues import list_issues

            with wired.reader() as uow:
                rows = list_issues(uow.session, now=wired.clock.now(), compact=compact, limit=100_000)
            codes += [r.code for r in rows if r.state in ("du.closed", "du.revisiting", "archived")]
        if not codes:
            raise ValidationFailed("issue", "name one or more issue codes, or pass --all")
        with Progress(console=err_console, transient=True) as bar:
            task = bar.add_task("rendering follow-up reports", total=len(codes))
            for code in codes:
                filed.append(make_and_file(wired, "followup", issue=code, archival=archival, lang=lang))
                bar.advance(task)
    else:
        with Progress(console=err_console, transient=True) as bar:
            task = bar.add_task(f"rendering {kind}", total=None)
            filed.append(
                make_and_file(
                    wired,
                    kind,
                    compact=compact,
                    period=period,
                    meeting=meeting,
                    fmt=fmt,
                    archival=archival,
                    lang=lang,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
            )
    for f in filed:
        console.print(f"{f.path}  sha256 {f.sha256}" + ("" if f.new else "  (filed before)"))


token_app = typer.Typer(no_args_is_help=True, help="Personal access tokens for API clients.")
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    people: Annotated[list[str] | None, typer.Argument(help="the people's codes", show_default=False)] = None,
    compact: Annotated[str | None, typer.Option(help="and every active person of this compact")] = None,
    name: Annotated[str, typer.Option(help="what the tokens are for")] = "api",
    out: Annotated[
        Path | None, typer.Option(help="write the tokens to this file, readable by its owner only, not the terminal")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="replace the --out file if it exists")] = False,
) -> None:
    """Create a token for each person, all in one transaction; each is shown once and kept only as a hash."""
    from rich.progress import Progress

    from workflow.accounts.tokens import create_tokens

    if out is not None:
        _check_out(out, force)
    codes = list(people or [])
    if not codes and compact is None:
        raise ValidationFailed("people", "name one or more people, or --compact CODE")
    wired = _app()
    if compact is not None:
        codes += _compact_people(wired, compact)
    codes = list(dict.fromkeys(codes))
    uow = wired.uow()
    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task("creating tokens", total=len(codes))
        # The file is written inside the transaction: when it cannot be, no token is stored; and when the
        # commit fails after it was written, it goes again.
        written = False
        try:
            with uow.held():
                made = create_tokens(uow, codes, name, progress=lambda: bar.advance(task))
                if out is not None:
                    lines = ["person\ttoken_id\ttoken", *(f"{t.person}\t{t.id}\t{t.token}" for t in made)]
                    _write_private(out, "\n".join(lines) + "\n", replace=force)
                    written = True
        except BaseException:
            if written and out is not None:
                out.unlink(missing_ok=True)
            raise
    if out is None:
        for t in made:
            console.print(f"token #{t.id} for {t.person}: {t.token}")
        console.print("keep it now: it cannot be shown again (revoke with `riverchief token revoke ID`)")
        return
    console.print(f"wrote {len(made)} token(s), one per person, to {escape(str(out))} (readable by its owner only)")
    console.print("keep the file safe: the tokens cannot be shown again (revoke with `riverchief token revoke ID`)")


def _compact_people(wired: App, compact: str) -> list[str]:
    """The codes of every active person of a compact: of its member jurisdictions or below, and its staff."""
    from workflow.reading.directory import person_rows
    from workflow.reading.issues import compact_id_of

    with wired.reader() as uow:
        compact_id = compact_id_of(uow.connection, compact)
        rows = person_rows(uow.connection, within={compact_id}, limit=1_000_000)
    codes = [row.code for row in rows if row.active]
    if not codes:
        raise ValidationFailed("--compact", f"{compact} has no active person")
    return codes


def _check_out(path: Path, force: bool) -> None:
    """Refuse an output file that cannot be written, or that exists without --force, before anything is made."""
    if path.is_dir():
        raise ValidationFailed("--out", f"{path} is a folder")
    if not path.parent.is_dir():
        raise ValidationFailed("--out", f"{path.parent} is not a folder")
    if path.exists() and not force:
        raise ValidationFailed("--out", f"{path} exists; pass --force to replace it")


def _write_private(path: Path, text: str, *, replace: bool) -> None:
    """Write a file only its owner can read (0600), never through a wider one: a temporary file made 0600 in the
    same folder is filled, then linked into place (or, with ``replace``, renamed over what is there)."""
    import os
    import tempfile

    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(temp, path)
        else:
            os.link(temp, path)  # fails if the file appeared since _check_out: it is never overwritten
    except FileExistsError:
        raise ValidationFailed("--out", f"{path} exists; pass --force to replace it") from None
    except OSError as exc:
        raise ValidationFailed("--out", f"{path} cannot be written: {exc.strerror}") from exc
    finally:
        Path(temp).unlink(missing_ok=True)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="the token's number")]) -> None:
    """Revoke a token."""
    from workflow.accounts.tokens import revoke_token
    from workflow.core.payload import check_int

    check_int("token_id", token_id, 1)
    revoke_token(_app().uow(), token_id)
    console.print(f"token #{token_id} revoked")


password_app = typer.Typer(no_args_is_help=True, help="Passwords for signing in to the pages.")
app.add_typer(password_app, name="password")


@password_app.command("set")
def password_set(
    person: Annotated[str, typer.Argument(help="the person's code")],
    stdin: Annotated[bool, typer.Option("--stdin", help="read it from the first line of stdin")] = False,
) -> None:
    """Set or change a person's password (argon2id); signs out the person's browser sessions."""
    from workflow.accounts.signin import set_password
    from workflow.core.actors import load_actor

    wired = _app()
    with wired.reader() as uow:
        load_actor(uow.session, person)  # NotFound before anyone types a password for nobody
    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    signed_out = set_password(wired.uow(), person, password)
    console.print(f"password set for {person}; {signed_out} session(s) signed out")


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[
        int, typer.Option(help="web worker processes; more than 1 needs PostgreSQL (SQLite has one writer)")
    ] = 1,
    scheduler: Annotated[bool, typer.Option("--scheduler/--no-scheduler", help="run the scheduler here")] = True,
    dispatcher: Annotated[bool, typer.Option("--dispatcher/--no-dispatcher", help="deliver the outbox here")] = True,
) -> None:
    """Serve the HTTP API, with the scheduler and the outbox dispatcher in the same process (the embedded default).

    With --workers N (N > 1, PostgreSQL only) N worker processes serve the API
    and this process supervises them and runs the scheduler and the dispatcher
    once, never once per worker: one active scheduler, one dispatcher loop.
    SQLite is refused there: it takes one writer process at a time.

    Forwarded headers are not believed from anyone but RIVERCHIEF_TRUSTED_PROXIES (web.security).
    """
    import logging
    import threading

    import uvicorn

    from riverchief.asgi import settled
    from riverchief.scheduler import SchedulerService
    from web.api import create_api
    from workflow.core.payload import check_int

    if workers < 1:
        raise ValidationFailed("--workers", "must be at least 1")
    check_int("--port", port, 0, 65535)
    wired = _app()
    if workers > 1 and wired.engine.dialect.name == "sqlite":
        raise ValidationFailed(
            "--workers",
            "SQLite takes one writer process: serve with --workers 1, or set RIVERCHIEF_DATABASE_URL to PostgreSQL",
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    threads = []
    service = SchedulerService(wired, blocking=False) if scheduler else None
    if service is not None:
        # It waits for the scheduler lock in the background: another process may hold it.
        threads.append(threading.Thread(target=service.run, name="scheduler", daemon=True))
    if dispatcher:
        threads.append(threading.Thread(target=wired.dispatcher().run, args=(stop,), name="dispatcher", daemon=True))
    for thread in threads:
        thread.start()
    try:
        if workers > 1:
            # Workers are spawned fresh and build their app from the environment, as this process did.
            uvicorn.run(
                "riverchief.asgi:create",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level="info",
                proxy_headers=False,
            )
        else:
            uvicorn.run(settled(create_api(wired)), host=host, port=port, log_level="info", proxy_headers=False)
    finally:
        stop.set()
        if service is not None:
            service.stop()


map_app = typer.Typer(no_args_is_help=True, help="The shared watershed map (一张图): GeoJSON layers and routing.")
app.add_typer(map_app, name="map")


@map_app.command("import")
def map_import(
    layer: Annotated[str, typer.Argument(help="jurisdiction, river, segment, catchment, outfall, sewage_plant, …")],
    file: Annotated[Path, typer.Argument(help="a GeoJSON FeatureCollection in WGS 84 lon/lat")],
) -> None:
    """Import a map layer (an upsert by code); a bad feature refuses the whole file."""
    from rich.progress import Progress

    from workflow.maps.layers import import_geojson, read_geojson

    document = read_geojson(file)
    wired = _app()
    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task(f"importing {layer}", total=None)
        count = import_geojson(
            wired.uow(), layer, document, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    console.print(f"imported {count} {layer} features from {file}")


@map_app.command("export")
def map_export(
    layer: Annotated[str, typer.Argument(help="the layer to export")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="a file; default stdout")] = None,
) -> None:
    """Export a map layer as a GeoJSON FeatureCollection that imports back unchanged."""
    import json

    from workflow.maps.layers import export_geojson

    with _app().reader() as uow:
        document = export_geojson(uow.connection, layer)
    text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"exported {len(document['features'])} {layer} features to {output}")


@map_app.command("route")
def map_route(
    lon: Annotated[float, typer.Argument(help="longitude, WGS 84")],
    lat: Annotated[float, typer.Argument(help="latitude, WGS 84")],
    border_m: Annotated[float, typer.Option(help="metres from a border within which both sides are named")] = 200.0,
    segment_max_m: Annotated[float, typer.Option(help="metres within which the nearest segment counts")] = 2000.0,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Where a point falls: its jurisdiction, the nearest segment and bank, and both sides near a border."""
    import json

    from workflow.maps.router import Router

    _finite("lon", lon, 180)
    _finite("lat", lat, 90)
    _finite("--border-m", border_m, 100_000)
    _finite("--segment-max-m", segment_max_m, 100_000)
    with _app().reader() as uow:
        router = Router.load(uow.connection, border_m=border_m, segment_max_m=segment_max_m)
    routed = router.route(lon, lat)
    names, segment_names = router.jurisdiction_names, router.segment_names
    if as_json:
        document = {
            "lon": lon,
            "lat": lat,
            "jurisdiction": routed.jurisdiction,
            "jurisdiction_name": names.get(routed.jurisdiction or ""),
            "segment": routed.segment,
            "segment_name": segment_names.get(routed.segment or ""),
            "bank": routed.bank,
            "distance_m": None if routed.distance_m is None else round(routed.distance_m, 1),
            "sides": [{"code": code, "name": names[code]} for code in routed.sides],
            "sensitive": list(routed.sensitive),
        }
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
        return
    where = f"{routed.jurisdiction} {names[routed.jurisdiction]}" if routed.jurisdiction else "none on the map"
    console.print(f"jurisdiction  {escape(where)}")
    if routed.segment is not None and routed.distance_m is not None:
        bank = {"left_bank": "left bank 左岸", "right_bank": "right bank 右岸"}.get(routed.bank or "", "on the line")
        console.print(
            f"segment       {escape(routed.segment)} {escape(segment_names[routed.segment])}, "
            f"{bank}, {routed.distance_m:.0f} m"
        )
    else:
        console.print(f"segment       none within {segment_max_m:g} m")
    sides = ", ".join(f"{code} {names[code]}" for code in routed.sides) or "none"
    console.print(f"sides         {escape(sides)}" + (" (near a border)" if len(routed.sides) > 1 else ""))
    if routed.sensitive:
        console.print(f"sensitive     {escape(', '.join(routed.sensitive))}")


@app.command()
def chart(markdown: Annotated[bool, typer.Option("--markdown", help="the whole docs/statechart.md")] = False) -> None:
    """Print the statechart as a Mermaid diagram, generated from states/."""
    from states.diagram import markdown as as_markdown
    from states.diagram import mermaid

    sys.stdout.write(as_markdown() if markdown else mermaid())


@app.command()
def demo(
    database: Annotated[Path, typer.Option(help="a fresh SQLite file for the demo")] = Path("data/demo.db"),
) -> None:
    """Load the 琼江 compact and play cross-border issues through realistic paths."""
    from riverchief.demo.play import run

    ok = run(console, database)
    if not ok:
        raise typer.Exit(1)


def _flag_type(self: typer.core.TyperOption, ctx: ClickContext) -> str | None:
    """A flag's help shows the flag alone: ``--all``, not ``--all <bool>`` (Typer 0.29 labels every option)."""
    return None if self.is_flag else _option_type(self, ctx)


_option_type = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]


def _usage_line(exc: ClickException) -> str:
    """A parse error as one line: the reason, and where the help is."""
    line = " ".join(exc.format_message().split())
    context = exc.ctx if isinstance(exc, UsageError) else None
    if context is not None:
        line += f" (see: {context.command_path} --help)"
    return line


def main() -> None:
    """Entry point: run the CLI, turning workflow refusals and parse errors into one clear line and an exit code."""
    try:
        check_arguments(sys.argv[1:])
        code = app(standalone_mode=False)
        # Without standalone mode Typer returns an Exit's code (None or 0 after a command that ran through).
        sys.exit(code if isinstance(code, int) else 0)
    except NoArgsIsHelpError as exc:
        sys.exit(exc.exit_code)  # the help is printed already: nothing was asked, so nothing is refused
    except ClickException as exc:
        # A word where a number belongs, an unknown option, a missing argument: Typer's own refusals,
        # in the same one-line form and with their exit code (2) instead of a framed box.
        err_console.print(f"[red]error:[/red] {escape(_usage_line(exc))}")
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("[red]error:[/red] aborted")
        sys.exit(1)
    except WorkflowError as exc:
        # One line: the message may quote the bad input, so it is printed safely whatever it holds.
        line = " ".join(str(exc).encode("utf-8", "backslashreplace").decode("utf-8").split())
        err_console.print(f"[red]error:[/red] {escape(line)}")
        sys.exit(exit_code(exc))
    except Exception as exc:
        if not _schema_missing(exc):
            raise
        err_console.print(
            "[red]error:[/red] the database is not set up, or is behind this version: run `riverchief init`"
        )
        sys.exit(8)


def _schema_missing(exc: Exception) -> bool:
    """Whether the database refused a statement for a table or column it lacks (not set up, or not upgraded)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    if not isinstance(exc, OperationalError | ProgrammingError):
        return False
    text = str(exc.orig)
    return "no such table" in text or "does not exist" in text or "no such column" in text
