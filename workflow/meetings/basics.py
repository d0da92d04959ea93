"""What meetings and action items share: their tables, field checks, who may act and the notices they queue."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from workflow.core.actors import SIDE_ROLES, Actor
from workflow.core.errors import NotFound, NotPermitted, Reason
from workflow.core.models import Outbox, table_of
from workflow.reading.meetings import person_table

_outbox = table_of(Outbox)

ATTENDANCE = ("invited", "present", "absent", "excused")
STATUSES = ("planned", "held", "cancelled")


def check_text(value: str | None, field: str, limit: int, *, required: bool = True) -> list[tuple[str, str]]:
    """The errors of a free-text field: required and not blank, at most ``limit`` characters."""
    if value is None or not value.strip():
        return [(field, Reason("required"))] if required else []
    if len(value) > limit:
        return [(field, Reason("text_length", length=len(value), n=limit))]
    return []


def only_coordinator(actor: Actor, compact_id: int, what: str, thing: tuple[str, object]) -> None:
    """Refuse anyone but a coordinator of the compact (联席会议协调人); to anyone outside the compact, ``thing``
    (what, key) does not exist."""
    readable(actor, compact_id, *thing)
    if compact_id not in actor.coordinates:
        raise NotPermitted(actor.code, what, ["coordinator"], [actor.role])


def readable(actor: Actor, compact_id: int, what: str, key: object) -> None:
    """A meeting or action item of a compact the actor is not in does not exist for them."""
    if compact_id not in (actor.member_of | actor.coordinates | actor.audits):
        raise NotFound(what, key)


def at_or_above(actor: Actor, paths: Iterable[str]) -> bool:
    """A chief or office whose jurisdiction is one of ``paths`` or contains it."""
    mine = actor.jurisdiction_path
    return actor.role in SIDE_ROLES and bool(mine) and any(p.startswith(mine or "") for p in paths)


def queue_to_people(
    conn: sa.Connection,
    *,
    topic: str,
    kind: str,
    people: Iterable[int],
    now: datetime,
    detail: dict[str, Any],
) -> int:
    """Queue one notice per person (once per topic and person: a repeat is ignored); returns rows queued."""
    queued = 0
    for person_id in sorted(set(people)):
        exists = conn.execute(
            sa.select(_outbox.c.id).where(_outbox.c.topic == topic, _outbox.c.recipient_id == person_id)
        ).first()
        if exists is not None:
            continue
        conn.execute(
            _outbox.insert().values(
                topic=topic,
                recipient_id=person_id,
                kind=kind,
                detail=detail,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        queued += 1
    return queued


def owners_of(conn: sa.Connection, jurisdiction_id: int) -> list[int]:
    """The active chiefs and offices of a jurisdiction: whom an action item it owns is addressed to."""
    return list(
        conn.execute(
            sa.select(person_table.c.id).where(
                person_table.c.jurisdiction_id == jurisdiction_id,
                person_table.c.role.in_(sorted(SIDE_ROLES)),
                person_table.c.active.is_(True),
            )
        ).scalars()
    )
