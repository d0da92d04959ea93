"""Reading joint meetings, revisits and the report archive."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from workflow.core.clock import SHANGHAI
from workflow.core.models import (
    Compact,
    CompactStaff,
    Event,
    Issue,
    Person,
    ReportFile,
    Revisit,
    table_of,
)

_issue = table_of(Issue)
_event = table_of(Event)
_person = table_of(Person)
_compact = table_of(Compact)
_staff = table_of(CompactStaff)
_revisit = table_of(Revisit)
_report_file = table_of(ReportFile)


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
        .where(_event.c.compact_id.in_(compacts), _event.c.trigger.in_(("convene", "resolve")))
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

    def remade(self) -> dict[str, str] | None:
        """What makes this document again (``kind`` and the options of ``riverchief.reporting.make``), in another
        language say; None for one its record cannot make again: an auditor's revisit report over the revisits
        they chose (its period is a span of days, 20260301-20260314; the choice is not in the record)."""
        options = {"kind": self.kind, "compact": self.compact}
        if self.kind == "followup":
            return {**options, "issue": self.issue_code} if self.issue_code else None
        if self.kind == "ledger":
            fmt = self.path.rsplit(".", 1)[-1].lower()
            return {**options, "fmt": fmt, **({"period": self.period} if self.period else {})}
        if not self.period or (self.kind == "revisit" and _SPAN.fullmatch(self.period)):
            return None
        if self.kind == "minutes" and not _MONTH.fullmatch(self.period):
            return {**options, "meeting": self.period}  # one meeting's minutes are filed under its code
        return {**options, "period": self.period}


_SPAN = re.compile(r"\d{8}-\d{8}")
_MONTH = re.compile(r"\d{4}-\d{2}")


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
