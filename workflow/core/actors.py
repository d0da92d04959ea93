"""Who is acting, and how they stand to an issue (the parties of the chart)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from states import Party
from workflow.core.errors import NotFound
from workflow.core.models import CompactMember, CompactStaff, Jurisdiction, Person, table_of

SIDE_ROLES = frozenset({"chief", "office"})


@dataclass(frozen=True, slots=True)
class Actor:
    """A person (or the system) firing a trigger, with what permissions are decided on."""

    id: int | None
    code: str
    name: str
    role: str
    jurisdiction_id: int | None = None
    jurisdiction_path: str | None = None
    coordinates: frozenset[int] = frozenset()  # compact ids
    audits: frozenset[int] = frozenset()
    member_of: frozenset[int] = frozenset()  # compacts one of whose members contains the actor


SYSTEM = Actor(id=None, code="system", name="系统", role="system")


_person = table_of(Person)
_place = table_of(Jurisdiction)
_staff = table_of(CompactStaff)
_member = table_of(CompactMember)


def load_actor(session: Session, code: str) -> Actor:
    """The actor for a person's code; raises NotFound for an unknown or inactive person.

    Three Core statements, no ORM objects: this runs on every API request.
    """
    if code == SYSTEM.code:
        return SYSTEM
    conn = session.connection()
    row = conn.execute(
        sa.select(
            _person.c.id, _person.c.code, _person.c.name, _person.c.role, _person.c.jurisdiction_id, _place.c.path
        )
        .select_from(_person.outerjoin(_place, _place.c.id == _person.c.jurisdiction_id))
        .where(_person.c.code == code, _person.c.active == sa.true())
    ).first()
    if row is None:
        raise NotFound("person", code)
    staff = conn.execute(sa.select(_staff.c.compact_id, _staff.c.role).where(_staff.c.person_id == row.id)).all()
    member_of: frozenset[int] = frozenset()
    path = row.path
    if path:
        member_paths = conn.execute(
            sa.select(_member.c.compact_id, _place.c.path).join(_place, _place.c.id == _member.c.jurisdiction_id)
        ).all()
        member_of = frozenset(c for c, p in member_paths if path.startswith(p))
    return Actor(
        id=row.id,
        code=row.code,
        name=row.name,
        role=row.role,
        jurisdiction_id=row.jurisdiction_id,
        jurisdiction_path=path,
        coordinates=frozenset(c for c, r in staff if r == "coordinator"),
        audits=frozenset(c for c, r in staff if r == "auditor"),
        member_of=member_of,
    )


def parties(actor: Actor, compact_id: int, reporting_path: str | None, receiving_path: str | None) -> frozenset[Party]:
    """How ``actor`` stands to an issue of ``compact_id`` with the given sides.

    A chief or office acts for a side when its jurisdiction is that side's or
    above it, but not when it is above both sides: a common superior is a
    higher chief, not a party to the dispute.
    """
    if actor.role == "system":
        return frozenset({Party.SYSTEM})
    held: set[Party] = set()
    if compact_id in actor.coordinates:
        held.add(Party.COORDINATOR)
    if compact_id in actor.audits:
        held.add(Party.AUDITOR)
    path = actor.jurisdiction_path
    if actor.role in SIDE_ROLES and path:
        if compact_id in actor.member_of:
            held.add(Party.MEMBER)
        over_reporting = reporting_path is not None and reporting_path.startswith(path)
        over_receiving = receiving_path is not None and receiving_path.startswith(path)
        if over_reporting and not over_receiving:
            held.add(Party.REPORTING)
        if over_receiving and not over_reporting:
            held.add(Party.RECEIVING)
        if actor.role == "chief" and receiving_path is not None and over_receiving and receiving_path != path:
            held.add(Party.HIGHER_CHIEF)
    return frozenset(held)


def side_of(held: frozenset[Party]) -> str | None:
    """Which side an actor signs for, if any."""
    if Party.REPORTING in held:
        return Party.REPORTING.value
    if Party.RECEIVING in held:
        return Party.RECEIVING.value
    return None
