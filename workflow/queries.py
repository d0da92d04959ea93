"""Read-side queries for the CLI, reports and pages: nothing here changes a row."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from states import Party, allowed_triggers
from states.chart import PARTY_LABELS
from states.policy import DEADLINES
from workflow.calendar import WorkCalendar
from workflow.errors import NotFound
from workflow.models import Compact, Event, Issue, Jurisdiction, Outbox, Person, table_of

_issue = table_of(Issue)
_event = table_of(Event)
_person = table_of(Person)
_reporting = table_of(Jurisdiction).alias("rj")
_receiving = table_of(Jurisdiction).alias("vj")


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One ledger event as people read it."""

    seq: int
    occurred_at: datetime
    trigger: str
    from_state: str
    to_state: str
    actor_code: str
    actor_name: str
    payload: dict[str, Any]
    due_at: datetime | None
    hash: str


@dataclass(frozen=True, slots=True)
class IssueView:
    """An issue with its sides' names and its timeline."""

    code: str
    title: str
    description: str
    category: str
    difficulty: str
    place: str
    state: str
    version: int
    due_at: datetime | None
    compact: str
    reporting: str
    receiving: str | None
    rebound_count: int
    ledger_head: str
    created_at: datetime
    allowed: list[str]
    timeline: list[TimelineEntry]


@dataclass(frozen=True, slots=True)
class IssueSummary:
    """One row of an issue list."""

    code: str
    title: str
    state: str
    version: int
    due_at: datetime | None
    reporting: str
    receiving: str | None
    overdue: bool


def _sides() -> Any:
    return _issue.join(_reporting, _reporting.c.id == _issue.c.reporting_jurisdiction_id).outerjoin(
        _receiving, _receiving.c.id == _issue.c.receiving_jurisdiction_id
    )


def issue_view(session: Session, code: str) -> IssueView:
    """An issue and its full timeline; NotFound for an unknown code."""
    row = session.execute(
        sa.select(
            _issue,
            _reporting.c.name.label("reporting"),
            _receiving.c.name.label("receiving"),
            table_of(Compact).c.name.label("compact"),
        )
        .select_from(_sides().join(table_of(Compact), table_of(Compact).c.id == _issue.c.compact_id))
        .where(_issue.c.code == code)
    ).first()
    if row is None:
        raise NotFound("issue", code)
    events = session.execute(
        sa.select(_event, sa.func.coalesce(_person.c.name, "系统").label("actor_name"))
        .select_from(_event.outerjoin(_person, _person.c.id == _event.c.actor_id))
        .where(_event.c.issue_id == row.id)
        .order_by(_event.c.seq)
    ).all()
    return IssueView(
        code=row.code,
        title=row.title,
        description=row.description,
        category=row.category,
        difficulty=row.difficulty,
        place=row.place,
        state=row.state,
        version=row.version,
        due_at=row.due_at,
        compact=row.compact,
        reporting=row.reporting,
        receiving=row.receiving,
        rebound_count=row.rebound_count,
        ledger_head=row.ledger_head,
        created_at=row.created_at,
        allowed=allowed_triggers(row.state),
        timeline=[
            TimelineEntry(
                e.seq,
                e.occurred_at,
                e.trigger,
                e.from_state,
                e.to_state,
                e.actor_code,
                e.actor_name,
                e.payload,
                e.due_at,
                e.hash,
            )
            for e in events
        ],
    )


