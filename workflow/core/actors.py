"""Who is acting, and how they stand to an issue (the parties of the chart)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from states import Party
from workflow.core.driver import Direct
from workflow.core.errors import NotFound
from workflow.core.models import Compact, CompactMember, CompactStaff, Jurisdiction, Person, table_of

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
_compact = table_of(Compact)
_member_place = _place.alias("member_place")

PERSON_ROW = "person"  # the kind of the person's own row in ``actor_statement``; the others are their compacts
MEMBER = "member"  # a compact one of whose members holds the person's jurisdiction


@dataclass(frozen=True, slots=True)
class KnownActor:
    """An actor as one statement found them, with what a page shows of them: names, not ids."""

    actor: Actor
    jurisdiction: tuple[str, str] | None  # (code, name)
    compacts: dict[int, tuple[str, str]]  # every compact the actor serves or belongs to: id -> (code, name)
    credential: Any  # the person's row, with the credential's own columns (see ``actor_statement``)
    beside: Mapping[str, Any] | None = None  # the row a ``Beside`` read found with the caller (None: none found)


@dataclass(frozen=True, slots=True)
class Beside:
    """A read of at most one row that does not depend on who the caller is, sent in the caller's statement.

    ``statement`` is built once by its module (the combined statement is then built once too); ``params``
    are its bind parameters, whose names must differ from the credential's (``digest``). A request that
    needs its caller and, say, the issue it names pays one round trip for both instead of two.
    """

    statement: sa.Select[Any]
    params: Mapping[str, Any] = field(default_factory=dict)


BESIDE = "beside_"  # the prefix of a ``Beside`` read's columns in the combined statement
_built: dict[tuple[int, int], tuple[Direct, sa.CompoundSelect[Any], sa.Select[Any] | None]] = {}


def caller_read(caller: sa.CompoundSelect[Any], beside: sa.Select[Any] | None = None) -> Direct:
    """``caller`` (an ``actor_statement``), with the row ``beside`` finds on each of its rows when one is given,
    that row's columns prefixed ``BESIDE`` (all NULL when it finds none): one statement, sent through the
    driver (``Direct``). Built once per pair and kept."""
    key = (id(caller), id(beside) if beside is not None else 0)
    kept = _built.get(key)
    if kept is not None and kept[1] is caller and kept[2] is beside:
        return kept[0]
    if beside is None:
        built = Direct(caller)
    else:
        found = caller.subquery("caller")
        extra = beside.subquery("beside")
        combined = sa.select(found, *(c.label(BESIDE + c.name) for c in extra.c)).select_from(
            found.outerjoin(extra, sa.true())
        )
        built = Direct(combined)
    _built[key] = (built, caller, beside)  # kept alive with their key, so their ids are not reused
    return built


def known_by(
    conn: sa.Connection, caller: sa.CompoundSelect[Any], params: Mapping[str, Any], beside: Beside | None = None
) -> KnownActor | None:
    """The actor ``caller`` (an ``actor_statement``) finds with ``params``, with the row ``beside`` reads in the same
    statement (``KnownActor.beside``); None when it finds none."""
    if beside is None:
        return known_actor(caller_read(caller).rows(conn, params))
    return known_actor(caller_read(caller, beside.statement).rows(conn, {**beside.params, **params}))


def _beside_of(row: Any) -> Mapping[str, Any] | None:
    """The ``Beside`` read's row among a combined statement's columns; None when it found none (or none was sent)."""
    cut = len(BESIDE)
    values = {key[cut:]: value for key, value in row._mapping.items() if key.startswith(BESIDE)}
    return values if any(value is not None for value in values.values()) else None


def actor_statement(credential: sa.CTE) -> sa.CompoundSelect[Any]:
    """One statement for who a credential stands for: the person and every compact they serve or belong to.

    ``credential`` has a ``person_id`` column and any columns of its own (a token's id, a session's expiry);
    those come back on the person's row (kind ``PERSON_ROW``). Each further row is a compact: its id, code
    and name, of kind ``coordinator`` or ``auditor`` (its staff) or ``MEMBER`` (the person's jurisdiction is
    one of its members or lies under one). An inactive person gives no rows. Built once per credential by
    its caller, so a request pays one round trip and no statement building for knowing its caller.
    """
    carried = [c for c in credential.c if c.name != "person_id"]
    columns = ("kind", "id", "code", "name", "role", "jurisdiction_id", "path", "place_code", "place_name")

    def compact_rows(kind: Any, source: Any) -> sa.Select[Any]:
        values = (kind, _compact.c.id, _compact.c.code, _compact.c.name, *(sa.null() for _ in columns[4:]))
        nulls = (sa.null().label(c.name) for c in carried)
        return sa.select(*(v.label(n) for v, n in zip(values, columns, strict=True)), *nulls).select_from(source)

    person = (
        sa.select(
            sa.literal_column(f"'{PERSON_ROW}'", sa.String).label("kind"),
            _person.c.id,
            _person.c.code,
            _person.c.name,
            _person.c.role,
            _person.c.jurisdiction_id,
            _place.c.path,
            _place.c.code.label("place_code"),
            _place.c.name.label("place_name"),
            *carried,
        )
        .select_from(
            credential.join(_person, _person.c.id == credential.c.person_id).outerjoin(
                _place, _place.c.id == _person.c.jurisdiction_id
            )
        )
        .where(_person.c.active.is_(True))
    )
    staff = compact_rows(
        _staff.c.role,
        credential.join(_staff, _staff.c.person_id == credential.c.person_id).join(
            _compact, _compact.c.id == _staff.c.compact_id
        ),
    )
    # Member of a compact: the person's jurisdiction is one of its members or lies under one (by path).
    member = compact_rows(
        sa.literal_column(f"'{MEMBER}'", sa.String),
        credential.join(_person, _person.c.id == credential.c.person_id)
        .join(_place, _place.c.id == _person.c.jurisdiction_id)
        .join(
            _member_place,
            sa.func.substr(_place.c.path, 1, sa.func.length(_member_place.c.path)) == _member_place.c.path,
        )
        .join(_member, _member.c.jurisdiction_id == _member_place.c.id)
        .join(_compact, _compact.c.id == _member.c.compact_id),
    )
    return sa.union_all(person, staff, member)


def known_actor(rows: Iterable[Any]) -> KnownActor | None:
    """The actor in the rows of an ``actor_statement``; None when there are none (unknown or inactive)."""
    head = None
    compacts: dict[int, tuple[str, str]] = {}
    held: dict[str, set[int]] = {"coordinator": set(), "auditor": set(), MEMBER: set()}
    for row in rows:
        if row.kind == PERSON_ROW:
            head = row
            continue
        compacts[row.id] = (row.code, row.name)
        held.setdefault(row.kind, set()).add(row.id)
    if head is None:
        return None
    actor = Actor(
        id=head.id,
        code=head.code,
        name=head.name,
        role=head.role,
        jurisdiction_id=head.jurisdiction_id,
        jurisdiction_path=head.path,
        coordinates=frozenset(held["coordinator"]),
        audits=frozenset(held["auditor"]),
        member_of=frozenset(held[MEMBER]),
    )
    place = (head.place_code, head.place_name) if head.place_code is not None else None
    return KnownActor(actor, place, compacts, head, _beside_of(head))


_BY_CODE = actor_statement(
    sa.select(_person.c.id.label("person_id")).where(_person.c.code == sa.bindparam("code")).cte("credential")
)


def load_actor(session: Session | sa.Connection, code: str) -> Actor:
    """The actor for a person's code; raises NotFound for an unknown or inactive person (one statement)."""
    if code == SYSTEM.code:
        return SYSTEM
    conn = session if isinstance(session, sa.Connection) else session.connection()
    found = known_by(conn, _BY_CODE, {"code": code})
    if found is None:
        raise NotFound("person", code)
    return found.actor


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
