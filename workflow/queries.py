"""Read-side queries for the CLI, reports and pages: nothing here changes a row."""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from states import CHART, Party, allowed_triggers
from states.chart import PARTY_LABELS, PHASES, SEPARATOR
from states.policy import CATEGORIES, DEADLINES
from workflow.calendar import WorkCalendar
from workflow.clock import SHANGHAI
from workflow.errors import NotFound, ValidationFailed
from workflow.models import (
    Compact,
    CompactMember,
    CompactStaff,
    Event,
    Issue,
    Jurisdiction,
    Outbox,
    Person,
    ReportFile,
    Revisit,
    River,
    Segment,
    table_of,
)

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
    """One row of an issue list, with the scope its readers' rights turn on."""

    code: str
    title: str
    state: str
    version: int
    due_at: datetime | None
    reporting: str
    receiving: str | None
    overdue: bool
    id: int
    category: str
    created_at: datetime
    reporting_code: str
    receiving_code: str | None
    scope: IssueScope


def _sides() -> Any:
    return _issue.join(_reporting, _reporting.c.id == _issue.c.reporting_jurisdiction_id).outerjoin(
        _receiving, _receiving.c.id == _issue.c.receiving_jurisdiction_id
    )


def issue_view(session: Session, code: str, *, timeline: bool = True) -> IssueView:
    """An issue and its full timeline (or none, when not asked for); NotFound for an unknown code."""
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
    events = (
        session.execute(
            sa.select(_event, sa.func.coalesce(_person.c.name, "系统").label("actor_name"))
            .select_from(_event.outerjoin(_person, _person.c.id == _event.c.actor_id))
            .where(_event.c.issue_id == row.id)
            .order_by(_event.c.seq)
        ).all()
        if timeline
        else []
    )
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


SIDES = ("reporting", "receiving")
_CURSOR_MAX = 200  # characters: a real cursor is about 70


def page_cursor(row: IssueSummary) -> str:
    """The opaque cursor of the page after ``row``: base64url of its (created_at, id) as JSON."""
    return _encode_cursor(row.created_at, row.id)


def cursor_key(cursor: str) -> tuple[datetime, int]:
    """The (created_at, id) a cursor from ``page_cursor`` stands for; ValidationFailed on ``cursor`` otherwise."""
    refused = ValidationFailed("cursor", "is not a cursor this list gave out (use next_cursor as it came)")
    if len(cursor) > _CURSOR_MAX or not cursor.isascii():
        raise refused
    try:
        key = json.loads(base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True))
        at, issue_id = datetime.fromisoformat(key["at"]), key["id"]
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise refused from exc
    valid = (
        isinstance(key, dict)
        and set(key) == {"at", "id"}
        and type(issue_id) is int
        and issue_id > 0
        and at.tzinfo is not None
    )
    # Only the exact text this module writes: an edited one that still decodes is refused too.
    if not valid or _encode_cursor(at, issue_id) != cursor:
        raise refused
    return at, issue_id


