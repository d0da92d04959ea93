"""Reading issues: one issue's view, filtered lists with keyset cursors, scopes, and counts for the CLI."""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from states import CHART, Party, allowed_triggers
from states.chart import PARTY_LABELS, PHASES, SEPARATOR, TERMINAL_STATES
from states.policy import CATEGORIES, DEADLINES, DIFFICULTIES
from workflow.core.actors import Beside
from workflow.core.calendar import WorkCalendar
from workflow.core.errors import NotFound, Reason, ValidationFailed
from workflow.core.models import (
    Compact,
    Event,
    Issue,
    Jurisdiction,
    Outbox,
    Person,
    River,
    Segment,
    live,
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
    id: int
    compact_id: int
    reporting_path: str
    receiving_path: str | None
    lon: float | None
    lat: float | None
    segment_id: int | None
    observed_at: datetime | None = None  # when the reporter saw it, if told (a draft sent later)

    @property
    def scope(self) -> IssueScope:
        """Its compact and sides: what reading and acting rights turn on."""
        return IssueScope(self.compact_id, self.reporting_path, self.receiving_path)


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


_compact = table_of(Compact)
# One issue with its sides and compact: what the API's GET and the issue page both read, built once.
_VIEW = (
    sa.select(
        *(
            _issue.c[name]
            for name in (
                "id",
                "code",
                "compact_id",
                "title",
                "description",
                "category",
                "difficulty",
                "place",
                "lon",
                "lat",
                "segment_id",
                "state",
                "version",
                "due_at",
                "rebound_count",
                "ledger_head",
                "created_at",
                "observed_at",
            )
        ),
        _reporting.c.name.label("reporting"),
        _reporting.c.path.label("reporting_path"),
        _receiving.c.name.label("receiving"),
        _receiving.c.path.label("receiving_path"),
        _compact.c.name.label("compact"),
    )
    .select_from(_sides().join(_compact, _compact.c.id == _issue.c.compact_id))
    .where(_issue.c.code == sa.bindparam("code"))
)
_TIMELINE = (
    sa.select(_event, sa.func.coalesce(_person.c.name, "系统").label("actor_name"))
    .select_from(_event.outerjoin(_person, _person.c.id == _event.c.actor_id))
    .where(_event.c.issue_id == sa.bindparam("issue_id"))
    .order_by(_event.c.seq)
)


def issue_view(
    session: Session | sa.Connection,
    code: str,
    *,
    timeline: bool = True,
    compacts: Collection[int] | None = None,
) -> IssueView:
    """An issue with its sides, compact and scope in one statement, and its full timeline in a second (or none,
    when not asked for); NotFound for an unknown code, or for an issue outside ``compacts`` when given (it does
    not exist for a reader of other compacts)."""
    conn = session if isinstance(session, sa.Connection) else session.connection()
    row = conn.execute(_VIEW, {"code": code}).first()
    found = view_of(code, row._mapping if row is not None else None, compacts)
    if not timeline:
        return found
    events = conn.execute(_TIMELINE, {"issue_id": found.id}).all()
    return replace(
        found,
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


def view_beside(code: str) -> Beside:
    """The read behind ``issue_view`` (without the timeline), to send in the caller's statement (``view_of``)."""
    return Beside(_VIEW, {"code": code})


def view_of(code: str, row: Mapping[Any, Any] | None, compacts: Collection[int] | None = None) -> IssueView:
    """The view (without its timeline) in a row of ``issue_view``'s statement; NotFound for no row, or for an
    issue outside ``compacts`` when given."""
    if row is None or (compacts is not None and row["compact_id"] not in compacts):
        raise NotFound("issue", code)
    return IssueView(
        code=row["code"],
        title=row["title"],
        description=row["description"],
        category=row["category"],
        difficulty=row["difficulty"],
        place=row["place"],
        state=row["state"],
        version=row["version"],
        due_at=row["due_at"],
        compact=row["compact"],
        reporting=row["reporting"],
        receiving=row["receiving"],
        rebound_count=row["rebound_count"],
        ledger_head=row["ledger_head"],
        created_at=row["created_at"],
        observed_at=row["observed_at"],
        allowed=allowed_triggers(row["state"]),
        timeline=[],
        id=row["id"],
        compact_id=row["compact_id"],
        reporting_path=row["reporting_path"],
        receiving_path=row["receiving_path"],
        lon=row["lon"],
        lat=row["lat"],
        segment_id=row["segment_id"],
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
        states_known = ", ".join(sorted(known))
        what = ("状态", "state")
        errors.append(
            ("state", Reason("unknown_filter", what=what, value=unknown[0], kinds="states", known=states_known))
        )
    if phase is not None and phase not in {p.name for p in PHASES}:
        phases = ", ".join(p.name for p in PHASES)
        errors.append(
            ("phase", Reason("unknown_filter", what=("环节", "phase"), value=phase, kinds="phases", known=phases))
        )
    if category is not None and category not in CATEGORIES:
        categories = ", ".join(CATEGORIES)
        what = ("问题类别", "category")
        errors.append(
            ("category", Reason("unknown_filter", what=what, value=category, kinds="categories", known=categories))
        )
    if side is not None and side not in SIDES:
        errors.append(("side", Reason("one_of", choices=", ".join(SIDES))))
    elif side is not None and party is None:
        errors.append(("side", "needs party: the jurisdiction whose side it is"))
    return errors


# Whom a waiting state waits on, as the deadlines say; and the orders a list can take.
WAITS = ("reporting", "receiving", "coordinator", "auditor")
ORDERS = ("newest", "oldest", "due")
_ORDERINGS: dict[str, tuple[Any, ...]] = {
    "newest": (_issue.c.created_at.desc(), _issue.c.id.desc()),
    "oldest": (_issue.c.created_at, _issue.c.id),
    "due": (_issue.c.due_at.is_(None), _issue.c.due_at, _issue.c.id),
}


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
    river: str | None = None,
    difficulty: str | None = None,
    waiting_on: str | None = None,
    order: str = "newest",
    offset: int = 0,
    after: tuple[datetime, int] | None = None,
    limit: int = 200,
) -> list[IssueSummary]:
    """Issues, newest first (by created_at, then id), every filter given applied together, all in SQL.

    ``compacts`` is the reader's scope (None: every compact); ``party`` a
    jurisdiction code, matching issues where it or a jurisdiction under it is
    the reporting or receiving side (only ``side``, when given); ``text`` a
    case-insensitive substring of the code, title, description or place, in
    which ``%`` and ``_`` stand for themselves; ``river`` a river's code (its
    segments); ``waiting_on`` the party the issue's state waits on (reporting,
    receiving, coordinator or auditor, as ``states.policy.DEADLINES`` says);
    ``order`` newest first (the default, paged with ``after``, the (created_at,
    id) key of the last row of the page before, see ``cursor_key``), oldest
    first or ``due`` (the nearest deadline first, none last), both paged with
    ``offset``. Unknown states, phases, categories, sides, parties, rivers,
    difficulties, waits and orders are refused naming the field.
    """
    errors = _filter_errors(states, phase, category, side, party)
    party_path = None
    if party is not None:
        jurisdictions = table_of(Jurisdiction)
        party_path = session.execute(sa.select(jurisdictions.c.path).where(jurisdictions.c.code == party)).scalar()
        if party_path is None:
            errors.append(("party", Reason("no_jurisdiction", code=party)))
    if created_from is not None and created_to is not None and created_to <= created_from:
        errors.append(("to", "must be after from"))
    if difficulty is not None and difficulty not in DIFFICULTIES:
        errors.append(("difficulty", Reason("one_of", choices=", ".join(DIFFICULTIES))))
    if waiting_on is not None and waiting_on not in WAITS:
        errors.append(("waiting_on", Reason("one_of", choices=", ".join(WAITS))))
    if order not in ORDERS:
        errors.append(("order", Reason("one_of", choices=", ".join(ORDERS))))
    if order != "newest" and after is not None:
        errors.append(("cursor", "pages by cursor only newest first; use the page number"))
    river_id = None
    if river is not None:
        rivers = table_of(River)
        river_id = session.execute(sa.select(rivers.c.id).where(rivers.c.code == river)).scalar()
        if river_id is None:
            errors.append(("river", Reason("no_river", code=river)))
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
        .order_by(*_ORDERINGS[order])
        .limit(limit)
        .offset(offset)
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
    if difficulty:
        query = query.where(_issue.c.difficulty == difficulty)
    if river_id is not None:
        segments = table_of(Segment)
        on_river = sa.select(segments.c.id).where(segments.c.river_id == river_id)
        query = query.where(_issue.c.segment_id.in_(on_river))
    if waiting_on:
        query = query.where(_issue.c.state.in_(sorted(s for s, d in DEADLINES.items() if d.waits_on == waiting_on)))
    if waiting_on or phase or (states and not TERMINAL_STATES & set(states)):
        # Implied by the states asked for (no phase, no wait is terminal), said as the partial index
        # ix_issue_live_created says it: a compact's live issues are a twentieth of its issues.
        query = query.where(live(_issue.c.state))
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


# Built once: a statement made anew costs more than running it (it is on every step through the API).
_SCOPE = (
    sa.select(_issue.c.compact_id, _reporting.c.path.label("reporting_path"), _receiving.c.path.label("receiving_path"))
    .select_from(_sides())
    .where(_issue.c.code == sa.bindparam("code"))
)


def issue_scope(conn: sa.Connection, code: str) -> IssueScope:
    """The compact and the sides of an issue; NotFound for an unknown code."""
    row = conn.execute(_SCOPE, {"code": code}).first()
    return scope_of(code, row._mapping if row is not None else None)


def scope_of(code: str, row: Mapping[Any, Any] | None) -> IssueScope:
    """The scope in a row of ``issue_scope``'s statement, or of any with its three columns (a step's first load,
    ``step_beside``); NotFound for no row."""
    if row is None:
        raise NotFound("issue", code)
    return IssueScope(row["compact_id"], row["reporting_path"], row["receiving_path"])


def compact_id_of(conn: sa.Connection, code: str) -> int:
    """A compact's id; NotFound for an unknown code."""
    found = conn.execute(sa.select(table_of(Compact).c.id).where(table_of(Compact).c.code == code)).scalar()
    if found is None:
        raise NotFound("compact", code)
    return int(found)
