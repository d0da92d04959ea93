"""Patrol records: a patrol recorded whole, started and later ended (under way between), and the issues found on
them (a swap patrol's go to the owner side at once). Many patrols at once: ``workflow.patrols.batches``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from workflow.core.actors import Actor
from workflow.core.clock import SHANGHAI
from workflow.core.errors import Conflict, NotFound, NotPermitted, ValidationFailed, WorkflowError
from workflow.core.models import (
    Compact,
    Issue,
    Jurisdiction,
    Patrol,
    PatrolIssue,
    Segment,
    SwapPairing,
    table_of,
)
from workflow.core.services import IssueDraft, apply_within, report_issue
from workflow.core.uow import UnitOfWork
from workflow.patrols.basics import (
    CLOCK_SKEW,
    KINDS,
    MAX_PATROL,
    local_day,
    owns_segment,
    segment_row,
)
from workflow.patrols.pairings import live_pairing
from workflow.patrols.tracks import Track
from workflow.patrols.views import PatrolView, compact_paths, list_patrols, may_read, scope_of

__all__ = [
    "AlreadyEnded",
    "PatrolRecorded",
    "PatrolReport",
    "PatrolView",
    "end_patrol",
    "list_patrols",
    "record_patrol",
    "report_from_patrol",
    "start_patrol",
]

_patrol = table_of(Patrol)
_pairing = table_of(SwapPairing)
_link = table_of(PatrolIssue)
_segment = table_of(Segment)
_juris = table_of(Jurisdiction)
_compact = table_of(Compact)
_issue = table_of(Issue)


# -- the rules every way of recording a patrol shares ----------------------------------------------

# The names of the time fields: the CLI's options, or the API's fields.
CLI_FIELDS = ("start", "end")
API_FIELDS = ("started_at", "ended_at")


@dataclass(frozen=True, slots=True)
class PatrolRecorded:
    """A patrol as stored; ``ended_at`` and ``duration_s`` are None while it is under way."""

    id: int
    kind: str
    pairing_id: int | None
    started_at: datetime
    ended_at: datetime | None
    duration_s: int | None
    length_m: int | None


class AlreadyEnded(Conflict):
    """The patrol was ended already (409): ending it again changes nothing."""

    def __init__(self, patrol_id: int, ended_at: datetime) -> None:
        when = ended_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        WorkflowError.__init__(self, f"patrol #{patrol_id} ended at {when} already")
        self.issue, self.expected, self.actual = f"patrol #{patrol_id}", 0, None


def check_kind_notes(kind: str | None, notes: str) -> list[tuple[str, str]]:
    """What is wrong with a patrol's ``kind`` and ``notes``, as (field, reason)."""
    errors = []
    if kind is not None and kind not in KINDS:
        errors.append(("kind", f"{kind!r} is not one of {', '.join(KINDS)}"))
    if len(notes) > 2000:
        errors.append(("notes", "is longer than 2000 characters"))
    return errors


def check_patroller(actor: Actor, kind: str | None) -> int:
    """The actor's id if they may patrol (a chief; a covert inspection, a chief or office); NotPermitted if not."""
    allowed = ("chief", "office") if kind == "covert" else ("chief",)
    if actor.id is None or actor.role not in allowed:
        raise NotPermitted(actor.code, "patrol", list(allowed), [actor.role])
    return actor.id


def decide_kind(
    actor: Actor, seg: Any, kind: str | None, first: date, last: date, pairing: Callable[[], int | None]
) -> tuple[str, int | None]:
    """The patrol's kind and pairing, or ValidationFailed: a chief patrols their own segment (routine) or, under
    a live pairing (``pairing()`` finds it for the days from ``first`` to ``last``), the neighbour's (swap); a
    covert inspection checks on another chief's segment within the inspector's own jurisdiction."""
    owns = owns_segment(actor.id, actor.jurisdiction_path, seg)
    if kind == "covert":
        if seg.chief_id == actor.id or not owns:
            raise ValidationFailed(
                "segment",
                f"a covert inspection (暗访) checks on another chief's segment within the inspector's own "
                f"jurisdiction; {seg.code} ({seg.jurisdiction}) is not such a segment for {actor.code}",
            )
        return "covert", None
    if owns:
        if kind == "swap":
            raise ValidationFailed(
                "segment", f"{seg.code} is {actor.code}'s own segment; a swap patrol is on the neighbour's"
            )
        return "routine", None
    pairing_id = pairing()
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
    return "swap", pairing_id


