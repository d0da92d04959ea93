"""The data behind each report, gathered through read-only queries (reports never touch rows)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from states import CHART
from states.chart import MEETING_LEVELS, Party
from states.policy import CATEGORIES, DEADLINES, DIFFICULTIES
from workflow.core.calendar import local_today
from workflow.core.errors import NotFound
from workflow.core.evidence import photos
from workflow.core.models import (
    Attachment,
    Bulletin,
    ChecklistCheck,
    Compact,
    CompactStaff,
    Event,
    Issue,
    Jurisdiction,
    LedgerSeal,
    Person,
    Revisit,
    River,
    Segment,
    SignOff,
    table_of,
)

_issue, _event, _person = table_of(Issue), table_of(Event), table_of(Person)
_juris, _compact, _segment, _river = table_of(Jurisdiction), table_of(Compact), table_of(Segment), table_of(River)
_attachment = table_of(Attachment)
_sign, _check, _revisit, _bulletin = table_of(SignOff), table_of(ChecklistCheck), table_of(Revisit), table_of(Bulletin)


@dataclass(frozen=True, slots=True)
class Entry:
    """One field of a step's payload; a value the report words in its own language is left a code."""

    name: str
    value: str | tuple[str, ...]
    # None: data, shown as it is (a list joined); "category", "level": a code; "checklist": item codes.
    word: str | None = None
    names: tuple[str, ...] = ()  # checklist: the items' Chinese names, beside their codes in ``value``
    snapshot: bool = False  # a field of the issue as first reported (report, flag), not of a trigger's form


@dataclass(frozen=True, slots=True)
class Step:
    """One ledger event as a report shows it; states and the trigger are codes the report words."""

    seq: int
    at: datetime
    trigger: str
    from_state: str
    to_state: str
    actor: str | None  # None: the system took the step
    actor_org: str
    payload: list[Entry]
    due_at: datetime | None
    hash: str


@dataclass(frozen=True, slots=True)
class Wait:
    """A deadline and whether it was met."""

    state: str
    waits_on: Party
    set_at: datetime
    due_at: datetime
    ended_at: datetime | None
    met: bool | None  # None: still waiting and not yet late


@dataclass(slots=True)
class FollowUp:
    """Everything in an issue follow-up report (问题跟踪报告); category, difficulty and state are codes."""

    code: str
    title: str
    description: str
    category: str
    difficulty: str | None  # None for a difficulty the policy does not know
    compact: str
    compact_code: str
    reporting: str
    receiving: str | None
    reporter: str | None
    place: str
    lon: float | None
    lat: float | None
    segment: str | None
    river: str | None
    segment_geometry: list[list[float]] | None
    state: str
    version: int
    rebound_count: int
    ledger_head: str
    steps: list[Step] = field(default_factory=list)
    waits: list[Wait] = field(default_factory=list)
    sign_offs: list[dict[str, Any]] = field(default_factory=list)
    checklist: list[dict[str, Any]] = field(default_factory=list)
    revisits: list[dict[str, Any]] = field(default_factory=list)
    photos: list[dict[str, Any]] = field(default_factory=list)


# The fields of the issue a report or flag step records, in the order the report lists them.
_SNAPSHOT_FIELDS = ("title", "description", "category", "place", "segment")


@dataclass(frozen=True, slots=True)
class _Names:
    """What codes in a payload stand for, so a report shows names a reader knows."""

    jurisdictions: dict[str, str]
    segments: dict[str, str]
    checklist: dict[str, str]


def _names(conn: sa.Connection, category: str) -> _Names:
    return _Names(
        dict(conn.execute(sa.select(_juris.c.code, _juris.c.name)).all()),
        dict(conn.execute(sa.select(_segment.c.code, _segment.c.name)).all()),
        dict(CATEGORIES[category].checklist) if category in CATEGORIES else {},
    )


