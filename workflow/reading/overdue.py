"""Missed deadlines over a period: whose wait it was, on which issue, and for how long."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from states.policy import DEADLINES
from workflow.core.models import (
    Event,
    Issue,
    Jurisdiction,
    Person,
    table_of,
)

_issue = table_of(Issue)
_event = table_of(Event)


@dataclass(frozen=True, slots=True)
class Overdue:
    """One missed deadline: whose it was, on which issue, and for how long in the period."""

    party: str
    jurisdiction_id: int | None
    issue_code: str
    state: str
    due_at: datetime
    until: datetime | None  # when the wait ended; None if it still goes on


def overdue_waits(conn: sa.Connection, compact_id: int, start: datetime, end: datetime) -> Iterator[Overdue]:
    """Each wait of the compact's issues whose deadline passed before ``end`` and that lasted past ``start``."""
    nxt = sa.func.lead(_event.c.occurred_at, type_=_event.c.occurred_at.type).over(
        partition_by=_event.c.issue_id, order_by=_event.c.seq
    )
    changes = (
        sa.select(_event.c.issue_id, _event.c.to_state, _event.c.due_at, _event.c.from_state, nxt.label("until"))
        .join(_issue, _issue.c.id == _event.c.issue_id)
        .where(_issue.c.compact_id == compact_id, _event.c.from_state != _event.c.to_state)
        .subquery()
    )
    rows = conn.execute(
        sa.select(changes, _issue.c.code, _issue.c.reporting_jurisdiction_id, _issue.c.receiving_jurisdiction_id)
        .join(_issue, _issue.c.id == changes.c.issue_id)
        .where(changes.c.due_at.is_not(None), changes.c.due_at < end)
    ).all()
    for r in rows:
        until = r.until
        if until is not None and (until <= r.due_at or until < start):
            continue  # met in time, or settled before the period
        policy = DEADLINES.get(r.to_state)
        party = policy.waits_on if policy else "receiving"
        jurisdiction = {"reporting": r.reporting_jurisdiction_id, "receiving": r.receiving_jurisdiction_id}.get(party)
        yield Overdue(party, jurisdiction, r.code, r.to_state, r.due_at, until)


def overdue_parties(conn: sa.Connection, compact_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The overdue parties by name (jurisdiction and its chiefs), with the issues they are late on."""
    grouped: dict[tuple[str, int | None], list[str]] = {}
    for o in overdue_waits(conn, compact_id, start, end):
        grouped.setdefault((o.party, o.jurisdiction_id), []).append(o.issue_code)
    names = dict(conn.execute(sa.select(table_of(Jurisdiction).c.id, table_of(Jurisdiction).c.name)).all())
    people = table_of(Person)
    parties = []
    for (party, jid), codes in sorted(grouped.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        chiefs = []
        if jid is not None:
            chiefs = list(
                conn.execute(
                    sa.select(people.c.name)
                    .where(people.c.jurisdiction_id == jid, people.c.role == "chief", people.c.active.is_(True))
                    .order_by(people.c.name)
                ).scalars()
            )
        parties.append(
            {
                "party": party,
                "jurisdiction_id": jid,
                "jurisdiction": names.get(jid, "联席会议" if party == "coordinator" else "第三方回访机构"),
                "chiefs": chiefs,
                "issues": sorted(set(codes)),
            }
        )
    return parties