def times(
    started_at: datetime | None,
    ended_at: datetime | None,
    track: Track | None,
    now: datetime,
    fields: tuple[str, str] = CLI_FIELDS,
    skew: bool = False,
) -> tuple[datetime, datetime]:
    """The patrol's start and end: given, or the track's first and last time; ``skew`` takes an end up to
    ``CLOCK_SKEW`` ahead of ``now`` (a phone's clock)."""
    start_field, end_field = fields
    start = started_at or (track.started_at if track else None)
    end = ended_at or (track.ended_at if track else None)
    errors = []
    if start is None:
        errors.append((start_field, "is required (the track has no times)"))
    elif start.tzinfo is None:
        errors.append((start_field, "needs a UTC offset, e.g. 2026-03-05T09:00+08:00"))
    if end is None:
        errors.append((end_field, "is required (the track has no times)"))
    elif end.tzinfo is None:
        errors.append((end_field, "needs a UTC offset, e.g. 2026-03-05T11:00+08:00"))
    if errors:
        raise ValidationFailed.of(errors)
    assert start is not None
    assert end is not None
    if end <= start:
        raise ValidationFailed(end_field, f"{end.isoformat()} is not after the start {start.isoformat()}")
    if end - start > MAX_PATROL:
        raise ValidationFailed(end_field, "a patrol lasts at most 24 hours; record each day's patrol on its own")
    if end > now + (CLOCK_SKEW if skew else timedelta(0)):
        raise ValidationFailed(end_field, f"{end.isoformat()} is in the future")
    first, last = (track.started_at, track.ended_at) if track is not None else (None, None)
    if first is not None and last is not None and (first < start or last > end):
        raise ValidationFailed(
            "track",
            f"its times ({first.isoformat()} to {last.isoformat()}) "
            f"fall outside the patrol ({start.isoformat()} to {end.isoformat()})",
        )
    return start, end


def running_until(now: datetime) -> sa.ColumnElement[datetime]:
    """A patrol's end for overlap checks: a patrol under way runs until ``now``."""
    return sa.func.coalesce(_patrol.c.ended_at, sa.literal(now, _patrol.c.ended_at.type))


def clash_reason(actor: Actor, clash: Any) -> str:
    when = clash.started_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    under_way = " (under way)" if clash.ended_at is None else ""
    return f"overlaps {actor.code}'s patrol #{clash.id} started {when}{under_way}"


def _clash(
    conn: sa.Connection, actor: Actor, start: datetime, end: datetime, now: datetime, field: str, but: int = 0
) -> None:
    """Refuse a patrol from ``start`` to ``end`` that overlaps another of the actor's (one under way runs until now)."""
    clash = conn.execute(
        sa.select(_patrol.c.id, _patrol.c.started_at, _patrol.c.ended_at)
        .where(
            _patrol.c.patroller_id == actor.id,
            _patrol.c.id != but,
            _patrol.c.started_at < end,
            running_until(now) > start,
        )
        .order_by(_patrol.c.started_at)
        .limit(1)
    ).first()
    if clash is not None:
        raise ValidationFailed(field, clash_reason(actor, clash))


def _recorded(track: Track | None) -> tuple[int | None, dict[str, object] | None]:
    return (round(track.length_m), track.geojson()) if track is not None else (None, None)


# -- a patrol recorded whole ----------------------------------------------------------------------


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
    fields: tuple[str, str] = CLI_FIELDS,
) -> PatrolRecorded:
    """Record an ended patrol of ``segment`` by ``actor``.

    A chief patrols their own segment (routine) or, under a live pairing, the
    neighbour's (swap); ``kind`` None tells which from the segment. A covert
    inspection (暗访) is by a chief or office above the segment's jurisdiction.
    Times come from the arguments or else from the track.
    """
    if errors := check_kind_notes(kind, notes):
        raise ValidationFailed.of(errors)
    with uow:
        conn = uow.connection
        now = uow.clock.now()
        seg = segment_row(conn, segment)
        start, end = times(started_at, ended_at, track, now, fields)
        patroller = check_patroller(actor, kind)
        first, last = local_day(start), local_day(end)
        kind, pairing_id = decide_kind(
            actor, seg, kind, first, last, lambda: live_pairing(conn, patroller, seg.id, first, last)
        )
        _clash(conn, actor, start, end, now, fields[0])
        length, geojson = _recorded(track)
        duration = int((end - start).total_seconds())
        ended = (end, duration, length, geojson)
        patrol_id = _insert(conn, patroller, seg.id, kind, pairing_id, start, notes, now, ended)
        uow.commit()
    return PatrolRecorded(patrol_id, kind, pairing_id, start, end, duration, length)


