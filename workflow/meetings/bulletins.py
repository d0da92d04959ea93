"""Progress bulletins (通报跨界问题整改情况) the coordinators issue when they call for one, numbered for the year."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

import sqlalchemy as sa

from workflow.core.actors import Actor
from workflow.core.calendar import local_today
from workflow.core.clock import SHANGHAI
from workflow.core.errors import ValidationFailed
from workflow.core.lookups import compact_row
from workflow.core.models import Bulletin, table_of
from workflow.core.uow import UnitOfWork
from workflow.meetings.basics import only_coordinator
from workflow.reading.figures import step_counts
from workflow.reading.meetings import action_items
from workflow.reading.overdue import overdue_parties
from workflow.reading.practice import period_figures

_bulletin = table_of(Bulletin)


@dataclass(frozen=True, slots=True)
class Issued:
    """A progress bulletin just recorded: its period key (2026-003) and document number."""

    period: str
    number: str


def number_of(compact_code: str, year: int, serial: int) -> str:
    """QJ联防通报〔2026〕3号."""
    return f"{compact_code}联防通报〔{year}〕{serial}号"


def issue_progress_bulletin(uow: UnitOfWork, actor: Actor, compact: str, start: date, end: date) -> Issued:
    """Record a progress bulletin over the days [start, end): the steps taken, the practice's figures, the overdue
    parties and the overdue action items, under the next number of the year."""
    with uow:
        conn = uow.connection
        now = uow.clock.now()
        row = compact_row(conn, compact)
        only_coordinator(actor, row.id, "issue a progress bulletin", ("compact", compact))
        today = local_today(now)
        errors: list[tuple[str, str]] = []
        if start.year < 2000:
            errors.append(("from", f"{start.isoformat()} is before 2000"))
        if end <= start:
            errors.append(("to", f"must be after from ({start.isoformat()})"))
        elif end.toordinal() > today.toordinal() + 1:
            errors.append(("to", f"{end.isoformat()} is after today: a bulletin reports what has happened"))
        if errors:
            raise ValidationFailed.of(errors)
        since, until = (datetime.combine(d, time(0), tzinfo=SHANGHAI) for d in (start, end))
        overdue_actions = [
            {"code": a.code, "title": a.title, "owner": a.owner, "due_on": a.due_on.isoformat()}
            for a in action_items(conn, [row.id], min(now, until), status="open", overdue=True)
        ]
        figures = {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "steps": step_counts(conn, row.id, since, until),
            "practice": period_figures(conn, compact, start, end),
            "overdue_actions": overdue_actions,
        }
        parties = overdue_parties(conn, row.id, since, until)
        year = today.year
        for _ in range(5):
            taken = conn.execute(
                sa.select(_bulletin.c.period).where(
                    _bulletin.c.compact_id == row.id,
                    _bulletin.c.kind == "progress",
                    _bulletin.c.period.startswith(f"{year}-"),
                )
            ).scalars()
            serial = max((int(p[5:]) for p in taken if p[5:].isdigit()), default=0) + 1
            period = f"{year}-{serial:03d}"
            number = number_of(row.code, year, serial)
            try:
                with conn.begin_nested():
                    conn.execute(
                        _bulletin.insert().values(
                            compact_id=row.id,
                            kind="progress",
                            period=period,
                            figures={**figures, "number": number},
                            parties=parties,
                            created_at=now,
                        )
                    )
            except sa.exc.IntegrityError:
                continue  # another coordinator took this number meanwhile: the next one
            uow.commit()
            return Issued(period, number)
        raise ValidationFailed("number", "could not find a free bulletin number; try again")
