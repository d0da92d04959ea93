"""Patrols as people read them, and who may read which: the one rule the API, the pages and the services share.

A patrol is read by its patroller; by the chiefs and offices of the patrolled segment's jurisdiction or one
above it; by the coordinators of its compact (a swap patrol's is its pairing's; any other's, each compact the
segment's jurisdiction belongs to); and by admins. For anyone else it does not exist.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from workflow.core.actors import Actor
from workflow.core.models import (
    CompactMember,
    Issue,
    Jurisdiction,
    Patrol,
    PatrolIssue,
    Person,
    Segment,
    SwapPairing,
    table_of,
)
from workflow.patrols.basics import midnight, month_days, parse_month

_patrol = table_of(Patrol)
_pairing = table_of(SwapPairing)
_link = table_of(PatrolIssue)
_person = table_of(Person)
_segment = table_of(Segment)
_juris = table_of(Jurisdiction)
_member = table_of(CompactMember)
_issue = table_of(Issue)

READING_ROLES = ("chief", "office")  # read the patrols of their jurisdiction's segments and those below


# -- who may read a patrol ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatrolScope:
    """What decides who may read a patrol."""

    patroller_id: int
    segment_path: str  # the patrolled segment's jurisdiction's path
    compacts: frozenset[int]  # a swap patrol's pairing's compact; else the compacts the segment's jurisdiction is in


def may_read(actor: Actor, scope: PatrolScope) -> bool:
    """Whether ``actor`` may read the patrol (the module's docstring says who)."""
    if actor.id is not None and actor.id == scope.patroller_id:
        return True
    if actor.role == "admin":
        return True
    path = actor.jurisdiction_path
    if actor.role in READING_ROLES and path and scope.segment_path.startswith(path):
        return True
    return bool(actor.coordinates & scope.compacts)


def compact_paths(conn: sa.Connection) -> list[tuple[int, str]]:
    """(compact id, member jurisdiction's path) for every member of every compact."""
    return [
        (row.compact_id, row.path)
        for row in conn.execute(
            sa.select(_member.c.compact_id, _juris.c.path).join(_juris, _juris.c.id == _member.c.jurisdiction_id)
        )
    ]


def scope_of(
    patroller_id: int, segment_path: str, pairing_compact: int | None, members: Iterable[tuple[int, str]]
) -> PatrolScope:
    """A patrol's scope from its row's facts and ``compact_paths``."""
    if pairing_compact is not None:
        compacts = frozenset({pairing_compact})
    else:
        compacts = frozenset(c for c, path in members if segment_path.startswith(path))
    return PatrolScope(patroller_id, segment_path, compacts)


# -- patrols as people read them ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatrolView:
    """A patrol as people read it; ``ended_at`` and ``duration_s`` are None while it is under way."""

    id: int
    patroller: str
    patroller_name: str
    segment: str
    segment_name: str
    kind: str
    pairing_id: int | None
    started_at: datetime
    ended_at: datetime | None
    duration_s: int | None
    length_m: int | None
    issues: list[str]
    scope: PatrolScope | None = None
    notes: str = ""

    @property
    def under_way(self) -> bool:
        return self.ended_at is None


def list_patrols(
    conn: sa.Connection,
    *,
    person: str | None = None,
    month: str | None = None,
    under_way: bool | None = None,
    ids: Collection[int] | None = None,
    limit: int = 500,
) -> list[PatrolView]:
    """Patrols, latest first; one person's, one month's, those under way (or ended), or those of ``ids``, when asked."""
    query = (
        sa.select(
            _patrol.c.id,
            _patrol.c.patroller_id,
            _patrol.c.kind,
            _patrol.c.pairing_id,
            _patrol.c.started_at,
            _patrol.c.ended_at,
            _patrol.c.duration_s,
            _patrol.c.length_m,
            _patrol.c.notes,
            _person.c.code.label("p_code"),
            _person.c.name.label("p_name"),
            _segment.c.code.label("s_code"),
            _segment.c.name.label("s_name"),
            _juris.c.path.label("s_path"),
            _pairing.c.compact_id.label("pairing_compact"),
        )
        .join(_person, _person.c.id == _patrol.c.patroller_id)
        .join(_segment, _segment.c.id == _patrol.c.segment_id)
        .join(_juris, _juris.c.id == _segment.c.jurisdiction_id)
        .outerjoin(_pairing, _pairing.c.id == _patrol.c.pairing_id)
        .order_by(_patrol.c.started_at.desc(), _patrol.c.id.desc())
        .limit(limit)
    )
    if person is not None:
        query = query.where(_person.c.code == person)
    if month is not None:
        first, end = month_days(*parse_month(month))
        query = query.where(_patrol.c.started_at >= midnight(first), _patrol.c.started_at < midnight(end))
    if under_way is not None:
        query = query.where(_patrol.c.ended_at.is_(None) if under_way else _patrol.c.ended_at.is_not(None))
    if ids is not None:
        query = query.where(_patrol.c.id.in_(sorted(ids)))
    rows = conn.execute(query).all()
    found: dict[int, list[str]] = {}
    members: list[tuple[int, str]] = []
    if rows:
        for linked, code in conn.execute(
            sa.select(_link.c.patrol_id, _issue.c.code)
            .join(_issue, _issue.c.id == _link.c.issue_id)
            .where(_link.c.patrol_id.in_([r.id for r in rows]))
            .order_by(_issue.c.code)
        ):
            found.setdefault(linked, []).append(code)
        members = compact_paths(conn)
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
            scope_of(r.patroller_id, r.s_path, r.pairing_compact, members),
            r.notes,
        )
        for r in rows
    ]


