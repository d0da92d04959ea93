"""Action items (督办事项): decisions not tied to one issue, each with an owner jurisdiction and a due day."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from states.policy import ACTION_REMIND_WORKING_DAYS
from workflow.core.actors import Actor
from workflow.core.calendar import WorkCalendar, local_today
from workflow.core.clock import SHANGHAI
from workflow.core.errors import NotFound, NotPermitted, Reason, ValidationFailed
from workflow.core.lookups import compact_row, insert_with_code, member_paths
from workflow.core.uow import UnitOfWork
from workflow.meetings.basics import at_or_above, check_text, only_coordinator, owners_of, queue_to_people
from workflow.reading.meetings import action_table, jurisdiction_table, meeting_table


def due_instant(day: date) -> datetime:
    """The end of the due day in Asia/Shanghai: an item done on its day is on time."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=SHANGHAI)


def first_check(calendar: WorkCalendar, now: datetime, due_on: date) -> datetime:
    """When the sweep first looks at an item: its reminder, ACTION_REMIND_WORKING_DAYS before the day, at 09:00."""
    remind_on, owed = due_on, ACTION_REMIND_WORKING_DAYS
    while owed:
        remind_on -= timedelta(days=1)
        owed -= calendar.is_workday(remind_on)
    remind_at = datetime.combine(remind_on, time(9), tzinfo=SHANGHAI)
    return remind_at if remind_at > now else due_instant(due_on)


def add_action_item(
    uow: UnitOfWork,
    actor: Actor,
    compact: str,
    title: str,
    owner: str,
    due_on: date,
    *,
    meeting: str | None = None,
) -> str:
    """Record an action item a meeting decided (or the coordinators set); the owner's chiefs and offices are told.

    Returns its code, e.g. QJ-DB-2026-001.
    """
    with uow:
        conn = uow.connection
        now = uow.clock.now()
        row = compact_row(conn, compact)
        only_coordinator(actor, row.id, "add an action item", ("compact", compact))
        errors = check_text(title, "title", 300)
        if due_on < local_today(now):
            errors.append(("due_on", Reason("day_past", day=due_on.isoformat())))
        elif due_on > local_today(now) + timedelta(days=3 * 366):
            errors.append(("due_on", Reason("over_three_years", day=due_on.isoformat())))
        target = conn.execute(
            sa.select(jurisdiction_table.c.id, jurisdiction_table.c.name, jurisdiction_table.c.path).where(
                jurisdiction_table.c.code == owner
            )
        ).first()
        if target is None:
            errors.append(("owner", Reason("no_jurisdiction", code=owner)))
        elif not any(target.path.startswith(p) for p in member_paths(conn, row.id)):
            errors.append(("owner", Reason("not_member_here", name=target.name)))
        meeting_id = None
        if meeting is not None:
            found = conn.execute(
                sa.select(meeting_table.c.id, meeting_table.c.compact_id, meeting_table.c.status).where(
                    meeting_table.c.code == meeting
                )
            ).first()
            if found is None or found.compact_id != row.id:
                errors.append(("meeting", Reason("no_meeting_here", code=meeting)))
            elif found.status == "cancelled":
                errors.append(("meeting", Reason("meeting_cancelled")))
            else:
                meeting_id = found.id
        if errors or target is None:
            raise ValidationFailed.of(errors)
        _, code = insert_with_code(
            conn,
            action_table,
            f"{row.code}-DB-{local_today(now).year}-",
            {
                "compact_id": row.id,
                "meeting_id": meeting_id,
                "title": title.strip(),
                "owner_jurisdiction_id": target.id,
                "due_on": due_on,
                "due_at": due_instant(due_on),
                "status": "open",
                "next_check_at": first_check(uow.calendar, now, due_on),
                "reminded": 0,
                "created_by": actor.id,
                "created_at": now,
            },
        )
        queue_to_people(
            conn,
            topic=f"action:{code}:assigned",
            kind="action_assigned",
            people=owners_of(conn, target.id),
            now=now,
            detail={"action": code, "title": title.strip(), "due_on": due_on.isoformat(), "meeting": meeting},
        )
        uow.commit()
    return code


def complete_action_item(uow: UnitOfWork, actor: Actor, code: str, outcome: str) -> None:
    """Mark an action item done (销号) with what was done: by a coordinator, or a chief or office of its owner."""
    with uow:
        conn = uow.connection
        row = conn.execute(
            sa.select(action_table, jurisdiction_table.c.path)
            .join(jurisdiction_table, jurisdiction_table.c.id == action_table.c.owner_jurisdiction_id)
            .where(action_table.c.code == code)
        ).first()
        if row is None or row.compact_id not in (actor.member_of | actor.coordinates | actor.audits):
            raise NotFound("action item", code)
        if row.compact_id not in actor.coordinates and not at_or_above(actor, [row.path]):
            raise NotPermitted(
                actor.code, "complete an action item", ["coordinator", "the owner's chief or office"], []
            )
        errors = check_text(outcome, "outcome", 2000)
        if row.status != "open":
            errors.append(("status", Reason("action_settled", status=row.status)))
        if errors:
            raise ValidationFailed.of(errors)
        conn.execute(
            action_table.update()
            .where(action_table.c.id == row.id, action_table.c.status == "open")
            .values(
                status="done", done_at=uow.clock.now(), done_by=actor.id, outcome=outcome.strip(), next_check_at=None
            )
        )
        uow.commit()
