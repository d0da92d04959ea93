"""Swap-patrol pairings (交叉互巡): who may patrol whose segment, and when."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from workflow.core.errors import ValidationFailed
from workflow.core.lookups import compact_row, member_paths
from workflow.core.models import (
    Compact,
    Person,
    Segment,
    SwapPairing,
    table_of,
)
from workflow.core.uow import UnitOfWork
from workflow.patrols.basics import RELATIONS, owns_segment, person_row, segment_row, side_of_path

_pairing = table_of(SwapPairing)
_person = table_of(Person)
_segment = table_of(Segment)
_compact = table_of(Compact)


# -- swap pairings ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PairingView:
    """A swap pairing as people read it."""

    id: int
    compact: str
    chief_a: str
    chief_a_name: str
    segment_a: str
    segment_a_name: str
    chief_b: str
    chief_b_name: str
    segment_b: str
    segment_b_name: str
    relation: str
    starts_on: date
    ends_on: date


def add_pairing(
    uow: UnitOfWork,
    compact: str,
    chief_a: str,
    segment_a: str,
    chief_b: str,
    segment_b: str,
    starts_on: date,
    ends_on: date,
    relation: str | None = None,
) -> int:
    """Pair two boundary chiefs of different sides: each may patrol the other's segment from ``starts_on``
    to ``ends_on``. ``relation`` is how segment A faces segment B; by default the segments' own."""
    with uow:
        conn = uow.connection
        errors: list[tuple[str, str]] = []
        found = _collect(
            errors,
            compact=lambda: compact_row(conn, compact),
            chief_a=lambda: person_row(conn, chief_a, "chief_a"),
            segment_a=lambda: segment_row(conn, segment_a, "segment_a"),
            chief_b=lambda: person_row(conn, chief_b, "chief_b"),
            segment_b=lambda: segment_row(conn, segment_b, "segment_b"),
        )
        if ends_on < starts_on:
            errors.append(("ends_on", f"{ends_on} is before starts_on {starts_on}"))
        if relation is not None and relation not in RELATIONS:
            errors.append(("relation", f"{relation!r} is not one of {', '.join(RELATIONS)}"))
        if errors:
            raise ValidationFailed.of(errors)
        row_c, a, seg_a, b, seg_b = (found[k] for k in ("compact", "chief_a", "segment_a", "chief_b", "segment_b"))
        for person, field in ((a, "chief_a"), (b, "chief_b")):
            if person.role != "chief":
                errors.append((field, f"{person.code} is a {person.role}, not a chief"))
        if a.id == b.id:
            errors.append(("chief_b", "a chief is not paired with themselves"))
        for person, seg, field in ((a, seg_a, "segment_a"), (b, seg_b, "segment_b")):
            if not owns_segment(person.id, person.path, seg):
                errors.append((field, f"{seg.code} ({seg.name}) is not {person.code}'s segment"))
        members = member_paths(conn, row_c.id)
        sides = [side_of_path(members, seg.path) for seg in (seg_a, seg_b)]
        for seg, side, field in ((seg_a, sides[0], "segment_a"), (seg_b, sides[1], "segment_b")):
            if side is None:
                errors.append((field, f"{seg.code} ({seg.jurisdiction}) is not in compact {compact}"))
        if sides[0] is not None and sides[0] == sides[1]:
            errors.append(("segment_b", f"{seg_a.code} and {seg_b.code} are on the same side of the border"))
        if relation is None:
            if seg_a.counterpart_id == seg_b.id and seg_a.relation:
                relation = seg_a.relation
            else:
                errors.append(("relation", f"{seg_a.code} and {seg_b.code} are not counterparts: give the relation"))
        if errors:
            raise ValidationFailed.of(errors)
        same = sa.or_(
            sa.and_(_pairing.c.chief_a_id == a.id, _pairing.c.segment_b_id == seg_b.id),
            sa.and_(_pairing.c.chief_b_id == a.id, _pairing.c.segment_a_id == seg_b.id),
            sa.and_(_pairing.c.chief_a_id == b.id, _pairing.c.segment_b_id == seg_a.id),
            sa.and_(_pairing.c.chief_b_id == b.id, _pairing.c.segment_a_id == seg_a.id),
        )
        clash = conn.execute(
            sa.select(_pairing.c.id, _pairing.c.starts_on, _pairing.c.ends_on).where(
                same, _pairing.c.starts_on <= ends_on, _pairing.c.ends_on >= starts_on
            )
        ).first()
        if clash is not None:
            raise ValidationFailed(
                "starts_on", f"overlaps pairing #{clash.id} ({clash.starts_on}–{clash.ends_on}) of the same chiefs"
            )
        result = conn.execute(
            _pairing.insert().values(
                compact_id=row_c.id,
                chief_a_id=a.id,
                segment_a_id=seg_a.id,
                chief_b_id=b.id,
                segment_b_id=seg_b.id,
                relation=relation,
                starts_on=starts_on,
                ends_on=ends_on,
                created_at=uow.clock.now(),
            )
        )
        uow.commit()
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def _collect(errors: list[tuple[str, str]], **lookups: Any) -> dict[str, Any]:
    """Run every lookup, gathering each refusal, so one answer names all the bad fields."""
    found = {}
    for name, lookup in lookups.items():
        try:
            found[name] = lookup()
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    return found