def patrol_track(conn: sa.Connection, patrol_id: int) -> dict[str, Any] | None:
    """The patrol's track as stored (GeoJSON), or None."""
    track: dict[str, Any] | None = conn.execute(sa.select(_patrol.c.track).where(_patrol.c.id == patrol_id)).scalar()
    return track


# -- what a chief may patrol ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Patrollable:
    """A segment the actor may patrol on a day: their own (routine), or a neighbour's under a pairing (swap)."""

    code: str
    name: str
    jurisdiction: str
    jurisdiction_name: str
    kind: str
    pairing_id: int | None
    geometry: list[list[float]] | None


def patrollable(conn: sa.Connection, actor: Actor, day: date) -> list[Patrollable]:
    """The segments ``actor`` may patrol on ``day``: their own, then those a live swap pairing gives them."""
    if actor.id is None or actor.role != "chief":
        return []
    columns = (
        _segment.c.id,
        _segment.c.code,
        _segment.c.name,
        _segment.c.geometry,
        _juris.c.code.label("j_code"),
        _juris.c.name.label("j_name"),
    )
    own = _segment.c.chief_id == actor.id
    if actor.jurisdiction_path:
        own = sa.or_(own, _juris.c.path.startswith(actor.jurisdiction_path, autoescape=True))
    owned = conn.execute(
        sa.select(*columns).join(_juris, _juris.c.id == _segment.c.jurisdiction_id).where(own).order_by(_segment.c.code)
    ).all()
    given = sa.case((_pairing.c.chief_a_id == actor.id, _pairing.c.segment_b_id), else_=_pairing.c.segment_a_id)
    swapped = conn.execute(
        sa.select(*columns, _pairing.c.id.label("pairing_id"))
        .select_from(_pairing)
        .join(_segment, _segment.c.id == given)
        .join(_juris, _juris.c.id == _segment.c.jurisdiction_id)
        .where(
            sa.or_(_pairing.c.chief_a_id == actor.id, _pairing.c.chief_b_id == actor.id),
            _pairing.c.starts_on <= day,
            _pairing.c.ends_on >= day,
        )
        .order_by(_segment.c.code, _pairing.c.id)
    ).all()
    seen = {r.id for r in owned}
    found = [Patrollable(r.code, r.name, r.j_code, r.j_name, "routine", None, r.geometry) for r in owned]
    for r in swapped:
        if r.id not in seen:
            seen.add(r.id)
            found.append(Patrollable(r.code, r.name, r.j_code, r.j_name, "swap", r.pairing_id, r.geometry))
    return found
