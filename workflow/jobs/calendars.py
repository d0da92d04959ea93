"""The working-day calendar's years: deadlines counted again when a year's arrangement arrives, unknown years named."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from states import Party
from states.policy import DEADLINES
from workflow.core.actors import SYSTEM
from workflow.core.deadlines import PENDING_DEADLINES, unknown_deadline_years, waiting_path
from workflow.core.errors import WorkflowError
from workflow.core.models import Issue, table_of
from workflow.core.services import apply
from workflow.jobs.notices import queue_notice
from workflow.jobs.runs import UowFactory

log = logging.getLogger(__name__)
_issue = table_of(Issue)

RESCHEDULE_REASON = "工作日历更新（节假日安排），按新日历重算办理时限"


def recompute_deadlines(uow: UowFactory, now: datetime, reason: str = RESCHEDULE_REASON) -> dict[str, int]:
    """Count each pending working-day deadline again with the calendar as it is now; a change is a ``reschedule`` step.

    Only waiting states whose deadline is a count of working days (not a plan's date); a deadline long passed on
    both counts is left alone. Each change goes through ``apply`` as ``system`` with the version read, so a step
    someone took meanwhile wins and the next run looks again.
    """
    counts = {"rescheduled": 0, "skipped": 0}
    with uow() as unit:
        calendar = unit.calendar
        rows = unit.connection.execute(PENDING_DEADLINES.where(_issue.c.state.in_(list(DEADLINES)))).all()
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
