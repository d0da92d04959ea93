"""Missed deadlines over a period: whose wait it was, on which issue, and for how long."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from states.policy import DEADLINES, PLANNED_STATES
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


# The states whose arrival sets a deadline: an issue in none of them waits on nobody now.
_WAITING = sorted(frozenset(DEADLINES) | PLANNED_STATES)


def overdue_waits(conn: sa.Connection, compact_id: int, start: datetime, end: datetime) -> Iterator[Overdue]:
    """Each wait of the compact's issues whose deadline passed before ``end`` and that lasted past ``start``.

    A wait is a state change with a deadline; it lasts until the issue's next state change. Only issues
    changed since ``start`` or waiting now can have one (every step stamps ``updated_at``, so an issue
    untouched since then had each of its waits end before the period or still waits in its state), and
    a state change's own fields, issue and order are all in ``ix_event_waits``: the query reads a few
    hundred issues' index entries, not the compact's whole ledger.
    """
    until = sa.func.lead(_event.c.occurred_at, type_=_event.c.occurred_at.type).over(
        partition_by=_event.c.issue_id, order_by=_event.c.seq
    )
    waits = (
        sa.select(
            _issue.c.code,
            _issue.c.reporting_jurisdiction_id,
            _issue.c.receiving_jurisdiction_id,
            _event.c.to_state,
            _event.c.due_at,
            until.label("until"),
        )
        .join(_issue, _issue.c.id == _event.c.issue_id)
        .where(
            _issue.c.compact_id == compact_id,
            _event.c.from_state != _event.c.to_state,
            sa.or_(_issue.c.updated_at >= start, _issue.c.state.in_(_WAITING)),
        )
        .subquery()
    )
    missed = sa.select(waits).where(
        waits.c.due_at < end,
        # Still going on, or ended after its deadline and not before the period.
        sa.or_(waits.c.until.is_(None), sa.and_(waits.c.until > waits.c.due_at, waits.c.until >= start)),
    )
    for r in conn.execute(missed.order_by(waits.c.code, waits.c.due_at)).all():
        policy = DEADLINES.get(r.to_state)
        party = policy.waits_on if policy else "receiving"
        jurisdiction = {"reporting": r.reporting_jurisdiction_id, "receiving": r.receiving_jurisdiction_id}.get(party)
        yield Overdue(party, jurisdiction, r.code, r.to_state, r.due_at, r.until)


def overdue_parties(
    conn: sa.Connection, compact_id: int, start: datetime, end: datetime, waits: Iterable[Overdue] | None = None
) -> list[dict[str, Any]]:
    """The overdue parties by name (jurisdiction, the one it lies within, and its chiefs), with the issues they
    are late on; ``waits`` when the caller has read them already (``overdue_waits`` of the same compact and
    period). Towns of one name lie in several districts: ``within`` tells them apart."""
    grouped: dict[tuple[str, int | None], list[str]] = {}
    for o in overdue_waits(conn, compact_id, start, end) if waits is None else waits:
        grouped.setdefault((o.party, o.jurisdiction_id), []).append(o.issue_code)
    named = sorted({jid for _, jid in grouped if jid is not None})
    jurisdictions, people = table_of(Jurisdiction), table_of(Person)
    names: dict[int, str] = {}
    within: dict[int, str | None] = {}
    chiefs: dict[int, list[str]] = {}
    if named:  # the parties' names and their chiefs, two statements however many parties
        parent = jurisdictions.alias("parent")
        for jid, name, parent_name in conn.execute(
            sa.select(jurisdictions.c.id, jurisdictions.c.name, parent.c.name)
            .outerjoin(parent, parent.c.id == jurisdictions.c.parent_id)
            .where(jurisdictions.c.id.in_(named))
        ):
            names[jid], within[jid] = name, parent_name
        for jid, name in conn.execute(
            sa.select(people.c.jurisdiction_id, people.c.name)
            .where(people.c.jurisdiction_id.in_(named), people.c.role == "chief", people.c.active.is_(True))
            .order_by(people.c.jurisdiction_id, people.c.name)
        ):
            chiefs.setdefault(jid, []).append(name)
    return [
        {
            "party": party,
            "jurisdiction_id": jid,
            # None for a party that is no place (the joint meeting, the auditor): the reader's page or report
            # names it by ``party``, in the reader's language.
            "jurisdiction": names.get(jid) if jid is not None else None,
            "within": within.get(jid or 0),
            "chiefs": chiefs.get(jid or 0, []),
            "issues": sorted(set(codes)),
        }
        for (party, jid), codes in sorted(grouped.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))
    ]