# -- a patrol under way, then ended ---------------------------------------------------------------


def start_patrol(
    uow: UnitOfWork, actor: Actor, segment: str, started_at: datetime, kind: str | None = None, notes: str = ""
) -> PatrolRecorded:
    """Start a patrol of ``segment`` by ``actor``: under way until ``end_patrol``.

    The rules of ``record_patrol``, checked for the start's day; a start more than
    ``CLOCK_SKEW`` ahead of the clock is refused, and so is a second patrol under
    way for the same patroller (the refusal names the one under way).
    """
    errors = check_kind_notes(kind, notes)
    if started_at.tzinfo is None:
        errors.append(("started_at", "needs a UTC offset, e.g. 2026-03-05T09:00+08:00"))
    if errors:
        raise ValidationFailed.of(errors)
    with uow:
        conn = uow.connection
        now = uow.clock.now()
        seg = segment_row(conn, segment)
        if started_at > now + CLOCK_SKEW:
            raise ValidationFailed("started_at", f"{started_at.isoformat()} is in the future")
        patroller = check_patroller(actor, kind)
        day = local_day(started_at)
        kind, pairing_id = decide_kind(
            actor, seg, kind, day, day, lambda: live_pairing(conn, patroller, seg.id, day, day)
        )
        running = conn.execute(
            sa.select(_patrol.c.id, _patrol.c.started_at, _segment.c.code)
            .join(_segment, _segment.c.id == _patrol.c.segment_id)
            .where(_patrol.c.patroller_id == patroller, _patrol.c.ended_at.is_(None))
            .limit(1)
        ).first()
        if running is not None:
            when = running.started_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            raise ValidationFailed(
                "started_at",
                f"{actor.code}'s patrol #{running.id} of {running.code}, started {when}, is under way: end it first",
            )
        _clash(conn, actor, started_at, max(now, started_at), now, "started_at")
        patrol_id = _insert(conn, patroller, seg.id, kind, pairing_id, started_at, notes, now)
        uow.commit()
    return PatrolRecorded(patrol_id, kind, pairing_id, started_at, None, None, None)


