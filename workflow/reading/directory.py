"""Reading reference data as the API shows it: jurisdictions, compacts, rivers, segments and people."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from workflow.core.models import (
    Compact,
    CompactMember,
    CompactStaff,
    Jurisdiction,
    Person,
    River,
    Segment,
    table_of,
)

_person = table_of(Person)
_juris = table_of(Jurisdiction)
_compact = table_of(Compact)
_member = table_of(CompactMember)
_staff = table_of(CompactStaff)
_river = table_of(River)
_segment = table_of(Segment)


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


def rivers_within(conn: sa.Connection, compact_ids: Collection[int]) -> list[tuple[str, str]]:
    """The rivers (code, name) with a segment in a member jurisdiction of these compacts or under one, by code:
    what a filter of their issues may offer (the province's other rivers hold none of their issues)."""
    if not compact_ids:
        return []
    member = _juris.alias("member")
    query = (
        sa.select(_river.c.code, _river.c.name)
        .where(
            sa.exists()
            .where(_segment.c.river_id == _river.c.id)
            .where(_juris.c.id == _segment.c.jurisdiction_id)
            .where(_juris.c.path.startswith(member.c.path))
            .where(member.c.id == _member.c.jurisdiction_id)
            .where(_member.c.compact_id.in_(sorted(compact_ids)))
        )
        .order_by(_river.c.code)
    )
    return [(r.code, r.name) for r in conn.execute(query)]


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