def _payload_rows(trigger: str, payload: dict[str, Any], names: _Names) -> list[Entry]:
    """A step's payload, field by field; codes the report words (a category, a level, checklist items) stay codes."""
    snapshot = trigger in ("report", "flag")
    fields = _SNAPSHOT_FIELDS if snapshot else tuple(CHART.field_labels(trigger))
    rows = []
    for name in fields:
        value = payload.get(name)
        if value in (None, "", []):
            continue
        if name == "category" and value in CATEGORIES:
            rows.append(Entry(name, str(value), "category", snapshot=snapshot))
        elif name == "level" and value in MEETING_LEVELS:
            rows.append(Entry(name, str(value), "level", snapshot=snapshot))
        elif name == "checklist" and isinstance(value, list):
            codes = tuple(map(str, value))
            zh = tuple(names.checklist.get(item, item) for item in codes)
            rows.append(Entry(name, codes, "checklist", zh, snapshot=snapshot))
        else:
            if name == "receiving":
                value = names.jurisdictions.get(value, value)
            elif name == "segment":
                value = names.segments.get(value, value)
            shown = tuple(map(str, value)) if isinstance(value, list) else str(value)
            rows.append(Entry(name, shown, snapshot=snapshot))
    return rows


def followup(conn: sa.Connection, code: str) -> FollowUp:
    """The follow-up report's data for one issue; NotFound for an unknown code."""
    rj, vj = _juris.alias("rj"), _juris.alias("vj")
    reporter = _person.alias("reporter")
    row = conn.execute(
        sa.select(
            _issue,
            rj.c.name.label("reporting"),
            vj.c.name.label("receiving"),
            _compact.c.name.label("compact"),
            _compact.c.code.label("compact_code"),
            _segment.c.name.label("segment"),
            _segment.c.geometry,
            _river.c.name.label("river"),
            reporter.c.name.label("reporter"),
        )
        .select_from(
            _issue.join(rj, rj.c.id == _issue.c.reporting_jurisdiction_id)
            .outerjoin(vj, vj.c.id == _issue.c.receiving_jurisdiction_id)
            .join(_compact, _compact.c.id == _issue.c.compact_id)
            .outerjoin(_segment, _segment.c.id == _issue.c.segment_id)
            .outerjoin(_river, _river.c.id == _segment.c.river_id)
            .outerjoin(reporter, reporter.c.id == _issue.c.reporter_id)
        )
        .where(_issue.c.code == code)
    ).first()
    if row is None:
        raise NotFound("issue", code)
    report = FollowUp(
        code=row.code,
        title=row.title,
        description=row.description,
        category=row.category,
        difficulty=row.difficulty if row.difficulty in DIFFICULTIES else None,
        compact=row.compact,
        compact_code=row.compact_code,
        reporting=row.reporting,
        receiving=row.receiving,
        reporter=row.reporter,
        place=row.place,
        lon=row.lon,
        lat=row.lat,
        segment=row.segment,
        river=row.river,
        segment_geometry=row.geometry,
        state=row.state,
        version=row.version,
        rebound_count=row.rebound_count,
        ledger_head=row.ledger_head,
    )
    actor_j = _juris.alias("aj")
    events = conn.execute(
        sa.select(
            _event,
            _person.c.name.label("actor_name"),  # None: the system, which the report names in its language
            sa.func.coalesce(actor_j.c.name, _person.c.organisation, "").label("actor_org"),
        )
        .select_from(
            _event.outerjoin(_person, _person.c.id == _event.c.actor_id).outerjoin(
                actor_j, actor_j.c.id == _person.c.jurisdiction_id
            )
        )
        .where(_event.c.issue_id == row.id)
        .order_by(_event.c.seq)
    ).all()
    # Earlier filings of reports are left out, and the chain is shown up to the last step of the
    # handling itself: the same issue gives the same report, however often it has been filed.
    events = [e for e in events if e.trigger != "file_report"]
    if events:
        report.version, report.ledger_head = events[-1].seq, events[-1].hash
    names = _names(conn, row.category)
    for e in events:
        report.steps.append(
            Step(
                e.seq,
                e.occurred_at,
                e.trigger,
                e.from_state,
                e.to_state,
                e.actor_name,
                e.actor_org,
                _payload_rows(e.trigger, e.payload, names),
                e.due_at,
                e.hash,
            )
        )
    report.waits = _waits(events)
    people = dict(conn.execute(sa.select(_person.c.id, _person.c.name)).all())
    report.sign_offs = [
        {
            "round": s.round,
            "side": Party(s.side),
            "person": people.get(s.person_id, "—"),
            "at": s.signed_at,
        }
        for s in conn.execute(sa.select(_sign).where(_sign.c.issue_id == row.id).order_by(_sign.c.round, _sign.c.side))
    ]
    report.checklist = [
        {
            "round": c.round,
            "item": c.item,  # the code, worded by the report; "label" is its Chinese name
            "label": names.checklist.get(c.item, c.item),
            "person": people.get(c.person_id, "—"),
            "at": c.checked_at,
        }
        for c in conn.execute(
            sa.select(_check).where(_check.c.issue_id == row.id).order_by(_check.c.round, _check.c.id)
        )
    ]
    report.revisits = [
        {
            "cycle": r.cycle,
            "seq": r.seq,
            "due_on": r.due_on,
            "status": r.status,
            "outcome": r.outcome,
            "done_at": r.done_at,
        }
        for r in conn.execute(
            sa.select(_revisit).where(_revisit.c.issue_id == row.id).order_by(_revisit.c.cycle, _revisit.c.seq)
        )
    ]
    report.photos = photos(conn, row.id)
    return report


