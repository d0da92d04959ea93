"""When the deadline sweep must look at an issue: reminders before its deadline, then the deadline."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from states import CHART
from states.policy import DEADLINES, REMIND_AT_FRACTION, REMIND_WORKING_DAYS_BEFORE
from states.words import word
from workflow.core.calendar import WorkCalendar, end_of_day, local_today
from workflow.core.clock import SHANGHAI
from workflow.core.models import Issue, Jurisdiction, table_of

_issue = table_of(Issue)
_reporting = table_of(Jurisdiction).alias("reporting")
_receiving = table_of(Jurisdiction).alias("receiving")
_TERMINAL = [s.name for s in CHART.states if s.terminal]


def reminder_times(calendar: WorkCalendar, since: datetime, due_at: datetime) -> list[tuple[str, datetime]]:
    """The reminders owed for a wait from ``since`` to ``due_at``, as (kind, time), earliest first.

    ``fraction``: when 80% of the time allowed has gone; ``day_before``: at the
    end of the working day before the deadline's day. Each only if it falls
    strictly inside the wait.
    """
    times: list[tuple[str, datetime]] = []
    fraction_at = since + (due_at - since) * REMIND_AT_FRACTION
    # Nobody reads a reminder on a holiday: move it to the next working morning.
    fraction_day = local_today(fraction_at)
    if not calendar.is_workday(fraction_day):
        while not calendar.is_workday(fraction_day):
            fraction_day += timedelta(days=1)
        fraction_at = datetime.combine(fraction_day, time(9, 0), tzinfo=SHANGHAI)
    due_day = local_today(due_at)
    day = due_day
    for _ in range(REMIND_WORKING_DAYS_BEFORE):
        day -= timedelta(days=1)
        while not calendar.is_workday(day):
            day -= timedelta(days=1)
    day_before_at = end_of_day(day)
    for kind, at in (("fraction", fraction_at), ("day_before", day_before_at)):
        if since < at < due_at:
            times.append((kind, at))
    times.sort(key=lambda pair: pair[1])
    return times


def next_check(calendar: WorkCalendar, since: datetime, due_at: datetime | None, after: datetime) -> datetime | None:
    """The first reminder or deadline later than ``after``; None when there is no deadline."""
    if due_at is None:
        return None
    for _, at in reminder_times(calendar, since, due_at):
        if at > after:
            return at
    return due_at


def waiting_path(state: str, reporting_path: str | None, receiving_path: str | None) -> str | None:
    """The jurisdiction whose working days count for a state's deadline: the side it waits on."""
    policy = DEADLINES.get(state)
    waits_on = policy.waits_on if policy else "receiving"
    if waits_on == "reporting":
        return reporting_path
    return receiving_path or reporting_path


def due_texts(
    calendar: WorkCalendar, due_at: datetime | None, now: datetime, *, counted: bool = True
) -> tuple[str | None, str | None]:
    """A deadline as people here count it, in Chinese and English: Beijing time and working days left (or overdue);
    the time alone when not ``counted`` (a deadline that no longer runs: a count of days would be read as today's)."""
    if due_at is None:
        return None, None
    stamp = due_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    if not counted:
        return word("deadline.at", False, stamp=stamp), word("deadline.at", True, stamp=stamp)
    today, due_day = local_today(now), local_today(due_at)
    if due_at < now:
        key, n = "deadline.late", calendar.working_days_between(due_day, today)
    else:
        n = calendar.working_days_between(today, due_day)
        key = "deadline.left" if n else "deadline.today"
    return word(key, False, stamp=stamp, n=n), word(key, True, stamp=stamp, n=n)


# Every issue with a deadline still running (or passed but not acted on), with the paths its calendar depends on.
PENDING_DEADLINES = (
    sa.select(
        _issue.c.id,
        _issue.c.code,
        _issue.c.compact_id,
        _issue.c.state,
        _issue.c.version,
        _issue.c.due_at,
        _issue.c.waiting_since,
        _reporting.c.path.label("reporting_path"),
        _receiving.c.path.label("receiving_path"),
    )
    .select_from(
        _issue.join(_reporting, _reporting.c.id == _issue.c.reporting_jurisdiction_id).outerjoin(
            _receiving, _receiving.c.id == _issue.c.receiving_jurisdiction_id
        )
    )
    .where(_issue.c.due_at.is_not(None), _issue.c.state.not_in(_TERMINAL))
    .order_by(_issue.c.id)
)


def _known_run(calendar: WorkCalendar, year: int) -> tuple[int, int] | None:
    """The first and last years of the unbroken run of years the calendar knows around ``year`` (None: it does not
    know ``year`` itself)."""
    if calendar.unknown_years([year]):
        return None
    first = last = year
    while first > 1900 and not calendar.unknown_years([first - 1]):
        first -= 1
    while last < 2200 and not calendar.unknown_years([last + 1]):
        last += 1
    return first, last


def _years(row: Any, now: datetime) -> range:
    """The years a wait's working days are counted in: from when it began to its deadline."""
    start = local_today(row.waiting_since or now)
    return range(start.year, local_today(row.due_at).year + 1)


def unknown_deadline_years(conn: sa.Connection, calendar: WorkCalendar, now: datetime) -> dict[int, dict[int, int]]:
    """The years pending deadlines run into that the calendar does not know: {year: {compact id: deadlines}}.

    Only the waits that reach outside the run of known years around this year are read (those due after it,
    and those begun before it), from the indexes on the deadline and on the creation (a wait begins after its
    issue was created): at province scale the pending deadlines are tens of thousands, those few.
    """
    found: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    query = PENDING_DEADLINES
    known = _known_run(calendar, local_today(now).year)
    if known is not None:
        first, last = (datetime(year, 1, 1, tzinfo=SHANGHAI) for year in (known[0], known[1] + 1))
        query = query.where(
            sa.or_(
                _issue.c.due_at >= last,
                sa.and_(_issue.c.created_at < first, _issue.c.waiting_since < first),
            )
        )
    for row in conn.execute(query):
        for year in calendar.unknown_years(_years(row, now)):
            found[year][row.compact_id] += 1
    return {year: dict(by_compact) for year, by_compact in sorted(found.items())}