def list_issues(
    session: Session,
    *,
    now: datetime,
    compact: str | None = None,
    state: str | None = None,
    overdue: bool = False,
    limit: int = 200,
) -> list[IssueSummary]:
    """Issues, newest first, filtered by compact, state (or phase prefix) and overdue."""
    query = (
        sa.select(
            _issue.c.code,
            _issue.c.title,
            _issue.c.state,
            _issue.c.version,
            _issue.c.due_at,
            _reporting.c.name.label("reporting"),
            _receiving.c.name.label("receiving"),
        )
        .select_from(_sides())
        .order_by(_issue.c.id.desc())
        .limit(limit)
    )
    if compact:
        query = query.join(table_of(Compact), table_of(Compact).c.id == _issue.c.compact_id).where(
            table_of(Compact).c.code == compact
        )
    if state:
        query = query.where(sa.or_(_issue.c.state == state, _issue.c.state.startswith(state + ".")))
    if overdue:
        query = query.where(_issue.c.due_at < now)
    return [
        IssueSummary(
            r.code,
            r.title,
            r.state,
            r.version,
            r.due_at,
            r.reporting,
            r.receiving,
            r.due_at is not None and r.due_at < now,
        )
        for r in session.execute(query)
    ]


def trigger_counts(session: Session) -> Counter[str]:
    """How many times each trigger was fired, across the ledger."""
    rows = session.execute(sa.select(_event.c.trigger, sa.func.count()).group_by(_event.c.trigger))
    return Counter(dict(rows.all()))


def outbox_counts(session: Session) -> Counter[str]:
    """Outbox rows by status."""
    rows = session.execute(sa.select(table_of(Outbox).c.status, sa.func.count()).group_by(table_of(Outbox).c.status))
    return Counter(dict(rows.all()))


@dataclass(frozen=True, slots=True)
class DueItem:
    """An issue waiting on a party, with its deadline."""

    party: str
    party_name: str
    code: str
    title: str
    state: str
    due_at: datetime
    overdue: bool


def due_by_party(
    conn: sa.Connection, *, now: datetime, calendar: WorkCalendar, compact: str | None = None, working_days: int = 3
) -> list[DueItem]:
    """Issues overdue or due within ``working_days``, grouped by the party they wait on (overdue first)."""
    horizon = calendar.due_after(now, working_days)
    query = (
        sa.select(_issue, _reporting.c.name.label("reporting"), _receiving.c.name.label("receiving"))
        .select_from(_sides())
        .where(_issue.c.due_at.is_not(None), _issue.c.due_at <= horizon)
    )
    if compact:
        compacts = table_of(Compact)
        query = query.join(compacts, compacts.c.id == _issue.c.compact_id).where(compacts.c.code == compact)
    items = []
    for r in conn.execute(query):
        policy = DEADLINES.get(r.state)
        party = policy.waits_on if policy else "receiving"
        name = {"reporting": r.reporting, "receiving": r.receiving}.get(party) or PARTY_LABELS[Party(party)]
        items.append(DueItem(party, name, r.code, r.title, r.state, r.due_at, r.due_at < now))
    items.sort(key=lambda i: (not i.overdue, i.party_name, i.due_at))
    return items


@dataclass(frozen=True, slots=True)
class IssueScope:
    """Which compact an issue belongs to and where its sides are: what reading and acting rights turn on."""

    compact_id: int
    reporting_path: str
    receiving_path: str | None


def issue_scope(conn: sa.Connection, code: str) -> IssueScope:
    """The compact and the sides of an issue; NotFound for an unknown code."""
    row = conn.execute(
        sa.select(_issue.c.compact_id, _reporting.c.path.label("rp"), _receiving.c.path.label("vp"))
        .select_from(_sides())
        .where(_issue.c.code == code)
    ).first()
    if row is None:
        raise NotFound("issue", code)
    return IssueScope(row.compact_id, row.rp, row.vp)


def codes_in(conn: sa.Connection, compacts: frozenset[int]) -> set[str]:
    """The codes of every issue of the given compacts."""
    return set(conn.execute(sa.select(_issue.c.code).where(_issue.c.compact_id.in_(compacts))).scalars())


def compact_id_of(conn: sa.Connection, code: str) -> int:
    """A compact's id; NotFound for an unknown code."""
    found = conn.execute(sa.select(table_of(Compact).c.id).where(table_of(Compact).c.code == code)).scalar()
    if found is None:
        raise NotFound("compact", code)
    return int(found)
