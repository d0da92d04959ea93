"""The annual scorecard (考核) of a chief: patrols, problems found and hand-offs answered in time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction

import sqlalchemy as sa

from workflow.core.actors import SIDE_ROLES
from workflow.core.errors import ValidationFailed
from workflow.core.models import (
    CompactMember,
    Event,
    Issue,
    Jurisdiction,
    Patrol,
    PatrolIssue,
    table_of,
)
from workflow.patrols.basics import midnight, month_days, person_row
from workflow.patrols.completion import ChiefCompletion, assess, chief_rows
from workflow.patrols.quotas import quotas

_patrol = table_of(Patrol)
_link = table_of(PatrolIssue)
_juris = table_of(Jurisdiction)
_member = table_of(CompactMember)
_issue = table_of(Issue)
_event = table_of(Event)


# -- the scorecard (考核) --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scorecard:
    """A chief's year for the annual assessment (考核)."""

    person: str
    name: str
    jurisdiction: str
    year: int
    months: list[ChiefCompletion]  # each month of the year that has ended
    swap_patrols: int
    issues_found: int
    issues_found_on_patrols: int
    handoffs_received: int
    answered_in_time: int
    answered_late: int
    unanswered: int  # its deadline passed without an answer
    pending: int  # its deadline has not come yet
    overdue_items: list[str]

    @property
    def patrols_done(self) -> int:
        """Patrols counted in the assessed months."""
        return sum(m.done for m in self.months if m.required)

    @property
    def patrols_required(self) -> int:
        """Patrols required over the year so far."""
        return sum(m.required for m in self.months)

    @property
    def completion(self) -> Fraction | None:
        """The year's patrol completion rate."""
        return Fraction(self.patrols_done, self.patrols_required) if self.patrols_required else None

    @property
    def months_under(self) -> list[str]:
        """The assessments below quota."""
        return [m.window for m in self.months if m.under]


def scorecard(conn: sa.Connection, person: str, year: int, now: datetime) -> Scorecard:
    """A chief's scorecard for a year, as it stands at ``now``.

    Patrol completion over the months that have ended; issues they reported
    (and of those, found on a patrol); hand-offs to their side, answered
    (accepted or disputed) before the deadline or not; and the issues whose
    deadline their side missed (an overdue wait on their side in the year).
    """
    # jobs reads this module for the bulletins; its overdue walk is imported here, when used.
    from workflow.reading.overdue import overdue_waits

    row = person_row(conn, person, "person")
    if row.role not in SIDE_ROLES or row.path is None:
        raise ValidationFailed("person", f"{person} is a {row.role}; scorecards are for chiefs and offices")
    start, end = midnight(date(year, 1, 1)), midnight(date(year + 1, 1, 1))
    in_force = quotas(conn)
    chief = chief_rows(conn, None, person) if row.role == "chief" else []
    months = [
        m
        for n in range(1, 13)
        if midnight(month_days(year, n)[1]) <= now
        for m in assess(conn, [(year, n)], chief, in_force)
    ]
    swaps = conn.execute(
        sa.select(sa.func.count()).where(
            _patrol.c.patroller_id == row.id,
            _patrol.c.kind == "swap",
            _patrol.c.started_at >= start,
            _patrol.c.started_at < end,
            _patrol.c.ended_at.is_not(None),  # a patrol under way counts once it is stopped
        )
    ).scalar_one()
    found = conn.execute(
        sa.select(_issue.c.id, _patrol.c.id.label("patrol_id"))
        .outerjoin(_link, _link.c.issue_id == _issue.c.id)
        .outerjoin(_patrol, sa.and_(_patrol.c.id == _link.c.patrol_id, _patrol.c.ended_at.is_not(None)))
        .where(_issue.c.reporter_id == row.id, _issue.c.created_at >= start, _issue.c.created_at < end)
    ).all()
    answers = _handoff_answers(conn, row.path, start, end, now)
    overdue: set[str] = set()
    paths: dict[int, str] = dict(conn.execute(sa.select(_juris.c.id, _juris.c.path)).all())
    compacts = {
        compact_id
        for compact_id, path in conn.execute(
            sa.select(_member.c.compact_id, _juris.c.path).join(_juris, _juris.c.id == _member.c.jurisdiction_id)
        )
        if row.path.startswith(path) or path.startswith(row.path)
    }
    for compact_id in sorted(compacts):
        for o in overdue_waits(conn, compact_id, start, min(end, now)):  # a deadline still ahead is not missed
            if o.jurisdiction_id is not None and paths.get(o.jurisdiction_id, "").startswith(row.path):
                overdue.add(o.issue_code)
    jurisdiction = conn.execute(sa.select(_juris.c.name).where(_juris.c.path == row.path)).scalar_one()
    return Scorecard(
        row.code,
        row.name,
        jurisdiction,
        year,
        months,
        swaps,
        len(found),
        sum(1 for f in found if f.patrol_id is not None),
        len(answers),
        answers.count("in_time"),
        answers.count("late"),
        answers.count("unanswered"),
        answers.count("pending"),
        sorted(overdue),
    )


_ANSWERS = ("accept", "dispute")


def _handoff_answers(conn: sa.Connection, path: str, start: datetime, end: datetime, now: datetime) -> list[str]:
    """For each hand-off to a side at or under ``path`` in [start, end): in_time, late, unanswered or pending."""
    event = _event
    handoffs = conn.execute(
        sa.select(event.c.issue_id, event.c.seq, event.c.due_at)
        .join(_issue, _issue.c.id == event.c.issue_id)
        .join(_juris, _juris.c.id == _issue.c.receiving_jurisdiction_id)
        .where(
            event.c.trigger == "hand_off",
            event.c.occurred_at >= start,
            event.c.occurred_at < end,
            _juris.c.path.startswith(path),
        )
    ).all()
    if not handoffs:
        return []
    answered: dict[int, list[tuple[int, datetime]]] = {}
    for issue_id, seq, at in conn.execute(
        sa.select(event.c.issue_id, event.c.seq, event.c.occurred_at)
        .where(event.c.issue_id.in_({h.issue_id for h in handoffs}), event.c.trigger.in_(_ANSWERS))
        .order_by(event.c.seq)
    ):
        answered.setdefault(issue_id, []).append((seq, at))
    out = []
    for h in handoffs:
        answer = next((at for seq, at in answered.get(h.issue_id, []) if seq > h.seq), None)
        if answer is not None:
            out.append("in_time" if h.due_at is None or answer <= h.due_at else "late")
        else:
            out.append("pending" if h.due_at is None or now <= h.due_at else "unanswered")
    return out
