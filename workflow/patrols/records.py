"""Patrol records and the issues found on them (a swap patrol's go to the owner side at once)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa

from workflow.core.actors import Actor
from workflow.core.clock import SHANGHAI
from workflow.core.errors import NotFound, NotPermitted, ValidationFailed
from workflow.core.models import (
    Compact,
    Issue,
    Jurisdiction,
    Patrol,
    PatrolIssue,
    Person,
    Segment,
    SwapPairing,
    table_of,
)
from workflow.core.services import IssueDraft, apply_within, report_issue
from workflow.core.uow import UnitOfWork
from workflow.patrols.basics import (
    KINDS,
    MAX_PATROL,
    local_day,
    midnight,
    month_days,
    owns_segment,
    parse_month,
    segment_row,
)
from workflow.patrols.pairings import live_pairing
from workflow.patrols.tracks import Track

_patrol = table_of(Patrol)
_pairing = table_of(SwapPairing)
_link = table_of(PatrolIssue)
_person = table_of(Person)
_segment = table_of(Segment)
_juris = table_of(Jurisdiction)
_compact = table_of(Compact)
_issue = table_of(Issue)


# -- patrols --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatrolRecorded:
    """A patrol as stored."""

    id: int
    kind: str
    pairing_id: int | None
    started_at: datetime
    ended_at: datetime
    duration_s: int
    length_m: int | None


def _times(
    started_at: datetime | None, ended_at: datetime | None, track: Track | None, now: datetime
) -> tuple[datetime, datetime]:
    """The patrol's start and end: given, or the track's first and last time."""
    start = started_at or (track.started_at if track else None)
    end = ended_at or (track.ended_at if track else None)
    errors = []
    if start is None:
        errors.append(("start", "is required (the track has no times)"))
    elif start.tzinfo is None:
        errors.append(("start", "needs a UTC offset, e.g. 2026-03-05T09:00+08:00"))
    if end is None:
        errors.append(("end", "is required (the track has no times)"))
    elif end.tzinfo is None:
        errors.append(("end", "needs a UTC offset, e.g. 2026-03-05T11:00+08:00"))
    if errors:
        raise ValidationFailed.of(errors)
    assert start is not None
    assert end is not None
    if end <= start:
        raise ValidationFailed("end", f"{end.isoformat()} is not after the start {start.isoformat()}")
    if end - start > MAX_PATROL:
        raise ValidationFailed("end", "a patrol lasts at most 24 hours; record each day's patrol on its own")
    if end > now:
        raise ValidationFailed("end", f"{end.isoformat()} is in the future")
    first, last = (track.started_at, track.ended_at) if track is not None else (None, None)
    if first is not None and last is not None and (first < start or last > end):
        raise ValidationFailed(
            "track",
            f"its times ({first.isoformat()} to {last.isoformat()}) "
            f"fall outside the patrol ({start.isoformat()} to {end.isoformat()})",
        )
    return start, end


def record_patrol(
    uow: UnitOfWork,
    actor: Actor,
    segment: str,
    *,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    track: Track | None = None,
    kind: str | None = None,
    notes: str = "",
) -> PatrolRecorded:
    """Record a patrol of ``segment`` by ``actor``.

    A chief patrols their own segment (routine) or, under a live pairing, the
    neighbour's (swap); ``kind`` None tells which from the segment. A covert
    inspection (暗访) is by a chief or office above the segment's jurisdiction.
    Times come from the arguments or else from the track.
    """
    if kind is not None and kind not in KINDS:
        raise ValidationFailed("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    if len(notes) > 2000:
        raise ValidationFailed("notes", "is longer than 2000 characters")
    with uow:
        conn = uow.connection
        seg = segment_row(conn, segment)
        start, end = _times(started_at, ended_at, track, uow.clock.now())
        allowed = ("chief", "office") if kind == "covert" else ("chief",)
        if actor.id is None or actor.role not in allowed:
            raise NotPermitted(actor.code, "patrol", list(allowed), [actor.role])
        first, last = local_day(start), local_day(end)
        owns = owns_segment(actor.id, actor.jurisdiction_path, seg)
        pairing_id = None
        if kind == "covert":
            if seg.chief_id == actor.id or not owns:
                raise ValidationFailed(
                    "segment",
                    f"a covert inspection (暗访) checks on another chief's segment within the inspector's own "
                    f"jurisdiction; {seg.code} ({seg.jurisdiction}) is not such a segment for {actor.code}",
                )
        elif owns:
            if kind == "swap":
                raise ValidationFailed(
                    "segment", f"{seg.code} is {actor.code}'s own segment; a swap patrol is on the neighbour's"
                )
            kind = "routine"
        else:
            pairing_id = live_pairing(conn, actor.id, seg.id, first, last)
            if pairing_id is None:
                raise ValidationFailed(
                    "segment",
                    f"{seg.code} ({seg.name}) is {seg.jurisdiction}'s, not {actor.code}'s, and no live swap pairing "
                    f"gives it to {actor.code} on {first}" + ("" if first == last else f" to {last}"),
                )
            if kind == "routine":
                raise ValidationFailed(
                    "kind", f"{seg.code} is the neighbour's: under pairing #{pairing_id} it is a swap patrol"
                )
            kind = "swap"
        clash = conn.execute(
            sa.select(_patrol.c.id, _patrol.c.started_at).where(
                _patrol.c.patroller_id == actor.id, _patrol.c.started_at < end, _patrol.c.ended_at > start
            )
        ).first()
        if clash is not None:
            when = clash.started_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            raise ValidationFailed("start", f"overlaps {actor.code}'s patrol #{clash.id} started {when}")
        length = round(track.length_m) if track is not None else None
        duration = int((end - start).total_seconds())
        result = conn.execute(
            _patrol.insert().values(
                patroller_id=actor.id,
                segment_id=seg.id,
                kind=kind,
                pairing_id=pairing_id,
                started_at=start,
                ended_at=end,
                duration_s=duration,
                length_m=length,
                track=track.geojson() if track is not None else None,
                notes=notes.strip(),
                created_at=uow.clock.now(),
            )
        )
        uow.commit()
    patrol_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    return PatrolRecorded(patrol_id, kind, pairing_id, start, end, duration, length)


@dataclass(frozen=True, slots=True)
class PatrolView:
    """A patrol as people read it."""

    id: int
    patroller: str
    patroller_name: str
    segment: str
    segment_name: str
    kind: str
    pairing_id: int | None
    started_at: datetime
    ended_at: datetime
    duration_s: int
    length_m: int | None
    issues: list[str]


def list_patrols(
    conn: sa.Connection, *, person: str | None = None, month: str | None = None, limit: int = 500
) -> list[PatrolView]:
    """Patrols, latest first; one person's, or one month's, when asked."""
    query = (
        sa.select(
            _patrol,
            _person.c.code.label("p_code"),
            _person.c.name.label("p_name"),
            _segment.c.code.label("s_code"),
            _segment.c.name.label("s_name"),
        )
        .join(_person, _person.c.id == _patrol.c.patroller_id)
        .join(_segment, _segment.c.id == _patrol.c.segment_id)
        .order_by(_patrol.c.started_at.desc(), _patrol.c.id.desc())
        .limit(limit)
    )
    if person is not None:
        query = query.where(_person.c.code == person)
    if month is not None:
        first, end = month_days(*parse_month(month))
        query = query.where(_patrol.c.started_at >= midnight(first), _patrol.c.started_at < midnight(end))
    rows = conn.execute(query).all()
    found: dict[int, list[str]] = {}
    if rows:
        for patrol_id, code in conn.execute(
            sa.select(_link.c.patrol_id, _issue.c.code)
            .join(_issue, _issue.c.id == _link.c.issue_id)
            .where(_link.c.patrol_id.in_([r.id for r in rows]))
            .order_by(_issue.c.code)
        ):
            found.setdefault(patrol_id, []).append(code)
    return [
        PatrolView(
            r.id,
            r.p_code,
            r.p_name,
            r.s_code,
            r.s_name,
            r.kind,
            r.pairing_id,
            r.started_at,
            r.ended_at,
            r.duration_s,
            r.length_m,
            found.get(r.id, []),
        )
        for r in rows
    ]


# -- issues found on a patrol ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatrolReport:
    """An issue reported from a patrol, and the side it went to."""

    issue_code: str
    patrol_id: int
    kind: str
    state: str
    handed_to: str | None  # the owner side's division code, for an issue found on a swap patrol


def report_from_patrol(uow: UnitOfWork, actor: Actor, patrol_id: int, draft: IssueDraft) -> PatrolReport:
    """Report an issue found on a patrol, as its patroller; it is linked to the patrol.

    Found on a swap patrol, it is handed at once to the jurisdiction that owns
    the segment (the owner side); a covert inspection's issue is marked by its
    patrol's kind. The report, the link and the hand-off are three steps: the
    issue stands reported even if a later one is refused, and says so.
    """
    with uow:
        conn = uow.connection
        patrol = conn.execute(
            sa.select(
                _patrol.c.id,
                _patrol.c.kind,
                _patrol.c.patroller_id,
                _patrol.c.pairing_id,
                _segment.c.code.label("segment"),
                _juris.c.code.label("owner"),
                _compact.c.code.label("pairing_compact"),
            )
            .join(_segment, _segment.c.id == _patrol.c.segment_id)
            .join(_juris, _juris.c.id == _segment.c.jurisdiction_id)
            .outerjoin(_pairing, _pairing.c.id == _patrol.c.pairing_id)
            .outerjoin(_compact, _compact.c.id == _pairing.c.compact_id)
            .where(_patrol.c.id == patrol_id)
        ).first()
    if patrol is None:
        raise NotFound("patrol", patrol_id)
    if actor.id != patrol.patroller_id:
        raise NotPermitted(actor.code, "report_from_patrol", ["the patroller"], [])
    if draft.segment not in (None, patrol.segment):
        raise ValidationFailed("segment", f"patrol #{patrol_id} was on {patrol.segment}, not {draft.segment}")
    if patrol.kind == "swap" and draft.compact != patrol.pairing_compact:
        raise ValidationFailed("compact", f"the swap pairing of patrol #{patrol_id} is {patrol.pairing_compact}'s")
    reported = report_issue(uow, actor, replace(draft, segment=patrol.segment))
    with uow:
        issue_id = uow.connection.execute(
            sa.select(_issue.c.id).where(_issue.c.code == reported.issue_code)
        ).scalar_one()
        uow.connection.execute(_link.insert().values(issue_id=issue_id, patrol_id=patrol_id))
        uow.commit()
    if patrol.kind != "swap":
        return PatrolReport(reported.issue_code, patrol_id, patrol.kind, reported.state, None)
    with uow:
        handed = apply_within(
            uow,
            reported.issue_code,
            "hand_off",
            actor,
            {"receiving": patrol.owner, "note": "交叉互巡发现，即时反馈责任方"},
        )
        uow.commit()
    return PatrolReport(reported.issue_code, patrol_id, patrol.kind, handed.state, patrol.owner)
