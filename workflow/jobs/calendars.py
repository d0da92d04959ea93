"""The working-day calendar's years: deadlines counted again when a year's arrangement arrives, unknown years named."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from states import CHART, Party
from states.policy import DEADLINES
from workflow.core.actors import SYSTEM
from workflow.core.calendar import WorkCalendar, local_today
from workflow.core.deadlines import waiting_path
from workflow.core.errors import WorkflowError
from workflow.core.models import Issue, Jurisdiction, table_of
from workflow.core.services import apply
from workflow.jobs.notices import queue_notice
from workflow.jobs.runs import UowFactory

log = logging.getLogger(__name__)
_issue = table_of(Issue)
_reporting = table_of(Jurisdiction).alias("reporting")
_receiving = table_of(Jurisdiction).alias("receiving")
_TERMINAL = [s.name for s in CHART.states if s.terminal]

# Every issue with a deadline still running (or passed but not acted on), with the paths its calendar depends on.
_PENDING = (
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

RESCHEDULE_REASON = "工作日历更新（节假日安排），按新日历重算办理时限"


def _years(row: Any, now: datetime) -> range:
    """The years a wait's working days are counted in: from when it began to its deadline."""
    start = local_today(row.waiting_since or now)
    return range(start.year, local_today(row.due_at).year + 1)


def unknown_deadline_years(conn: sa.Connection, calendar: WorkCalendar, now: datetime) -> dict[int, dict[int, int]]:
    """The years pending deadlines run into that the calendar does not know: {year: {compact id: deadlines}}."""
    found: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for row in conn.execute(_PENDING):
        for year in calendar.unknown_years(_years(row, now)):
            found[year][row.compact_id] += 1
    return {year: dict(by_compact) for year, by_compact in sorted(found.items())}


def recompute_deadlines(uow: UowFactory, now: datetime, reason: str = RESCHEDULE_REASON) -> dict[str, int]:
    """Count each pending working-day deadline again with the calendar as it is now; a change is a ``reschedule`` step.

    Only waiting states whose deadline is a count of working days (not a plan's date); a deadline long passed on
    both counts is left alone. Each change goes through ``apply`` as ``system`` with the version read, so a step
    someone took meanwhile wins and the next run looks again.
    """
    counts = {"rescheduled": 0, "skipped": 0}
    with uow() as unit:
        calendar = unit.calendar
        rows = unit.connection.execute(_PENDING.where(_issue.c.state.in_(list(DEADLINES)))).all()
    for row in rows:
        policy = DEADLINES[row.state]
        path = waiting_path(row.state, row.reporting_path, row.receiving_path)
        due = calendar.for_path(path).due_after(row.waiting_since or now, policy.working_days)
        if due == row.due_at or (due < now and row.due_at < now):
            continue
        try:
            apply(uow(), row.id, "reschedule", SYSTEM, {"reason": reason}, row.version)
        except WorkflowError as exc:
            log.info("deadline of %s not recomputed: %s", row.code, exc)
            counts["skipped"] += 1
            continue
        log.info("deadline of %s moved from %s to %s", row.code, row.due_at, due)
        counts["rescheduled"] += 1
    return counts


def warn_unknown_years(uow: UowFactory, now: datetime) -> dict[int, int]:
    """Log the unknown years and notify them once per year and person (the compacts' coordinators, and admins)."""
    with uow() as unit:
        unknown = unknown_deadline_years(unit.connection, unit.calendar, now)
        for year, by_compact in unknown.items():
            total = sum(by_compact.values())
            log.warning(
                "%d pending deadline(s) run into %d, for which the calendar has no holiday data: counted Monday-Friday "
                "until the year's arrangement arrives (update the packages or the calendar file, then "
                "`riverchief calendar refresh`)",
                total,
                year,
            )
            for compact_id, deadlines in sorted(by_compact.items()):
                queue_notice(
                    unit.connection,
                    topic=f"calendar_unknown:{year}",
                    kind="calendar_unknown",
                    compact_id=compact_id,
                    parties={Party.COORDINATOR},
                    now=now,
                    detail={"year": year, "deadlines": deadlines},
                    admins=True,
                )
        unit.commit()
    return {year: sum(by_compact.values()) for year, by_compact in unknown.items()}


def calendar_check(uow: UowFactory, now: datetime, _period: str) -> dict[str, Any]:
    """The daily look at the calendar: read its files again, recompute deadlines, name the years it does not know."""
    with uow() as unit:
        calendar = unit.calendar
    changed = calendar.refresh()
    if changed:
        log.info("calendar data changed for %s", ", ".join(map(str, changed)))
    counts = recompute_deadlines(uow, now)
    unknown = warn_unknown_years(uow, now)
    return {**counts, "changed_years": changed, "unknown_years": sorted(unknown)}
