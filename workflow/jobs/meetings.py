"""The meeting sweep: a joint meeting's reminder the day before, an action item's reminder and overdue notice."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from states.policy import MEETING_REMIND_HOURS
from workflow.core.clock import SHANGHAI
from workflow.jobs.runs import UowFactory
from workflow.meetings.basics import owners_of, queue_to_people
from workflow.reading.meetings import action_table, invitee_table, meeting_table


def meeting_sweep(uow: UowFactory, now: datetime) -> dict[str, int]:
    """Remind invitees of tomorrow's meetings, and owners of action items coming due or overdue (each once)."""
    counts = {"meetings_reminded": 0, "actions_reminded": 0, "actions_overdue": 0}
    with uow() as unit:
        conn = unit.connection
        soon = conn.execute(
            sa.select(meeting_table).where(
                meeting_table.c.status == "planned",
                meeting_table.c.reminded.is_(False),
                meeting_table.c.starts_at > now,
            )
        ).all()
        for m in soon:
            if (m.starts_at - now).total_seconds() > MEETING_REMIND_HOURS * 3600:
                continue
            people = conn.execute(sa.select(invitee_table.c.person_id).where(invitee_table.c.meeting_id == m.id))
            detail = {
                "meeting": m.code,
                "title": m.title,
                "level": m.level,
                "starts_at": m.starts_at.astimezone(SHANGHAI).isoformat(),
                "place": m.place,
            }
            queue_to_people(
                conn,
                topic=f"meeting:{m.code}:remind:v{m.version}",
                kind="meeting_reminder",
                people=people.scalars(),
                now=now,
                detail=detail,
            )
            conn.execute(meeting_table.update().where(meeting_table.c.id == m.id).values(reminded=True))
            counts["meetings_reminded"] += 1
        due = conn.execute(
            sa.select(action_table).where(action_table.c.status == "open", action_table.c.next_check_at <= now)
        ).all()
        for a in due:
            detail = {"action": a.code, "title": a.title, "due_on": a.due_on.isoformat()}
            if now < a.due_at and a.reminded == 0:
                kind, step, next_check = "action_reminder", 1, a.due_at
                counts["actions_reminded"] += 1
            else:
                kind, step, next_check = "action_overdue", 2, None
                counts["actions_overdue"] += 1
            queue_to_people(
                conn,
                topic=f"action:{a.code}:{kind}",
                kind=kind,
                people=owners_of(conn, a.owner_jurisdiction_id),
                now=now,
                detail=detail,
            )
            conn.execute(
                action_table.update().where(action_table.c.id == a.id).values(reminded=step, next_check_at=next_check)
            )
        unit.commit()
    return counts