def _waits(events: Sequence[Any]) -> list[Wait]:
    """Each deadline set along the way and whether the next move came in time."""
    moves = [e for e in events if e.from_state != e.to_state]
    waits = []
    for i, e in enumerate(moves):
        if e.due_at is None:
            continue
        ended = moves[i + 1].occurred_at if i + 1 < len(moves) else None
        policy = DEADLINES.get(e.to_state)
        waits_on = Party(policy.waits_on if policy else "receiving")
        met = None if ended is None else ended <= e.due_at
        waits.append(Wait(e.to_state, waits_on, e.occurred_at, e.due_at, ended, met))
    return waits


def bulletin(conn: sa.Connection, compact_code: str, period: str, kind: str = "monthly") -> dict[str, Any]:
    """A stored bulletin (月通报) or interview list with its compact; NotFound if not generated yet.

    A party with no jurisdiction (the joint meeting, the third-party auditor) was stored under a Chinese
    name; it is handed over with ``jurisdiction`` None, for the report to name it in its own language.
    """
    row = conn.execute(
        sa.select(_bulletin, _compact.c.name.label("compact"))
        .join(_compact, _compact.c.id == _bulletin.c.compact_id)
        .where(_compact.c.code == compact_code, _bulletin.c.kind == kind, _bulletin.c.period == period)
    ).first()
    if row is None:
        raise NotFound(f"{kind} bulletin", f"{compact_code} {period}")
    parties = [p if p.get("jurisdiction_id") is not None else {**p, "jurisdiction": None} for p in row.parties]
    return {
        "compact": row.compact,
        "compact_code": compact_code,
        "period": period,
        "figures": row.figures,
        "parties": parties,
        "created_at": row.created_at,
        "id": row.id,
    }