def _insert(
    conn: sa.Connection,
    patroller: int,
    segment_id: int,
    kind: str,
    pairing_id: int | None,
    started_at: datetime,
    notes: str,
    now: datetime,
    ended: tuple[datetime, int, int | None, dict[str, Any] | None] | None = None,
) -> int:
    """One patrol row: ended (its end, duration, length and track) or, without ``ended``, under way."""
    end, duration, length, track = ended or (None, None, None, None)
    result = conn.execute(
        _patrol.insert().values(
            patroller_id=patroller,
            segment_id=segment_id,
            kind=kind,
            pairing_id=pairing_id,
            started_at=started_at,
            ended_at=end,
            duration_s=duration,
            length_m=length,
            track=track,
            notes=notes.strip(),
            created_at=now,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def _patrol_facts(conn: sa.Connection, patrol_id: int) -> Any | None:
    return conn.execute(
        sa.select(
            _patrol.c.id,
            _patrol.c.kind,
            _patrol.c.patroller_id,
            _patrol.c.pairing_id,
            _patrol.c.started_at,
            _patrol.c.ended_at,
            _segment.c.code.label("segment"),
            _juris.c.code.label("owner"),
            _juris.c.name.label("owner_name"),
            _juris.c.path.label("path"),
            _pairing.c.compact_id.label("pairing_compact_id"),
            _pairing.c.ends_on.label("pairing_ends_on"),
            _compact.c.code.label("pairing_compact"),
        )
        .join(_segment, _segment.c.id == _patrol.c.segment_id)
        .join(_juris, _juris.c.id == _segment.c.jurisdiction_id)
        .outerjoin(_pairing, _pairing.c.id == _patrol.c.pairing_id)
        .outerjoin(_compact, _compact.c.id == _pairing.c.compact_id)
        .where(_patrol.c.id == patrol_id)
    ).first()


def _readable(conn: sa.Connection, actor: Actor, patrol_id: int) -> Any:
    """The patrol's facts, for a caller who may read it; NotFound for anyone else (it does not exist for them)."""
    found = _patrol_facts(conn, patrol_id)
    if found is None or not may_read(
        actor, scope_of(found.patroller_id, found.path, found.pairing_compact_id, compact_paths(conn))
    ):
        raise NotFound("patrol", patrol_id)
    if actor.id != found.patroller_id:
        raise NotPermitted(actor.code, "patrol", ["the patroller"], [])
    return found


def end_patrol(
    uow: UnitOfWork, actor: Actor, patrol_id: int, ended_at: datetime, track: Track | None = None
) -> PatrolRecorded:
    """End a patrol under way, as its patroller: after its start, within 24 hours of it, not in the future
    (``CLOCK_SKEW`` taken), the track's times inside it, overlapping none of the patroller's other patrols.

    Ending an ended patrol is a Conflict (409); the first end stands.
    """
    if ended_at.tzinfo is None:
        raise ValidationFailed("ended_at", "needs a UTC offset, e.g. 2026-03-05T11:00+08:00")
    with uow:
        conn = uow.connection
        now = uow.clock.now()
        found = _readable(conn, actor, patrol_id)
        if found.ended_at is not None:
            raise AlreadyEnded(patrol_id, found.ended_at)
        start, end = times(found.started_at, ended_at, track, now, API_FIELDS, skew=True)
        if found.pairing_ends_on is not None and found.pairing_ends_on < local_day(end):
            raise ValidationFailed(
                "ended_at", f"swap pairing #{found.pairing_id} ends on {found.pairing_ends_on}, before this end"
            )
        _clash(conn, actor, start, end, now, "ended_at", but=patrol_id)
        length, geojson = _recorded(track)
        duration = int((end - start).total_seconds())
        changed = conn.execute(
            _patrol.update()
            .where(_patrol.c.id == patrol_id, _patrol.c.ended_at.is_(None))
            .values(ended_at=end, duration_s=duration, length_m=length, track=geojson)
        ).rowcount
        if changed != 1:  # ended by another request meanwhile
            raise AlreadyEnded(patrol_id, end)
        uow.commit()
    return PatrolRecorded(patrol_id, found.kind, found.pairing_id, start, end, duration, length)


# -- issues found on a patrol ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatrolReport:
    """An issue reported from a patrol, and the side it went to."""

    issue_code: str
    patrol_id: int
    kind: str
    state: str
    handed_to: str | None  # the owner side's division code, for an issue found on a swap patrol
    handed_to_name: str | None = None
    version: int = 0


def report_from_patrol(
    uow: UnitOfWork, actor: Actor, patrol_id: int, draft: IssueDraft, *, late: bool = False
) -> PatrolReport:
    """Report an issue found on a patrol, as its patroller; it is linked to the patrol.

    The patrol is under way (the usual case: the phone reports from inside it) or
    ended on the day of the report; ``late`` takes an ended patrol on any later day
    (the CLI, entering what a patrol log says at the desk). Found on a swap patrol, the issue is handed at
    once to the jurisdiction that owns the segment (the owner side); a covert
    inspection's issue is marked by its patrol's kind. The report, the link and
    the hand-off are one transaction: all of them, or none.
    """
    with uow.held():
        conn = uow.connection
        found = _readable(conn, actor, patrol_id)
        today = local_day(uow.clock.now())
        if (
            not late
            and found.ended_at is not None
            and today not in (local_day(found.started_at), local_day(found.ended_at))
        ):
            raise ValidationFailed(
                "patrol",
                f"patrol #{patrol_id} ended on {local_day(found.ended_at)}: what a patrol finds is reported from "
                "inside it or on its day; report this as a new problem",
            )
        if draft.segment not in (None, found.segment):
            raise ValidationFailed("segment", f"patrol #{patrol_id} was on {found.segment}, not {draft.segment}")
        if found.kind == "swap" and draft.compact != found.pairing_compact:
            raise ValidationFailed("compact", f"the swap pairing of patrol #{patrol_id} is {found.pairing_compact}'s")
        reported = report_issue(uow, actor, replace(draft, segment=found.segment))
        issue_id = conn.execute(sa.select(_issue.c.id).where(_issue.c.code == reported.issue_code)).scalar_one()
        conn.execute(_link.insert().values(issue_id=issue_id, patrol_id=patrol_id))
        if found.kind != "swap":
            return PatrolReport(
                reported.issue_code, patrol_id, found.kind, reported.state, None, None, reported.version
            )
        handed = apply_within(
            uow,
            reported.issue_code,
            "hand_off",
            actor,
            {"receiving": found.owner, "note": "交叉互巡发现，即时反馈责任方"},
        )
    return PatrolReport(
        reported.issue_code, patrol_id, found.kind, handed.state, found.owner, found.owner_name, handed.version
    )