def list_pairings(conn: sa.Connection, *, compact: str | None = None, on: date | None = None) -> list[PairingView]:
    """Pairings, newest first; those of a compact, or live on a day, when asked."""
    pa, pb = _person.alias("pa"), _person.alias("pb")
    sa_, sb = _segment.alias("sa"), _segment.alias("sb")
    query = (
        sa.select(
            _pairing,
            _compact.c.code.label("compact"),
            pa.c.code.label("a_code"),
            pa.c.name.label("a_name"),
            pb.c.code.label("b_code"),
            pb.c.name.label("b_name"),
            sa_.c.code.label("sa_code"),
            sa_.c.name.label("sa_name"),
            sb.c.code.label("sb_code"),
            sb.c.name.label("sb_name"),
        )
        .join(_compact, _compact.c.id == _pairing.c.compact_id)
        .join(pa, pa.c.id == _pairing.c.chief_a_id)
        .join(pb, pb.c.id == _pairing.c.chief_b_id)
        .join(sa_, sa_.c.id == _pairing.c.segment_a_id)
        .join(sb, sb.c.id == _pairing.c.segment_b_id)
        .order_by(_pairing.c.id.desc())
    )
    if compact is not None:
        query = query.where(_compact.c.code == compact)
    if on is not None:
        query = query.where(_pairing.c.starts_on <= on, _pairing.c.ends_on >= on)
    return [
        PairingView(
            r.id,
            r.compact,
            r.a_code,
            r.a_name,
            r.sa_code,
            r.sa_name,
            r.b_code,
            r.b_name,
            r.sb_code,
            r.sb_name,
            r.relation,
            r.starts_on,
            r.ends_on,
        )
        for r in conn.execute(query)
    ]


def live_pairing(conn: sa.Connection, person_id: int, segment_id: int, first: date, last: date) -> int | None:
    """The pairing that gives ``person_id`` the segment on every day from ``first`` to ``last``, if any."""
    return conn.execute(
        sa.select(_pairing.c.id)
        .where(
            sa.or_(
                sa.and_(_pairing.c.chief_a_id == person_id, _pairing.c.segment_b_id == segment_id),
                sa.and_(_pairing.c.chief_b_id == person_id, _pairing.c.segment_a_id == segment_id),
            ),
            _pairing.c.starts_on <= first,
            _pairing.c.ends_on >= last,
        )
        .order_by(_pairing.c.id)
        .limit(1)
    ).scalar()


def pairings_for(conn: sa.Connection, person_id: int, segment_ids: Iterable[int]) -> dict[int, list[Any]]:
    """Every pairing that gives ``person_id`` one of the segments, by segment, oldest first, in one query
    (rows of id, starts_on, ends_on); ``live_on`` picks the one live on given days, as ``live_pairing`` would."""
    wanted = sorted(set(segment_ids))
    found: dict[int, list[Any]] = {}
    if not wanted:
        return found
    given = sa.case((_pairing.c.chief_a_id == person_id, _pairing.c.segment_b_id), else_=_pairing.c.segment_a_id)
    rows = conn.execute(
        sa.select(given.label("segment_id"), _pairing.c.id, _pairing.c.starts_on, _pairing.c.ends_on)
        .where(
            sa.or_(
                sa.and_(_pairing.c.chief_a_id == person_id, _pairing.c.segment_b_id.in_(wanted)),
                sa.and_(_pairing.c.chief_b_id == person_id, _pairing.c.segment_a_id.in_(wanted)),
            )
        )
        .order_by(_pairing.c.id)
    )
    for row in rows:
        found.setdefault(row.segment_id, []).append(row)
    return found


def live_on(pairings: Iterable[Any], first: date, last: date) -> int | None:
    """The first of ``pairings`` (from ``pairings_for``) live on every day from ``first`` to ``last``."""
    return next((p.id for p in pairings if p.starts_on <= first and p.ends_on >= last), None)
