"""Joint meetings: convening one on several issues at once, moving or cancelling it, attendance and decisions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from states.chart import CHOICE_LABELS, MEETING_LEVELS
from states.policy import suggested_meeting_level
from workflow.core.actors import Actor
from workflow.core.calendar import local_today
from workflow.core.clock import SHANGHAI
from workflow.core.errors import Conflict, NotFound, Reason, ValidationFailed
from workflow.core.lookups import compact_row, insert_with_code, member_paths
from workflow.core.models import CompactStaff, table_of
from workflow.core.services import apply_within
from workflow.core.uow import UnitOfWork
from workflow.meetings.basics import ATTENDANCE, check_text, only_coordinator, queue_to_people
from workflow.reading.meetings import (
    agenda_table,
    invitee_table,
    issue_table,
    jurisdiction_table,
    meeting_table,
    person_table,
)

_staff = table_of(CompactStaff)
# How far ahead a meeting may be set: a year, so a mistyped year is caught.
MAX_AHEAD = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class MeetingDraft:
    """What a coordinator fills in to convene a joint meeting."""

    compact: str
    title: str
    starts_at: datetime
    place: str
    level: str | None = None  # None: the level the policy suggests for the agenda
    level_reason: str | None = None  # required when the level is not the suggested one
    agenda: Sequence[str] = ()  # issues put to the meeting to decide (their ``convene`` step)
    review: Sequence[str] = ()  # issues whose progress it only reviews
    invitees: Sequence[str] | None = None  # person codes; None: the agenda's chiefs and the coordinators


@dataclass(frozen=True, slots=True)
class Convened:
    """A meeting just convened: its code, level, and the issues its agenda put to it."""

    code: str
    level: str
    suggested_level: str
    convened: tuple[str, ...]
    invited: int
    notified: int = 0
    steps: tuple[int, ...] = field(default=())


def check_start(starts_at: datetime, now: datetime) -> list[tuple[str, str]]:
    """A meeting's start: with a time zone, within ten years back (recording an old one) and a year ahead."""
    if starts_at.tzinfo is None:
        return [("starts_at", "needs a time zone, e.g. 2026-12-10T09:30:00+08:00")]
    if starts_at.year < 2000 or starts_at.year > 2100:
        return [("starts_at", Reason("meeting_year", year=starts_at.year))]
    if starts_at > now + MAX_AHEAD:
        return [("starts_at", Reason("over_a_year_ahead"))]
    if starts_at < now - 10 * MAX_AHEAD:
        return [("starts_at", Reason("over_ten_years_ago"))]
    return []


def _province(path: str | None) -> str | None:
    parts = [p for p in (path or "").split("/") if p]
    return parts[0] if parts else None


def _issues(
    conn: sa.Connection, codes: Sequence[str], compact_id: int, name: str, errors: list[tuple[str, str]]
) -> list[Any]:
    """The compact's issues by code, in the order given; an unknown one or one of another compact is an error."""
    rows = {
        r.code: r
        for r in conn.execute(
            sa.select(
                issue_table.c.id,
                issue_table.c.code,
                issue_table.c.state,
                issue_table.c.difficulty,
                issue_table.c.compact_id,
                issue_table.c.reporting_jurisdiction_id,
                issue_table.c.receiving_jurisdiction_id,
            ).where(issue_table.c.code.in_(list(codes)))
        )
    }
    found = []
    for i, code in enumerate(codes):
        row = rows.get(code)
        if row is None or row.compact_id != compact_id:
            errors.append((f"{name}[{i}]", Reason("no_issue_here", code=code)))
        else:
            found.append(row)
    return found


