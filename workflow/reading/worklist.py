"""What a person has to do now: the open issues they stand to, and which wait on them.

The pages' queue and dashboard read this; nothing here changes a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from states import Party
from states.policy import DEADLINES, PLANNED_STATES
from workflow.core.actors import Actor, parties
from workflow.core.models import Compact, Issue, Jurisdiction, live, table_of

_issue = table_of(Issue)
_reporting = table_of(Jurisdiction).alias("rj")
_receiving = table_of(Jurisdiction).alias("vj")
_compact = table_of(Compact)

# A wait that ends within this many working days counts as "due soon".
DUE_SOON_WORKING_DAYS = 3


def waits_on(state: str) -> Party | None:
    """The party an issue in ``state`` is waiting on, if it waits on anyone."""
    if state in PLANNED_STATES:
        return Party.RECEIVING
    policy = DEADLINES.get(state)
    return Party(policy.waits_on) if policy else None


@dataclass(frozen=True, slots=True)
class WorkItem:
    """An open issue as one person stands to it."""

    code: str
    title: str
    category: str
    state: str
    version: int
    due_at: datetime | None
    created_at: datetime
    compact: str
    reporting: str
    receiving: str | None
    held: frozenset[Party]
    waiting_on: Party | None

    @property
    def on_me(self) -> bool:
        """Whether the issue waits on a party this person holds."""
        return self.waiting_on is not None and self.waiting_on in self.held

    def overdue(self, now: datetime) -> bool:
        """Whether its deadline has passed."""
        return self.due_at is not None and self.due_at < now


def open_issues(conn: sa.Connection, actor: Actor) -> list[WorkItem]:
    """The open issues of the actor's compacts that the actor holds any party to, oldest deadline first."""
    compacts = actor.member_of | actor.coordinates | actor.audits
    if not compacts:
        return []
    query = (
        sa.select(
            _issue.c.code,
            _issue.c.title,
            _issue.c.category,
            _issue.c.state,
            _issue.c.version,
            _issue.c.due_at,
            _issue.c.created_at,
            _issue.c.compact_id,
            _compact.c.code.label("compact"),
            _reporting.c.name.label("reporting"),
            _reporting.c.path.label("reporting_path"),
            _receiving.c.name.label("receiving"),
            _receiving.c.path.label("receiving_path"),
        )
        .select_from(
            _issue.join(_reporting, _reporting.c.id == _issue.c.reporting_jurisdiction_id)
            .outerjoin(_receiving, _receiving.c.id == _issue.c.receiving_jurisdiction_id)
            .join(_compact, _compact.c.id == _issue.c.compact_id)
        )
        .where(_issue.c.compact_id.in_(compacts), live(_issue.c.state))  # through ix_issue_live_created
    )
    staff = actor.coordinates | actor.audits
    if actor.jurisdiction_path and not staff:
        # A side's people only stand to issues on their side: narrow in SQL before the exact test below.
        path = actor.jurisdiction_path
        query = query.where(
            sa.or_(
                _reporting.c.path.startswith(path, autoescape=True), _receiving.c.path.startswith(path, autoescape=True)
            )
        )
    items = []
    for r in conn.execute(query):
        held = parties(actor, r.compact_id, r.reporting_path, r.receiving_path)
        if not held - {Party.MEMBER}:
            continue
        items.append(
            WorkItem(
                r.code,
                r.title,
                r.category,
                r.state,
                r.version,
                r.due_at,
                r.created_at,
                r.compact,
                r.reporting,
                r.receiving,
                held,
                waits_on(r.state),
            )
        )
    far = datetime.max.replace(tzinfo=items[0].created_at.tzinfo) if items else None
    items.sort(key=lambda i: (i.due_at or far, i.code))
    return items


@dataclass(frozen=True, slots=True)
class Queue:
    """A person's queue, in the sections the page shows."""

    to_accept: list[WorkItem]
    overdue: list[WorkItem]
    due_soon: list[WorkItem]
    on_me: list[WorkItem]
    on_others: list[WorkItem]

    def counts(self) -> dict[str, int]:
        """How many in each section."""
        return {name: len(getattr(self, name)) for name in ("to_accept", "overdue", "due_soon", "on_me", "on_others")}


def queue(items: list[WorkItem], *, now: datetime, soon: datetime) -> Queue:
    """Sort a person's open issues into their queue: each issue in exactly one section.

    Hand-offs waiting for this person's acceptance come first whatever their
    deadline; then what waits on them, overdue, due before ``soon``, or later;
    then what they wait on others for.
    """
    to_accept, overdue, due_soon, on_me, on_others = [], [], [], [], []
    for item in items:
        if item.state == "ban.handed_off" and Party.RECEIVING in item.held:
            to_accept.append(item)
        elif item.waiting_on is None:
            continue  # closed and waiting for a revisit, or only flagged: nobody's to-do
        elif not item.on_me:
            on_others.append(item)
        elif item.overdue(now):
            overdue.append(item)
        elif item.due_at is not None and item.due_at <= soon:
            due_soon.append(item)
        else:
            on_me.append(item)
    return Queue(to_accept, overdue, due_soon, on_me, on_others)
