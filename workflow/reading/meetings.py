"""Reading joint meetings and action items as the API, the pages and the minutes show them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from workflow.core.errors import NotFound
from workflow.core.models import (
    ActionItem,
    Bulletin,
    Compact,
    Event,
    Issue,
    Jurisdiction,
    Meeting,
    MeetingInvitee,
    MeetingIssue,
    Person,
    table_of,
)

meeting_table = table_of(Meeting)
invitee_table = table_of(MeetingInvitee)
agenda_table = table_of(MeetingIssue)
action_table = table_of(ActionItem)
issue_table = table_of(Issue)
person_table = table_of(Person)
jurisdiction_table = table_of(Jurisdiction)
compact_table = table_of(Compact)
_event = table_of(Event)


@dataclass(frozen=True, slots=True)
class Invitee:
    """Someone invited, from which jurisdiction, and whether they came."""

    code: str
    name: str
    role: str
    jurisdiction: str | None  # its name; None for the compact's coordinators
    attendance: str
    stand_in: str | None


@dataclass(frozen=True, slots=True)
class AgendaItem:
    """An issue on the agenda, and what the meeting decided on it."""

    code: str
    title: str
    state: str
    role: str  # decide | review
    resolution: str | None
    plan: str | None
    deadline: str | None
    owner: str | None  # the side that rectifies: the issue's receiving jurisdiction


@dataclass(frozen=True, slots=True)
class ActionView:
    """An action item as people read it."""

    code: str
    compact: str
    meeting: str | None
    title: str
    owner_code: str
    owner: str
    due_on: date
    status: str
    overdue: bool
    done_at: datetime | None
    outcome: str | None


@dataclass(frozen=True, slots=True)
class MeetingView:
    """A meeting with its invitees, agenda and action items."""

    code: str
    compact: str
    compact_id: int
    compact_name: str
    level: str
    suggested_level: str
    level_reason: str | None
    title: str
    starts_at: datetime
    place: str
    convener: str | None
    status: str
    note: str | None
    version: int
    invitees: tuple[Invitee, ...]
    agenda: tuple[AgendaItem, ...]
    actions: tuple[ActionView, ...]


_ACTIONS = (
    sa.select(
        action_table,
        compact_table.c.code.label("compact"),
        jurisdiction_table.c.code.label("owner_code"),
        jurisdiction_table.c.name.label("owner"),
        meeting_table.c.code.label("meeting"),
    )
    .join(compact_table, compact_table.c.id == action_table.c.compact_id)
    .join(jurisdiction_table, jurisdiction_table.c.id == action_table.c.owner_jurisdiction_id)
    .outerjoin(meeting_table, meeting_table.c.id == action_table.c.meeting_id)
)


def action_items(
    conn: sa.Connection,
    compacts: Collection[int],
    now: datetime,
    *,
    status: str | None = None,
    overdue: bool | None = None,
    meeting_id: int | None = None,
    code: str | None = None,
) -> list[ActionView]:
    """The compacts' action items, due first."""
    query = _ACTIONS.where(action_table.c.compact_id.in_(list(compacts)))
    if status is not None:
        query = query.where(action_table.c.status == status)
    if overdue is not None:
        late = sa.and_(action_table.c.status == "open", action_table.c.due_at < now)
        query = query.where(late if overdue else sa.not_(late))
    if meeting_id is not None:
        query = query.where(action_table.c.meeting_id == meeting_id)
    if code is not None:
        query = query.where(action_table.c.code == code)
    rows = conn.execute(query.order_by(action_table.c.due_on, action_table.c.id)).all()
    return [
        ActionView(
            code=r.code,
            compact=r.compact,
            meeting=r.meeting,
            title=r.title,
            owner_code=r.owner_code,
            owner=r.owner,
            due_on=r.due_on,
            status=r.status,
            overdue=r.status == "open" and r.due_at < now,
            done_at=r.done_at,
            outcome=r.outcome,
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class MeetingRow:
    """A meeting in a list."""

    code: str
    compact: str
    level: str
    title: str
    starts_at: datetime
    place: str
    status: str
    issues: int


def list_meetings(
    conn: sa.Connection,
    compacts: Collection[int],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    status: str | None = None,
    level: str | None = None,
) -> list[MeetingRow]:
    """The compacts' meetings starting in [start, end), soonest last (the newest first)."""
    issues = (
        sa.select(sa.func.count())
        .where(agenda_table.c.meeting_id == meeting_table.c.id)
        .correlate(meeting_table)
        .scalar_subquery()
    )
    query = (
        sa.select(meeting_table, compact_table.c.code.label("compact"), issues.label("issues"))
        .join(compact_table, compact_table.c.id == meeting_table.c.compact_id)
        .where(meeting_table.c.compact_id.in_(list(compacts)))
    )
    if start is not None:
        query = query.where(meeting_table.c.starts_at >= start)
    if end is not None:
        query = query.where(meeting_table.c.starts_at < end)
    if status is not None:
        query = query.where(meeting_table.c.status == status)
    if level is not None:
        query = query.where(meeting_table.c.level == level)
    rows = conn.execute(query.order_by(meeting_table.c.starts_at.desc(), meeting_table.c.id.desc())).all()
    return [
        MeetingRow(r.code, r.compact, r.level, r.title, r.starts_at, r.place, r.status, int(r.issues)) for r in rows
    ]


def meeting_view(conn: sa.Connection, code: str, now: datetime) -> MeetingView:
    """One meeting, whole; NotFound when there is none (callers check who may read it)."""
    row = conn.execute(
        sa.select(
            meeting_table,
            compact_table.c.code.label("compact"),
            compact_table.c.name.label("compact_name"),
            person_table.c.name.label("convener"),
        )
        .join(compact_table, compact_table.c.id == meeting_table.c.compact_id)
        .outerjoin(person_table, person_table.c.id == meeting_table.c.convener_id)
        .where(meeting_table.c.code == code)
    ).first()
    if row is None:
        raise NotFound("meeting", code)
    invitees = conn.execute(
        sa.select(
            person_table.c.code,
            person_table.c.name,
            person_table.c.role,
            jurisdiction_table.c.name.label("jurisdiction"),
            invitee_table.c.attendance,
            invitee_table.c.stand_in,
        )
        .join(person_table, person_table.c.id == invitee_table.c.person_id)
        .outerjoin(jurisdiction_table, jurisdiction_table.c.id == invitee_table.c.jurisdiction_id)
        .where(invitee_table.c.meeting_id == row.id)
        .order_by(jurisdiction_table.c.path.nulls_last(), person_table.c.code)
    ).all()
    agenda = conn.execute(
        sa.select(
            issue_table.c.id,
            issue_table.c.code,
            issue_table.c.title,
            issue_table.c.state,
            agenda_table.c.role,
            agenda_table.c.decision_seq,
            jurisdiction_table.c.name.label("owner"),
        )
        .join(issue_table, issue_table.c.id == agenda_table.c.issue_id)
        .outerjoin(jurisdiction_table, jurisdiction_table.c.id == issue_table.c.receiving_jurisdiction_id)
        .where(agenda_table.c.meeting_id == row.id)
        .order_by(agenda_table.c.position)
    ).all()
    decided = [(a.id, a.decision_seq) for a in agenda if a.decision_seq is not None]
    decisions = {}
    if decided:
        decisions = {
            r.issue_id: r.payload
            for r in conn.execute(
                sa.select(_event.c.issue_id, _event.c.payload).where(
                    sa.tuple_(_event.c.issue_id, _event.c.seq).in_(decided)
                )
            )
        }
    return MeetingView(
        code=row.code,
        compact=row.compact,
        compact_id=row.compact_id,
        compact_name=row.compact_name,
        level=row.level,
        suggested_level=row.suggested_level,
        level_reason=row.level_reason,
        title=row.title,
        starts_at=row.starts_at,
        place=row.place,
        convener=row.convener,
        status=row.status,
        note=row.note,
        version=row.version,
        invitees=tuple(Invitee(i.code, i.name, i.role, i.jurisdiction, i.attendance, i.stand_in) for i in invitees),
        agenda=tuple(
            AgendaItem(
                a.code,
                a.title,
                a.state,
                a.role,
                decisions.get(a.id, {}).get("resolution"),
                decisions.get(a.id, {}).get("plan"),
                decisions.get(a.id, {}).get("deadline"),
                a.owner,
            )
            for a in agenda
        ),
        actions=tuple(action_items(conn, [row.compact_id], now, meeting_id=row.id)),
    )


def progress_bulletins(conn: sa.Connection, compacts: Collection[int]) -> list[dict[str, object]]:
    """The progress bulletins (通报整改情况) issued for the compacts, newest first, with their numbers and spans."""
    bulletins = table_of(Bulletin)
    rows = conn.execute(
        sa.select(bulletins, compact_table.c.code.label("compact"))
        .join(compact_table, compact_table.c.id == bulletins.c.compact_id)
        .where(bulletins.c.compact_id.in_(list(compacts)), bulletins.c.kind == "progress")
        .order_by(bulletins.c.created_at.desc(), bulletins.c.id.desc())
    ).all()
    return [
        {
            "compact": r.compact,
            "period": r.period,
            "number": r.figures.get("number"),
            "from": r.figures.get("from"),
            "to": r.figures.get("to"),
            "issued_at": r.created_at.isoformat(),
            "overdue_parties": len(r.parties),
            "overdue_actions": len(r.figures.get("overdue_actions", [])),
        }
        for r in rows
    ]