def _paths(conn: sa.Connection, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(
        conn.execute(
            sa.select(jurisdiction_table.c.id, jurisdiction_table.c.path).where(jurisdiction_table.c.id.in_(ids))
        ).all()
    )


def suggest_level(conn: sa.Connection, issues: Sequence[Any]) -> str:
    """The level the policy suggests for a meeting deciding these issues (``states.policy``)."""
    sides = {j for r in issues for j in (r.reporting_jurisdiction_id, r.receiving_jurisdiction_id) if j}
    provinces = {_province(p) for p in _paths(conn, sides).values()} - {None}
    return suggested_meeting_level(tuple(r.difficulty for r in issues), len(provinces))


def _coordinators(conn: sa.Connection, compact_id: int) -> set[int]:
    """The compact's coordinators (person ids)."""
    return set(
        conn.execute(
            sa.select(_staff.c.person_id).where(_staff.c.compact_id == compact_id, _staff.c.role == "coordinator")
        ).scalars()
    )


def _default_invitees(conn: sa.Connection, compact_id: int, issues: Sequence[Any]) -> list[tuple[int, int | None]]:
    """The chiefs of every side on the agenda (of every member when it has none) and the compact's coordinators."""
    sides = {j for r in issues for j in (r.reporting_jurisdiction_id, r.receiving_jurisdiction_id) if j}
    if not sides:
        paths = member_paths(conn, compact_id)
        sides = set(
            conn.execute(sa.select(jurisdiction_table.c.id).where(jurisdiction_table.c.path.in_(paths))).scalars()
        )
    chiefs = conn.execute(
        sa.select(person_table.c.id, person_table.c.jurisdiction_id).where(
            person_table.c.jurisdiction_id.in_(sides),
            person_table.c.role == "chief",
            person_table.c.active.is_(True),
        )
    ).all()
    return [(r.id, r.jurisdiction_id) for r in chiefs] + [(p, None) for p in _coordinators(conn, compact_id)]


def _named_invitees(
    conn: sa.Connection, codes: Sequence[str], compact_id: int, errors: list[tuple[str, str]]
) -> list[tuple[int, int | None]]:
    members = member_paths(conn, compact_id)
    coordinators = _coordinators(conn, compact_id)
    rows = {
        r.code: r
        for r in conn.execute(
            sa.select(person_table.c.id, person_table.c.code, person_table.c.jurisdiction_id, jurisdiction_table.c.path)
            .select_from(
                person_table.outerjoin(jurisdiction_table, jurisdiction_table.c.id == person_table.c.jurisdiction_id)
            )
            .where(person_table.c.code.in_(list(codes)), person_table.c.active.is_(True))
        )
    }
    found: list[tuple[int, int | None]] = []
    for i, code in enumerate(codes):
        row = rows.get(code)
        in_compact = row is not None and (
            row.id in coordinators or any((row.path or "").startswith(p) for p in members)
        )
        if row is None or not in_compact:
            errors.append((f"invitees[{i}]", Reason("not_a_person_here", code=code)))
        else:
            found.append((row.id, row.jurisdiction_id))
    return found


def convene_meeting(uow: UnitOfWork, actor: Actor, draft: MeetingDraft) -> Convened:
    """Record a joint meeting and put each agenda issue to it (its ``convene`` step), all or nothing.

    Invitations go to every invitee through their channels, with the meeting's details.
    """
    with uow:
        conn = uow.connection
        now = uow.clock.now()
        compact = compact_row(conn, draft.compact)
        only_coordinator(actor, compact.id, "convene a joint meeting", ("compact", draft.compact))
        errors = check_text(draft.title, "title", 200) + check_text(draft.place, "place", 300)
        errors += check_start(draft.starts_at, now)
        if draft.level is not None and draft.level not in MEETING_LEVELS:
            errors.append(("level", Reason("not_a_choice", value=draft.level, choices=", ".join(MEETING_LEVELS))))
        errors += check_text(draft.level_reason, "level_reason", 500, required=False)
        twice = sorted(set(draft.agenda) & set(draft.review)) + sorted(
            c for c in set(draft.agenda) | set(draft.review) if [*draft.agenda, *draft.review].count(c) > 1
        )
        if twice:
            errors.append(("agenda", Reason("agenda_twice", codes=", ".join(sorted(set(twice))))))
        agenda = _issues(conn, draft.agenda, compact.id, "agenda", errors)
        review = _issues(conn, draft.review, compact.id, "review", errors)
        suggested = suggest_level(conn, agenda)
        level = draft.level or suggested
        if level != suggested and not (draft.level_reason or "").strip():
            level_words = (CHOICE_LABELS[suggested][0], suggested)
            errors.append(("level_reason", Reason("say_level_reason", suggested=level_words)))
        if draft.invitees is None:
            invitees = _default_invitees(conn, compact.id, agenda + review)
        else:
            invitees = _named_invitees(conn, draft.invitees, compact.id, errors)
        if errors:
            raise ValidationFailed.of(errors)
        starts_at = draft.starts_at.astimezone(SHANGHAI)
        meeting_id, code = insert_with_code(
            conn,
            meeting_table,
            f"{compact.code}-HY-{starts_at.year}-",
            {
                "compact_id": compact.id,
                "level": level,
                "suggested_level": suggested,
                "level_reason": (draft.level_reason or "").strip() or None,
                "title": draft.title.strip(),
                "starts_at": draft.starts_at,
                "place": draft.place.strip(),
                "convener_id": actor.id,
                "status": "planned",
                "version": 1,
                "reminded": False,
                "created_at": now,
                "updated_at": now,
            },
        )
        for person_id, jurisdiction_id in dict(invitees).items():
            conn.execute(
                invitee_table.insert().values(
                    meeting_id=meeting_id, person_id=person_id, jurisdiction_id=jurisdiction_id, attendance="invited"
                )
            )
        payload = {
            "level": level,
            "agenda": draft.title.strip(),
            "meeting_date": starts_at.date().isoformat(),
            "meeting": code,
        }
        seqs = []
        for position, row in enumerate(agenda):
            step = apply_within(uow, row.id, "convene", actor, payload)
            seqs.append(step.version)
            conn.execute(
                agenda_table.insert().values(
                    meeting_id=meeting_id, issue_id=row.id, position=position, role="decide", convene_seq=step.version
                )
            )
        for position, row in enumerate(review, start=len(agenda)):
            conn.execute(
                agenda_table.insert().values(meeting_id=meeting_id, issue_id=row.id, position=position, role="review")
            )
        notified = _notify(conn, meeting_id, code, "meeting_invited", 1, now)
        uow.commit()
    return Convened(code, level, suggested, tuple(r.code for r in agenda), len(dict(invitees)), notified, tuple(seqs))


def _day(row: Any) -> str:
    return str(row.starts_at.astimezone(SHANGHAI).date().isoformat())


def _begun(row: Any, now: datetime) -> bool:
    """The meeting's day has come (Asia/Shanghai): what is recorded of it may be recorded now."""
    return bool(local_today(now) >= row.starts_at.astimezone(SHANGHAI).date())


def _meeting(conn: sa.Connection, code: str) -> Any:
    row = conn.execute(sa.select(meeting_table).where(meeting_table.c.code == code)).first()
    if row is None:
        raise NotFound("meeting", code)
    return row


def _notify(conn: sa.Connection, meeting_id: int, code: str, kind: str, version: int, now: datetime) -> int:
    """Tell every invitee about the meeting as it now stands (the detail carries what an invitation needs)."""
    row = conn.execute(sa.select(meeting_table).where(meeting_table.c.id == meeting_id)).one()
    people = conn.execute(sa.select(invitee_table.c.person_id).where(invitee_table.c.meeting_id == meeting_id))
    agenda = conn.execute(
        sa.select(issue_table.c.code, issue_table.c.title)
        .join(agenda_table, agenda_table.c.issue_id == issue_table.c.id)
        .where(agenda_table.c.meeting_id == meeting_id)
        .order_by(agenda_table.c.position)
    ).all()
    detail = {
        "meeting": code,
        "title": row.title,
        "level": row.level,
        "starts_at": row.starts_at.astimezone(SHANGHAI).isoformat(),
        "place": row.place,
        "status": row.status,
        "sequence": version - 1,  # iCalendar's SEQUENCE: 0 for the first invitation, then each change
        "note": row.note,
        "agenda": [{"code": a.code, "title": a.title} for a in agenda],
    }
    return queue_to_people(
        conn, topic=f"meeting:{code}:v{version}", kind=kind, people=people.scalars(), now=now, detail=detail
    )


def change_meeting(
    uow: UnitOfWork,
    actor: Actor,
    code: str,
    expected_version: int,
    *,
    starts_at: datetime | None = None,
    place: str | None = None,
    title: str | None = None,
    status: str | None = None,
    note: str | None = None,
) -> int:
    """Move, rename, cancel or mark held a meeting; invitees hear of a move or a cancellation. Returns the version."""
    with uow:
        conn = uow.connection
        now = uow.clock.now()
        row = _meeting(conn, code)
        only_coordinator(actor, row.compact_id, "change a joint meeting", ("meeting", code))
        if row.version != expected_version:
            raise Conflict(code, expected_version, row.version)
        errors: list[tuple[str, str]] = []
        if row.status == "cancelled":
            errors.append(("status", Reason("meeting_cancelled_new")))
        if status is not None and status not in ("held", "cancelled"):
            errors.append(("status", Reason("not_a_choice", value=status, choices="held, cancelled")))
        if status == "cancelled":
            errors += check_text(note, "note", 2000)
        else:
            errors += check_text(note, "note", 2000, required=False)
        if title is not None:
            errors += check_text(title, "title", 200)
        if place is not None:
            errors += check_text(place, "place", 300)
        if starts_at is not None:
            errors += check_start(starts_at, now)
        if errors:
            raise ValidationFailed.of(errors)
        changes: dict[str, Any] = {}
        if starts_at is not None and starts_at != row.starts_at:
            changes["starts_at"] = starts_at
            changes["reminded"] = False  # a moved meeting is reminded again the day before its new time
        if place is not None and place.strip() != row.place:
            changes["place"] = place.strip()
        if title is not None and title.strip() != row.title:
            changes["title"] = title.strip()
        if status is not None and status != row.status:
            changes["status"] = status
        if note is not None:
            changes["note"] = note.strip() or None
        if not changes:
            return int(row.version)
        version = row.version + 1
        updated = conn.execute(
            meeting_table.update()
            .where(meeting_table.c.id == row.id, meeting_table.c.version == row.version)
            .values(**changes, version=version, updated_at=now)
        )
        if updated.rowcount != 1:
            raise Conflict(code, expected_version, None)
        if changes.get("status") == "cancelled":
            _notify(conn, row.id, code, "meeting_cancelled", version, now)
        elif {"starts_at", "place"} & changes.keys() and row.status == "planned":
            _notify(conn, row.id, code, "meeting_changed", version, now)
        uow.commit()
    return int(version)


def record_attendance(
    uow: UnitOfWork, actor: Actor, code: str, attendance: Mapping[str, str], stand_ins: Mapping[str, str] | None = None
) -> int:
    """Record who came (present, absent, excused) by person code; the meeting is then held. Returns rows changed."""
    stand_ins = stand_ins or {}
    with uow:
        conn = uow.connection
        row = _meeting(conn, code)
        only_coordinator(actor, row.compact_id, "record attendance", ("meeting", code))
        invited = dict(
            conn.execute(
                sa.select(person_table.c.code, person_table.c.id)
                .join(invitee_table, invitee_table.c.person_id == person_table.c.id)
                .where(invitee_table.c.meeting_id == row.id)
            ).all()
        )
        errors: list[tuple[str, str]] = []
        if row.status == "cancelled":
            errors.append(("meeting", Reason("meeting_cancelled")))
        elif not _begun(row, uow.clock.now()):
            errors.append(("meeting", Reason("attendance_from_day", day=_day(row))))
        for person, value in attendance.items():
            if person not in invited:
                errors.append((f"attendance.{person}", Reason("not_invited")))
            elif value not in ATTENDANCE:
                errors.append(
                    (f"attendance.{person}", Reason("not_a_choice", value=value, choices=", ".join(ATTENDANCE)))
                )
        for person, name in stand_ins.items():
            if person not in invited:
                errors.append((f"stand_ins.{person}", Reason("not_invited")))
            errors += check_text(name, f"stand_ins.{person}", 100, required=False)
        if errors:
            raise ValidationFailed.of(errors)
        changed = 0
        for person, value in attendance.items():
            values: dict[str, Any] = {"attendance": value}
            if person in stand_ins:
                values["stand_in"] = stand_ins[person].strip() or None
            changed += conn.execute(
                invitee_table.update()
                .where(invitee_table.c.meeting_id == row.id, invitee_table.c.person_id == invited[person])
                .values(**values)
            ).rowcount
        if row.status == "planned" and any(v == "present" for v in attendance.values()):
            conn.execute(
                meeting_table.update()
                .where(meeting_table.c.id == row.id)
                .values(status="held", version=row.version + 1, updated_at=uow.clock.now())
            )
        uow.commit()
    return changed


def decide(uow: UnitOfWork, actor: Actor, code: str, issue: str, resolution: str, plan: str, deadline: date) -> int:
    """Record the meeting's decision on an agenda issue: the issue's ``resolve`` step (plan and deadline).

    The issue goes on to rectification with its deadline watched by the sweep like any other. Returns the
    issue's new version.
    """
    with uow:
        conn = uow.connection
        row = _meeting(conn, code)
        only_coordinator(actor, row.compact_id, "decide at a joint meeting", ("meeting", code))
        item = conn.execute(
            sa.select(agenda_table.c.issue_id, agenda_table.c.role, agenda_table.c.decision_seq)
            .join(issue_table, issue_table.c.id == agenda_table.c.issue_id)
            .where(agenda_table.c.meeting_id == row.id, issue_table.c.code == issue)
        ).first()
        if item is None or item.role != "decide":
            raise ValidationFailed("issue", Reason("not_on_agenda", issue=issue))
        if row.status == "cancelled":
            raise ValidationFailed("meeting", Reason("meeting_cancelled"))
        if not _begun(row, uow.clock.now()):
            raise ValidationFailed("meeting", Reason("decisions_from_day", day=_day(row)))
        if item.decision_seq is not None:
            raise ValidationFailed("issue", Reason("decided_already", issue=issue))
        payload = {"resolution": resolution, "plan": plan, "deadline": deadline.isoformat(), "meeting": code}
        step = apply_within(uow, item.issue_id, "resolve", actor, payload)
        conn.execute(
            agenda_table.update()
            .where(agenda_table.c.meeting_id == row.id, agenda_table.c.issue_id == item.issue_id)
            .values(decision_seq=step.version)
        )
        if row.status == "planned":
            conn.execute(
                meeting_table.update()
                .where(meeting_table.c.id == row.id)
                .values(status="held", version=row.version + 1, updated_at=uow.clock.now())
            )
        uow.commit()
    return step.version