def _encode_cursor(at: datetime, issue_id: int) -> str:
    text = json.dumps({"at": at.astimezone(UTC).isoformat(), "id": issue_id}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _filter_errors(
    states: Sequence[str], phase: str | None, category: str | None, side: str | None, party: str | None
) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    known = {s.name for s in CHART.states}
    unknown = [s for s in states if s not in known]
    if unknown:
        errors.append(("state", f"unknown state {unknown[0]!r}; states: {', '.join(sorted(known))}"))
    if phase is not None and phase not in {p.name for p in PHASES}:
        errors.append(("phase", f"unknown phase {phase!r}; phases: {', '.join(p.name for p in PHASES)}"))
    if category is not None and category not in CATEGORIES:
        errors.append(("category", f"unknown category {category!r}; categories: {', '.join(CATEGORIES)}"))
    if side is not None and side not in SIDES:
        errors.append(("side", f"must be one of {', '.join(SIDES)}"))
    elif side is not None and party is None:
        errors.append(("side", "needs party: the jurisdiction whose side it is"))
    return errors


def list_issues(
    session: Session,
    *,
    now: datetime,
    compact: str | None = None,
    compacts: Collection[int] | None = None,
    states: Sequence[str] = (),
    phase: str | None = None,
    party: str | None = None,
    side: str | None = None,
    category: str | None = None,
    overdue: bool = False,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    text: str | None = None,
    after: tuple[datetime, int] | None = None,
    limit: int = 200,
) -> list[IssueSummary]:
    """Issues, newest first (by created_at, then id), every filter given applied together, all in SQL.

    ``compacts`` is the reader's scope (None: every compact); ``party`` a
    jurisdiction code, matching issues where it or a jurisdiction under it is
    the reporting or receiving side (only ``side``, when given); ``text`` a
    case-insensitive substring of the code, title, description or place, in
    which ``%`` and ``_`` stand for themselves; ``after`` the (created_at, id)
    key of the last row of the page before (see ``cursor_key``). Unknown
    states, phases, categories, sides and parties are refused naming the field.
    """
    errors = _filter_errors(states, phase, category, side, party)
    party_path = None
    if party is not None:
        jurisdictions = table_of(Jurisdiction)
        party_path = session.execute(sa.select(jurisdictions.c.path).where(jurisdictions.c.code == party)).scalar()
        if party_path is None:
            errors.append(("party", f"no jurisdiction with code {party!r}"))
    if created_from is not None and created_to is not None and created_to <= created_from:
        errors.append(("to", "must be after from"))
    if errors:
        raise ValidationFailed.of(errors)
    query = (
        sa.select(
            _issue.c.id,
            _issue.c.code,
            _issue.c.title,
            _issue.c.category,
            _issue.c.state,
            _issue.c.version,
            _issue.c.due_at,
            _issue.c.created_at,
            _issue.c.compact_id,
            _reporting.c.code.label("reporting_code"),
            _reporting.c.name.label("reporting"),
            _reporting.c.path.label("reporting_path"),
            _receiving.c.code.label("receiving_code"),
            _receiving.c.name.label("receiving"),
            _receiving.c.path.label("receiving_path"),
        )
        .select_from(_sides())
        .order_by(_issue.c.created_at.desc(), _issue.c.id.desc())
        .limit(limit)
    )
    if compacts is not None:
        query = query.where(_issue.c.compact_id.in_(sorted(compacts)))
    if compact:
        compact_table = table_of(Compact)
        chosen = sa.select(compact_table.c.id).where(compact_table.c.code == compact).scalar_subquery()
        query = query.where(_issue.c.compact_id == chosen)
    if states:
        query = query.where(_issue.c.state.in_(sorted(set(states))))
    if phase:
        query = query.where(_issue.c.state.startswith(phase + SEPARATOR, autoescape=True))
    if party_path is not None:
        on_reporting = _reporting.c.path.startswith(party_path, autoescape=True)
        on_receiving = _receiving.c.path.startswith(party_path, autoescape=True)
        query = query.where(
            {"reporting": on_reporting, "receiving": on_receiving}.get(side or "", on_reporting | on_receiving)
        )
    if category:
        query = query.where(_issue.c.category == category)
    if overdue:
        query = query.where(_issue.c.due_at < now)
    if created_from is not None:
        query = query.where(_issue.c.created_at >= created_from)
    if created_to is not None:
        query = query.where(_issue.c.created_at < created_to)
    if text:
        searched = (_issue.c.code, _issue.c.title, _issue.c.description, _issue.c.place)
        query = query.where(sa.or_(*(c.icontains(text, autoescape=True) for c in searched)))
    if after is not None:
        at, last_id = after
        query = query.where(sa.or_(_issue.c.created_at < at, sa.and_(_issue.c.created_at == at, _issue.c.id < last_id)))
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
            r.id,
            r.category,
            r.created_at,
            r.reporting_code,
            r.receiving_code,
            IssueScope(r.compact_id, r.reporting_path, r.receiving_path),
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


def compact_id_of(conn: sa.Connection, code: str) -> int:
    """A compact's id; NotFound for an unknown code."""
    found = conn.execute(sa.select(table_of(Compact).c.id).where(table_of(Compact).c.code == code)).scalar()
    if found is None:
        raise NotFound("compact", code)
    return int(found)


# -- reference data, joint meetings, revisits and the report archive, as the API reads them --------------------------

_juris = table_of(Jurisdiction)
_compact = table_of(Compact)
_member = table_of(CompactMember)
_staff = table_of(CompactStaff)
_river = table_of(River)
_segment = table_of(Segment)
_revisit = table_of(Revisit)
_report_file = table_of(ReportFile)


@dataclass(frozen=True, slots=True)
class JurisdictionRow:
    """A jurisdiction with its parent's code and the codes from the root down to it."""

    code: str
    name: str
    level: str
    parent: str | None
    path: list[str]


def jurisdiction_rows(
    conn: sa.Connection, *, code: str | None = None, parent: str | None = None, level: str | None = None
) -> list[JurisdictionRow]:
    """Jurisdictions in tree order, optionally one by code, the children of ``parent``, or those of a level."""
    up = _juris.alias("up")
    query = (
        sa.select(_juris.c.code, _juris.c.name, _juris.c.level, _juris.c.path, up.c.code.label("parent"))
        .select_from(_juris.outerjoin(up, up.c.id == _juris.c.parent_id))
        .order_by(_juris.c.path)
    )
    if code is not None:
        query = query.where(_juris.c.code == code)
    if parent is not None:
        query = query.where(up.c.code == parent)
    if level is not None:
        query = query.where(_juris.c.level == level)
    return [
        JurisdictionRow(r.code, r.name, r.level, r.parent, [part for part in r.path.split("/") if part])
        for r in conn.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class CompactRow:
    """A compact with its member jurisdictions and its staff, each as (code, name)."""

    code: str
    name: str
    members: list[tuple[str, str]]
    coordinators: list[tuple[str, str]]
    auditors: list[tuple[str, str]]


def compact_rows(conn: sa.Connection, *, code: str | None = None) -> list[CompactRow]:
    """Compacts by code, each with its members, coordinators and auditors."""
    query = sa.select(_compact.c.id, _compact.c.code, _compact.c.name).order_by(_compact.c.code)
    if code is not None:
        query = query.where(_compact.c.code == code)
    compacts = conn.execute(query).all()
    ids = [c.id for c in compacts]
    members: dict[int, list[tuple[str, str]]] = {}
    for m in conn.execute(
        sa.select(_member.c.compact_id, _juris.c.code, _juris.c.name)
        .join(_juris, _juris.c.id == _member.c.jurisdiction_id)
        .where(_member.c.compact_id.in_(ids))
        .order_by(_juris.c.code)
    ):
        members.setdefault(m.compact_id, []).append((m.code, m.name))
    staff: dict[tuple[int, str], list[tuple[str, str]]] = {}
    for s in conn.execute(
        sa.select(_staff.c.compact_id, _staff.c.role, _person.c.code, _person.c.name)
        .join(_person, _person.c.id == _staff.c.person_id)
        .where(_staff.c.compact_id.in_(ids))
        .order_by(_person.c.code)
    ):
        staff.setdefault((s.compact_id, s.role), []).append((s.code, s.name))
    return [
        CompactRow(
            c.code,
            c.name,
            members.get(c.id, []),
            staff.get((c.id, "coordinator"), []),
            staff.get((c.id, "auditor"), []),
        )
        for c in compacts
    ]


@dataclass(frozen=True, slots=True)
class RiverRow:
    """A river and the codes of its segments."""

    code: str
    name: str
    segments: list[str]


def river_rows(conn: sa.Connection, *, code: str | None = None) -> list[RiverRow]:
    """Rivers by code, each with its segments' codes."""
    query = sa.select(_river.c.id, _river.c.code, _river.c.name).order_by(_river.c.code)
    if code is not None:
        query = query.where(_river.c.code == code)
    rivers = conn.execute(query).all()
    segments: dict[int, list[str]] = {}
    for r in conn.execute(
        sa.select(_segment.c.river_id, _segment.c.code)
        .where(_segment.c.river_id.in_([river.id for river in rivers]))
        .order_by(_segment.c.id)
    ):
        segments.setdefault(r.river_id, []).append(r.code)
    return [RiverRow(r.code, r.name, segments.get(r.id, [])) for r in rivers]


@dataclass(frozen=True, slots=True)
class SegmentRow:
    """A river segment with the codes of its river, jurisdiction, chief and counterpart."""

    code: str
    name: str
    river: str
    jurisdiction: str
    chief: str | None
    counterpart: str | None
    relation: str | None
    length_km: float | None
    geometry: list[list[float]] | None


def segment_rows(
    conn: sa.Connection, *, code: str | None = None, river: str | None = None, jurisdiction: str | None = None
) -> list[SegmentRow]:
    """Segments, optionally one by code, those of a river, or those of a jurisdiction and the ones under it."""
    other = _segment.alias("other")
    query = (
        sa.select(
            _segment.c.code,
            _segment.c.name,
            _segment.c.relation,
            _segment.c.length_km,
            _segment.c.geometry,
            _river.c.code.label("river"),
            _juris.c.code.label("jurisdiction"),
            _person.c.code.label("chief"),
            other.c.code.label("counterpart"),
        )
        .select_from(
            _segment.join(_river, _river.c.id == _segment.c.river_id)
            .join(_juris, _juris.c.id == _segment.c.jurisdiction_id)
            .outerjoin(_person, _person.c.id == _segment.c.chief_id)
            .outerjoin(other, other.c.id == _segment.c.counterpart_id)
        )
        .order_by(_river.c.code, _segment.c.id)
    )
    if code is not None:
        query = query.where(_segment.c.code == code)
    if river is not None:
        query = query.where(_river.c.code == river)
    if jurisdiction is not None:
        query = query.where(_juris.c.path.contains(f"/{jurisdiction}/", autoescape=True))
    return [
        SegmentRow(r.code, r.name, r.river, r.jurisdiction, r.chief, r.counterpart, r.relation, r.length_km, r.geometry)
        for r in conn.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class PersonRow:
    """A person with the compacts they belong to (through their jurisdiction or as staff)."""

    id: int
    code: str
    name: str
    role: str
    jurisdiction: str | None
    organisation: str | None
    title: str | None
    email: str | None
    phone: str | None
    channels: list[str]
    contacts: dict[str, Any]
    locale: str
    active: bool
    compacts: frozenset[int]


def _compact_paths(conn: sa.Connection) -> list[tuple[int, str]]:
    return [
        (r.compact_id, r.path)
        for r in conn.execute(
            sa.select(_member.c.compact_id, _juris.c.path).join(_juris, _juris.c.id == _member.c.jurisdiction_id)
        )
    ]


def person_rows(
    conn: sa.Connection,
    *,
    code: str | None = None,
    within: Collection[int] | None = None,
    role: str | None = None,
    under: str | None = None,
    limit: int = 500,
    offset: int = 0,
) -> list[PersonRow]:
    """People by code, optionally only those of the compacts ``within``, of a role, or under a jurisdiction."""
    query = (
        sa.select(_person, _juris.c.code.label("jurisdiction"), _juris.c.path)
        .select_from(_person.outerjoin(_juris, _juris.c.id == _person.c.jurisdiction_id))
        .order_by(_person.c.code)
        .limit(limit)
        .offset(offset)
    )
    paths = _compact_paths(conn)
    if within is not None:
        # A member's people are those whose jurisdiction is the member's or below it (a prefix of the path).
        inside = [_juris.c.path.startswith(path, autoescape=True) for compact, path in paths if compact in within]
        staff = sa.select(_staff.c.person_id).where(_staff.c.compact_id.in_(list(within)))
        query = query.where(sa.or_(_person.c.id.in_(staff), *inside))
    if code is not None:
        query = query.where(_person.c.code == code)
    if role is not None:
        query = query.where(_person.c.role == role)
    if under is not None:
        query = query.where(_juris.c.path.contains(f"/{under}/", autoescape=True))
    rows = conn.execute(query).all()
    served: dict[int, set[int]] = {}
    for r in conn.execute(
        sa.select(_staff.c.person_id, _staff.c.compact_id).where(_staff.c.person_id.in_([p.id for p in rows]))
    ):
        served.setdefault(r.person_id, set()).add(r.compact_id)
    return [
        PersonRow(
            r.id,
            r.code,
            r.name,
            r.role,
            r.jurisdiction,
            r.organisation,
            r.title,
            r.email,
            r.phone,
            list(r.channels or []),
            dict(r.contacts or {}),
            r.locale,
            bool(r.active),
            frozenset(served.get(r.id, set()) | {c for c, p in paths if r.path and r.path.startswith(p)}),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class Attendee:
    """Someone expected at a joint meeting."""

    code: str
    name: str
    role: str
    title: str | None


@dataclass(frozen=True, slots=True)
class MeetingItem:
    """One issue put to a joint meeting (a ``convene`` step), with what the meeting resolved, if it has."""

    issue_code: str
    issue_title: str
    compact: str
    day: date
    level: str
    agenda: str
    convened_at: datetime
    convened_by: str
    state: str
    resolution: str | None
    plan: str | None
    deadline: str | None
    resolved_at: datetime | None
    attendees: list[Attendee]


def meeting_items(
    conn: sa.Connection, compacts: Collection[int], *, start: date | None = None, end: date | None = None
) -> list[MeetingItem]:
    """Issues put to joint meetings in the compacts, by meeting day in [start, end) (the day convened if none was set).

    Each ``convene`` is paired with the first ``resolve`` after it and before the issue is convened again;
    the attendees are the compact's coordinators and the chiefs of both sides, as the minutes list them.
    """
    compacts = list(compacts)
    steps = conn.execute(
        sa.select(
            _event.c.issue_id,
            _event.c.seq,
            _event.c.trigger,
            _event.c.payload,
            _event.c.occurred_at,
            sa.func.coalesce(_person.c.name, "系统").label("actor_name"),
            _issue.c.code,
            _issue.c.title,
            _issue.c.state,
            _issue.c.compact_id,
            _issue.c.reporting_jurisdiction_id,
            _issue.c.receiving_jurisdiction_id,
            _compact.c.code.label("compact"),
        )
        .select_from(
            _event.join(_issue, _issue.c.id == _event.c.issue_id)
            .join(_compact, _compact.c.id == _issue.c.compact_id)
            .outerjoin(_person, _person.c.id == _event.c.actor_id)
        )
        .where(_issue.c.compact_id.in_(compacts), _event.c.trigger.in_(("convene", "resolve")))
        .order_by(_event.c.issue_id, _event.c.seq)
    ).all()
    coordinators: dict[int, list[Attendee]] = {}
    for r in conn.execute(
        sa.select(_staff.c.compact_id, _person.c.code, _person.c.name, _person.c.role, _person.c.title)
        .join(_person, _person.c.id == _staff.c.person_id)
        .where(_staff.c.compact_id.in_(compacts), _staff.c.role == "coordinator", _person.c.active.is_(True))
        .order_by(_person.c.code)
    ):
        coordinators.setdefault(r.compact_id, []).append(Attendee(r.code, r.name, r.role, r.title))
    sides = {s.reporting_jurisdiction_id for s in steps} | {s.receiving_jurisdiction_id for s in steps}
    chiefs: dict[int, list[Attendee]] = {}
    for r in conn.execute(
        sa.select(_person.c.jurisdiction_id, _person.c.code, _person.c.name, _person.c.role, _person.c.title)
        .where(_person.c.role == "chief", _person.c.active.is_(True), _person.c.jurisdiction_id.in_(sides - {None}))
        .order_by(_person.c.code)
    ):
        chiefs.setdefault(r.jurisdiction_id, []).append(Attendee(r.code, r.name, r.role, r.title))
    items: list[MeetingItem] = []
    for i, step in enumerate(steps):
        if step.trigger != "convene":
            continue
        after = steps[i + 1] if i + 1 < len(steps) else None
        resolved = (
            after if after is not None and after.issue_id == step.issue_id and after.trigger == "resolve" else None
        )
        payload = step.payload or {}
        day = date.fromisoformat(payload["meeting_date"]) if payload.get("meeting_date") else None
        day = day or step.occurred_at.astimezone(SHANGHAI).date()
        if (start is not None and day < start) or (end is not None and day >= end):
            continue
        decided = (resolved.payload or {}) if resolved is not None else {}
        items.append(
            MeetingItem(
                issue_code=step.code,
                issue_title=step.title,
                compact=step.compact,
                day=day,
                level=payload.get("level", ""),
                agenda=payload.get("agenda", ""),
                convened_at=step.occurred_at,
                convened_by=step.actor_name,
                state=step.state,
                resolution=decided.get("resolution"),
                plan=decided.get("plan"),
                deadline=decided.get("deadline"),
                resolved_at=resolved.occurred_at if resolved is not None else None,
                attendees=[
                    *coordinators.get(step.compact_id, []),
                    *chiefs.get(step.reporting_jurisdiction_id, []),
                    *chiefs.get(step.receiving_jurisdiction_id, []),
                ],
            )
        )
    items.sort(key=lambda m: (m.day, m.level, m.issue_code))
    return items


@dataclass(frozen=True, slots=True)
class RevisitRow:
    """A planned, done or cancelled revisit of an issue."""

    id: int
    issue_code: str
    issue_title: str
    compact: str
    cycle: int
    seq: int
    offset_days: int
    due_on: date
    status: str
    outcome: str | None
    done_at: datetime | None


def revisit_rows(
    conn: sa.Connection,
    compacts: Collection[int],
    *,
    issue: str | None = None,
    status: str | None = None,
    due_before: date | None = None,
) -> list[RevisitRow]:
    """Revisits of the compacts' issues by due day, optionally of one issue, of a status, or due before a day."""
    query = (
        sa.select(
            _revisit,
            _issue.c.code.label("issue_code"),
            _issue.c.title.label("issue_title"),
            _compact.c.code.label("compact"),
        )
        .select_from(
            _revisit.join(_issue, _issue.c.id == _revisit.c.issue_id).join(
                _compact, _compact.c.id == _issue.c.compact_id
            )
        )
        .where(_issue.c.compact_id.in_(list(compacts)))
        .order_by(_revisit.c.due_on, _issue.c.code, _revisit.c.cycle, _revisit.c.seq)
    )
    if issue is not None:
        query = query.where(_issue.c.code == issue)
    if status is not None:
        query = query.where(_revisit.c.status == status)
    if due_before is not None:
        query = query.where(_revisit.c.due_on < due_before)
    return [
        RevisitRow(
            r.id,
            r.issue_code,
            r.issue_title,
            r.compact,
            r.cycle,
            r.seq,
            r.offset_days,
            r.due_on,
            r.status,
            r.outcome,
            r.done_at,
        )
        for r in conn.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class ReportRow:
    """A filed report: what it is, where its file lies (relative to the data folder) and its SHA-256."""

    id: int
    compact: str
    kind: str
    period: str | None
    title: str
    issue_code: str | None
    path: str
    sha256: str
    size: int
    created_at: datetime


def report_rows(
    conn: sa.Connection,
    compacts: Collection[int],
    *,
    report_id: int | None = None,
    kind: str | None = None,
    period: str | None = None,
    limit: int | None = None,
) -> list[ReportRow]:
    """Filed reports of the compacts, newest first (at most ``limit``), optionally one by id, of a kind or a period."""
    query = (
        sa.select(_report_file, _compact.c.code.label("compact"), _issue.c.code.label("issue_code"))
        .select_from(
            _report_file.join(_compact, _compact.c.id == _report_file.c.compact_id).outerjoin(
                _issue, _issue.c.id == _report_file.c.issue_id
            )
        )
        .where(_report_file.c.compact_id.in_(list(compacts)))
        .order_by(_report_file.c.id.desc())
    )
    if report_id is not None:
        query = query.where(_report_file.c.id == report_id)
    if kind is not None:
        query = query.where(_report_file.c.kind == kind)
    if period is not None:
        query = query.where(_report_file.c.period == period)
    if limit is not None:
        query = query.limit(limit)
    return [
        ReportRow(r.id, r.compact, r.kind, r.period, r.title, r.issue_code, r.path, r.sha256, r.size, r.created_at)
        for r in conn.execute(query)
    ]