def ledger_rows(
    conn: sa.Connection, compact_code: str, start: datetime | None = None, end: datetime | None = None
) -> list[dict[str, Any]]:
    """The 台账: one row per issue of the compact reported in [start, end), in code order."""
    rj, vj = _juris.alias("rj"), _juris.alias("vj")
    firsts = (
        sa.select(_event.c.issue_id, _event.c.trigger, sa.func.min(_event.c.occurred_at).label("at"))
        .group_by(_event.c.issue_id, _event.c.trigger)
        .subquery()
    )
    query = (
        sa.select(_issue, rj.c.name.label("reporting"), vj.c.name.label("receiving"))
        .select_from(
            _issue.join(rj, rj.c.id == _issue.c.reporting_jurisdiction_id)
            .outerjoin(vj, vj.c.id == _issue.c.receiving_jurisdiction_id)
            .join(_compact, _compact.c.id == _issue.c.compact_id)
        )
        .where(_compact.c.code == compact_code)
        .order_by(_issue.c.code)
    )
    if start is not None:
        query = query.where(_issue.c.created_at >= start)
    if end is not None:
        query = query.where(_issue.c.created_at < end)
    issues = conn.execute(query).all()
    when: dict[tuple[int, str], datetime] = {}
    wanted = ("hand_off", "accept", "report_done", "close", "archive")
    ids = [i.id for i in issues]
    for start_i in range(0, len(ids), 500):
        chunk = ids[start_i : start_i + 500]
        for r in conn.execute(sa.select(firsts).where(firsts.c.issue_id.in_(chunk), firsts.c.trigger.in_(wanted))):
            when[(r.issue_id, r.trigger)] = r.at
    return [
        {
            "id": i.id,
            "code": i.code,
            "title": i.title,
            "category": i.category,  # codes: the report words them in its language
            "reporting": i.reporting,
            "receiving": i.receiving or "",
            "state": i.state,
            "reported_at": i.created_at,
            "handed_off_at": when.get((i.id, "hand_off")),
            "accepted_at": when.get((i.id, "accept")),
            "rectified_at": when.get((i.id, "report_done")),
            "closed_at": when.get((i.id, "close")),
            "due_at": i.due_at,
            "rebounds": i.rebound_count,
            "version": i.version,
            "head": i.ledger_head,
        }
        for i in issues
    ]


def last_entry(conn: sa.Connection, issue_ids: Sequence[int]) -> datetime | None:
    """When the latest ledger entry of these issues was written; None for none."""
    latest: datetime | None = None
    for at in range(0, len(issue_ids), 500):
        found = conn.execute(
            sa.select(sa.func.max(_event.c.occurred_at)).where(_event.c.issue_id.in_(issue_ids[at : at + 500]))
        ).scalar()
        if found is not None and (latest is None or found > latest):
            latest = found
    return latest


@dataclass(frozen=True, slots=True)
class SealView:
    """The latest daily seal: a hash over every chain head at the end of ``day``."""

    day: Any
    chains: int
    hash: str


def latest_seal(conn: sa.Connection) -> SealView | None:
    """The newest daily seal of the ledger, or None before the first."""
    seal = table_of(LedgerSeal)
    row = conn.execute(sa.select(seal.c.day, seal.c.chains, seal.c.hash).order_by(seal.c.day.desc()).limit(1)).first()
    return SealView(row.day, row.chains, row.hash) if row is not None else None


def _events_in(
    conn: sa.Connection,
    compact_code: str,
    triggers: tuple[str, ...],
    start: datetime,
    end: datetime,
    issues: Collection[str] | None = None,
) -> list[Any]:
    rj, vj = _juris.alias("rj"), _juris.alias("vj")
    query = (
        sa.select(
            _event,
            _issue.c.code,
            _issue.c.title,
            _issue.c.receiving_jurisdiction_id,
            _issue.c.reporting_jurisdiction_id,
            rj.c.name.label("reporting"),
            vj.c.name.label("receiving"),
            _person.c.name.label("actor_name"),  # None for the system: the reports word it
            _person.c.organisation.label("actor_org"),
        )
        .select_from(
            _event.join(_issue, _issue.c.id == _event.c.issue_id)
            .join(_compact, _compact.c.id == _issue.c.compact_id)
            .join(rj, rj.c.id == _issue.c.reporting_jurisdiction_id)
            .outerjoin(vj, vj.c.id == _issue.c.receiving_jurisdiction_id)
            .outerjoin(_person, _person.c.id == _event.c.actor_id)
        )
        .where(
            _compact.c.code == compact_code,
            _event.c.compact_id == _compact.c.id,  # the compact's steps of the period from its own index
            _event.c.trigger.in_(triggers),
            _event.c.occurred_at >= start,
            _event.c.occurred_at < end,
        )
        .order_by(_event.c.occurred_at, _issue.c.code, _event.c.seq)
    )
    if issues is not None:
        query = query.where(_issue.c.code.in_(sorted(issues)))
    return list(conn.execute(query))


