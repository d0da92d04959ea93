"""The deadline sweep and the revisit sweep: reminders, escalations, overdue notices and archiving."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from states import Party
from states.policy import DEADLINES, ESCALATIONS, REVISIT_REMIND_WORKING_DAYS
from workflow.core.actors import SYSTEM
from workflow.core.calendar import local_today
from workflow.core.deadlines import next_check, reminder_times, waiting_path
from workflow.core.errors import WorkflowError
from workflow.core.models import (
    Issue,
    Jurisdiction,
    Revisit,
    table_of,
)
from workflow.core.services import apply
from workflow.jobs.notices import queue_notice
from workflow.jobs.runs import UowFactory

log = logging.getLogger(__name__)
_issue = table_of(Issue)
_revisit = table_of(Revisit)


# -- the deadline sweep ---------------------------------------------------------------------------

_reporting = table_of(Jurisdiction).alias("reporting")
_receiving = table_of(Jurisdiction).alias("receiving")
_DUE = (
    sa.select(_issue, _reporting.c.path.label("reporting_path"), _receiving.c.path.label("receiving_path"))
    .select_from(
        _issue.join(_reporting, _reporting.c.id == _issue.c.reporting_jurisdiction_id).outerjoin(
            _receiving, _receiving.c.id == _issue.c.receiving_jurisdiction_id
        )
    )
    .where(_issue.c.next_check_at <= sa.bindparam("now", type_=_issue.c.next_check_at.type))
    .order_by(_issue.c.next_check_at)
    .limit(sa.bindparam("batch"))
)
_SET_NEXT_CHECK = (
    _issue.update()
    .where(_issue.c.id == sa.bindparam("b_id"), _issue.c.version == sa.bindparam("b_version"))
    .values(next_check_at=sa.bindparam("b_next", type_=_issue.c.next_check_at.type))
)


def _waiting_party(state: str) -> set[Party]:
    policy = DEADLINES.get(state)
    return {Party(policy.waits_on)} if policy else {Party.RECEIVING}


def deadline_sweep(uow: UowFactory, now: datetime, *, batch: int = 500) -> dict[str, int]:
    """Remind before deadlines; on a missed deadline escalate (as ``system``) or name the overdue party.

    Looks only at issues whose ``next_check_at`` has come, through its index,
    so its cost follows the issues due, not the issues open.
    """
    counts = {"reminded": 0, "escalated": 0, "overdue": 0, "skipped": 0}
    while True:
        with uow() as unit:
            rows = unit.connection.execute(_DUE, {"now": now, "batch": batch}).all()
        if not rows:
            return counts
        for row in rows:
            counts[_check_one(uow, row, now)] += 1
        if len(rows) < batch:
            return counts


def _check_one(uow: UowFactory, row: Any, now: datetime) -> str:
    if row.due_at is not None and now >= row.due_at:
        escalation = ESCALATIONS.get(row.state)
        if escalation is not None:
            try:
                apply(uow(), row.id, escalation.trigger, SYSTEM, dict(escalation.payload), row.version)
            except WorkflowError as exc:
                # Someone acted on the issue since the sweep read it; the next sweep sees the new state.
                log.info("escalation of %s skipped: %s", row.code, exc)
                return "skipped"
            return "escalated"
        return _notice_once(uow, row, now, "overdue", _waiting_party(row.state) | {Party.COORDINATOR}, None)
    calendar = uow().calendar.for_path(waiting_path(row.state, row.reporting_path, row.receiving_path))
    since = row.waiting_since or now
    passed = [kind for kind, at in reminder_times(calendar, since, row.due_at) if at <= now]
    kind = passed[-1] if passed else "due_soon"
    after = next_check(calendar, since, row.due_at, now)
    return _notice_once(uow, row, now, f"remind_{kind}", _waiting_party(row.state), after)


def _notice_once(
    uow: UowFactory, row: Any, now: datetime, kind: str, parties: set[Party], after: datetime | None
) -> str:
    with uow() as unit:
        moved = unit.connection.execute(_SET_NEXT_CHECK, {"b_id": row.id, "b_version": row.version, "b_next": after})
        if moved.rowcount != 1:
            return "skipped"  # the issue moved on since the sweep read it
        queue_notice(
            unit.connection,
            topic=f"{kind}:{row.id}:v{row.version}",
            kind="overdue" if kind == "overdue" else "reminder",
            compact_id=row.compact_id,
            parties=parties,
            now=now,
            issue=row,
            detail={"code": row.code, "state": row.state, "due_at": row.due_at.isoformat(), "reminder": kind},
        )
        unit.commit()
    return "overdue" if kind == "overdue" else "reminded"


# -- revisits -------------------------------------------------------------------------------------


def revisit_sweep(uow: UowFactory, now: datetime) -> dict[str, int]:
    """Bring due revisits to the auditors, remind overdue ones, archive issues whose revisits all came back clean."""
    today = local_today(now)
    counts = {"due": 0, "reminded": 0, "archived": 0}
    with uow() as unit:
        calendar = unit.calendar
        rows = unit.connection.execute(
            sa.select(_revisit, _issue.c.compact_id, _issue.c.code, _issue.c.state)
            .join(_issue, _issue.c.id == _revisit.c.issue_id)
            .where(_revisit.c.status == "planned", _revisit.c.due_on <= today)
            .order_by(_revisit.c.due_on)
        ).all()
        for r in rows:
            detail = {"code": r.code, "due_on": r.due_on.isoformat(), "cycle": r.cycle, "seq": r.seq}
            if r.notified_at is None:
                queue_notice(
                    unit.connection,
                    topic=f"revisit_due:{r.id}",
                    issue_id=r.issue_id,
                    kind="revisit_due",
                    compact_id=r.compact_id,
                    parties={Party.AUDITOR},
                    now=now,
                    detail=detail,
                )
                unit.connection.execute(_revisit.update().where(_revisit.c.id == r.id).values(notified_at=now))
                counts["due"] += 1
            elif r.reminded_at is None and today > calendar.add_working_days(r.due_on, REVISIT_REMIND_WORKING_DAYS):
                queue_notice(
                    unit.connection,
                    topic=f"revisit_overdue:{r.id}",
                    issue_id=r.issue_id,
                    kind="revisit_overdue",
                    compact_id=r.compact_id,
                    parties={Party.AUDITOR, Party.COORDINATOR},
                    now=now,
                    detail=detail,
                )
                unit.connection.execute(_revisit.update().where(_revisit.c.id == r.id).values(reminded_at=now))
                counts["reminded"] += 1
        unit.commit()
    for issue_id, version in _ready_to_archive(uow):
        try:
            apply(uow(), issue_id, "archive", SYSTEM, {"note": "回头看均未反弹，系统归档"}, version)
            counts["archived"] += 1
        except WorkflowError as exc:
            log.info("archiving issue %s skipped: %s", issue_id, exc)
    return counts


def _ready_to_archive(uow: UowFactory) -> list[tuple[int, int]]:
    """Closed issues whose last revisit was clean and that have no planned revisit left."""
    pending = sa.select(_revisit.c.id).where(_revisit.c.issue_id == _issue.c.id, _revisit.c.status == "planned")
    with uow() as unit:
        rows = unit.connection.execute(
            sa.select(_issue.c.id, _issue.c.version).where(
                _issue.c.state == "du.closed", _issue.c.last_revisit_clean.is_(True), ~pending.exists()
            )
        ).all()
    return [(r.id, r.version) for r in rows]