def compact_name(conn: sa.Connection, compact_code: str) -> str:
    """A compact's name; NotFound for an unknown code."""
    name = conn.execute(sa.select(_compact.c.name).where(_compact.c.code == compact_code)).scalar()
    if name is None:
        raise NotFound("compact", compact_code)
    return str(name)


def revisits_done(
    conn: sa.Connection, compact_code: str, start: datetime, end: datetime, issues: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """The revisits (回头看) of a compact finished in [start, end), oldest first, each with its issue, finding,
    outcome and auditor; only those of ``issues`` (codes) when given."""
    done = _events_in(conn, compact_code, ("no_rebound", "rebound"), start, end, issues)
    return [
        {
            "code": e.code,
            "issue_id": e.issue_id,
            "title": e.title,
            "reporting": e.reporting,
            "receiving": e.receiving or "—",
            "at": e.occurred_at,
            "finding": e.payload.get("finding", ""),
            "rebound": e.trigger == "rebound",
            "auditor": e.actor_name or "",  # only an auditor records a revisit; the chart lets no one else
            "by_system": e.actor_id is None,  # even so, the reports would word "the system" themselves
            "organisation": e.actor_org or "",
        }
        for e in done
    ]


def revisit_batch(
    conn: sa.Connection, compact_code: str, start: datetime, end: datetime, issues: Collection[str] | None = None
) -> dict[str, Any]:
    """The revisits (回头看) finished in [start, end): each issue, the finding, rebound or not, the auditor.

    ``issues`` (codes) keeps only the revisits of those issues: the ones an auditor chose for a report
    of their own. The scheduler's daily report takes them all.
    """
    items = revisits_done(conn, compact_code, start, end, issues)
    organisations = sorted({i["organisation"] for i in items if i["organisation"]})
    revisited = {i["issue_id"] for i in items}
    pictures = [
        {
            "path": f"{r.sha256[:2]}/{r.sha256}",
            "caption": f"{r.code} {r.caption or r.filename}",
            "taken_at": r.taken_at,
            "lon": r.lon,
            "lat": r.lat,
        }
        for r in conn.execute(
            sa.select(_attachment, _issue.c.code)
            .join(_issue, _issue.c.id == _attachment.c.issue_id)
            .where(
                _attachment.c.issue_id.in_(revisited),
                _attachment.c.content_type.like("image/%"),
                _attachment.c.created_at >= start,
                _attachment.c.created_at < end,
            )
            .order_by(_attachment.c.id)
        )
    ]
    return {
        "compact": compact_name(conn, compact_code),
        "items": items,
        "organisations": organisations,
        "photos": pictures,
        "rebounds": sum(i["rebound"] for i in items),
        "clean": sum(not i["rebound"] for i in items),
    }


def joint_meetings(conn: sa.Connection, compact_code: str, start: datetime, end: datetime) -> dict[str, Any]:
    """Joint meetings (联席会议) convened in [start, end), grouped by date and level (its code), with their resolutions.

    Each meeting's ``attendees`` are people whole (name, title, role code), by name, for the minutes to word in
    their language.
    """
    convened = _events_in(conn, compact_code, ("convene",), start, end)
    resolved = {e.code: e for e in _events_in(conn, compact_code, ("resolve",), start, end + (end - start))}
    staff = table_of(CompactStaff)
    coordinators = conn.execute(
        sa.select(_person.c.name, _person.c.role, _person.c.title)
        .join(staff, staff.c.person_id == _person.c.id)
        .join(_compact, _compact.c.id == staff.c.compact_id)
        .where(_compact.c.code == compact_code, staff.c.role == "coordinator", _person.c.active.is_(True))
    ).all()
    chiefs = conn.execute(
        sa.select(_person.c.name, _person.c.role, _person.c.jurisdiction_id, _person.c.title).where(
            _person.c.role == "chief", _person.c.active.is_(True)
        )
    ).all()
    meetings: dict[tuple[str, str], dict[str, Any]] = {}
    for e in convened:
        day = e.payload.get("meeting_date") or local_today(e.occurred_at).isoformat()
        level = e.payload.get("level", "")
        meeting = meetings.setdefault(
            (day, level),
            {
                "date": day,
                "level": level if level in MEETING_LEVELS else None,  # the code: the reports word it
                "agenda": [],
                "attendees": set(),
            },
        )
        decision = resolved.get(e.code)
        meeting["agenda"].append(
            {
                "code": e.code,
                "title": e.title,
                "topic": e.payload.get("agenda", ""),
                "reporting": e.reporting,
                "receiving": e.receiving or "—",
                "resolution": decision.payload.get("resolution") if decision else None,
                "plan": decision.payload.get("plan") if decision else None,
                "deadline": decision.payload.get("deadline") if decision else None,
                "owner": e.receiving or "—",
            }
        )
        sides = (e.reporting_jurisdiction_id, e.receiving_jurisdiction_id)
        for p in [*coordinators, *(c for c in chiefs if c.jurisdiction_id in sides)]:
            meeting["attendees"].add((p.name, p.title or "", p.role))
    ordered = []
    for key in sorted(meetings):
        m = meetings[key]
        m["attendees"] = [{"name": n, "title": t or None, "role": r} for n, t, r in sorted(m["attendees"])]
        ordered.append(m)
    return {"compact": compact_name(conn, compact_code), "meetings": ordered}


def meeting_minutes(conn: sa.Connection, code: str, now: datetime) -> dict[str, Any]:
    """The minutes (纪要) of one joint meeting: who came from each side, each agenda issue and its decision, the
    action items, and a signature line per party."""
    from workflow.reading.meetings import meeting_view

    m = meeting_view(conn, code, now)
    # Who came, by side (None: the compact's own people, not of a side), each with whom they stood in for.
    sides: dict[str | None, list[dict[str, str | None]]] = {}
    for i in m.invitees:
        if i.attendance == "present" or i.stand_in:
            sides.setdefault(i.jurisdiction, []).append({"name": i.name, "stand_in": i.stand_in})
    absent = [
        {"name": i.name, "attendance": i.attendance}  # absent or excused: the reports word it
        for i in m.invitees
        if i.attendance in ("absent", "excused") and not i.stand_in
    ]
    parties = sorted({i.jurisdiction for i in m.invitees if i.jurisdiction})
    return {
        "code": m.code,
        "compact": m.compact_name,
        "compact_code": m.compact,
        "title": m.title,
        "level": m.level,  # codes: the reports word them
        "suggested": m.suggested_level,
        "level_reason": m.level_reason,
        "starts_at": m.starts_at,
        "place": m.place,
        "convener": m.convener,
        "status": m.status,
        # By name, the compact's own people under the compact's name, as the minutes have always listed them.
        "attended": sorted(sides.items(), key=lambda side: side[0] or m.compact_name),
        "absent": absent,
        "unrecorded": sum(1 for i in m.invitees if i.attendance == "invited"),
        "decide": [a for a in m.agenda if a.role == "decide"],
        "review": [a for a in m.agenda if a.role == "review"],
        "actions": list(m.actions),
        "parties": parties,  # the sides that sign; the compact's office signs last, worded by the report
        "issues": tuple(a.code for a in m.agenda if a.role == "decide"),
    }
