"""The outbox's read and bookkeeping side: claiming rows to deliver, recording deliveries, dead letters.

Dispatchers lease rows (``claimed_until``) instead of holding a transaction
open while they talk to a mail server; a dispatcher that dies leaves a lease
that expires, and the row goes to the next one. On PostgreSQL the claim skips
rows another dispatcher has locked, so several share the work.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from workflow.core.models import Delivery, Event, InboxMessage, Issue, Jurisdiction, Outbox, Person, table_of

_outbox = table_of(Outbox)
_delivery = table_of(Delivery)
_inbox = table_of(InboxMessage)
_event = table_of(Event)
_issue = table_of(Issue)
_person = table_of(Person)
_reporting = table_of(Jurisdiction).alias("reporting")
_receiving = table_of(Jurisdiction).alias("receiving")
_actor = table_of(Person).alias("actor")


@dataclass(frozen=True, slots=True)
class Notice:
    """Everything needed to write one outbox row's message to one person."""

    outbox_id: int
    key: str  # "event-12" or the topic: what the idempotency keys are made of
    kind: str
    attempts: int
    detail: dict[str, Any]
    recipient_id: int
    recipient_code: str
    recipient_name: str
    recipient_role: str
    recipient_jurisdiction_id: int | None
    email: str | None
    channels: tuple[str, ...]
    contacts: dict[str, Any]
    locale: str
    issue_code: str | None
    issue_title: str | None
    issue_state: str | None
    due_at: datetime | None
    deadline_running: bool  # due_at is the issue's deadline still (not one an event set and a later step replaced)
    reporting_id: int | None
    reporting_name: str | None
    receiving_id: int | None
    receiving_name: str | None
    trigger: str | None
    payload: dict[str, Any]
    actor_name: str | None
    occurred_at: datetime

    def delivery_key(self, channel: str) -> str:
        """The idempotency key of this notice through ``channel``: (event or topic, recipient, channel)."""
        return f"{self.key}:{self.recipient_code}:{channel}"


_NOTICES = (
    sa.select(
        _outbox.c.id.label("outbox_id"),
        _outbox.c.event_id,
        _outbox.c.topic,
        _outbox.c.kind,
        _outbox.c.attempts,
        _outbox.c.detail,
        _outbox.c.created_at,
        _person.c.id.label("recipient_id"),
        _person.c.code.label("recipient_code"),
        _person.c.name.label("recipient_name"),
        _person.c.role.label("recipient_role"),
        _person.c.jurisdiction_id.label("recipient_jurisdiction_id"),
        _person.c.email,
        _person.c.channels,
        _person.c.contacts,
        _person.c.locale,
        _issue.c.code.label("issue_code"),
        _issue.c.title.label("issue_title"),
        _issue.c.state.label("issue_state"),
        _issue.c.due_at,
        _issue.c.reporting_jurisdiction_id.label("reporting_id"),
        _reporting.c.name.label("reporting_name"),
        _issue.c.receiving_jurisdiction_id.label("receiving_id"),
        _receiving.c.name.label("receiving_name"),
        _event.c.trigger,
        _event.c.payload,
        _event.c.occurred_at,
        _event.c.due_at.label("event_due_at"),
        sa.func.coalesce(_actor.c.name, "系统").label("actor_name"),
    )
    .select_from(
        _outbox.join(_person, _person.c.id == _outbox.c.recipient_id)
        .outerjoin(_issue, _issue.c.id == _outbox.c.issue_id)
        .outerjoin(_reporting, _reporting.c.id == _issue.c.reporting_jurisdiction_id)
        .outerjoin(_receiving, _receiving.c.id == _issue.c.receiving_jurisdiction_id)
        .outerjoin(_event, _event.c.id == _outbox.c.event_id)
        .outerjoin(_actor, _actor.c.id == _event.c.actor_id)
    )
    .order_by(_outbox.c.id)
)


def _notice(r: Any) -> Notice:
    return Notice(
        outbox_id=r.outbox_id,
        key=f"event-{r.event_id}" if r.event_id is not None else str(r.topic),
        kind=r.kind,
        attempts=r.attempts,
        detail=r.detail or {},
        recipient_id=r.recipient_id,
        recipient_code=r.recipient_code,
        recipient_name=r.recipient_name,
        recipient_role=r.recipient_role,
        recipient_jurisdiction_id=r.recipient_jurisdiction_id,
        email=r.email,
        channels=tuple(r.channels or ()),
        contacts=r.contacts or {},
        locale=r.locale or "zh-CN",
        issue_code=r.issue_code,
        issue_title=r.issue_title,
        issue_state=r.issue_state,
        # The deadline the event set, so a message says what was asked at the time it was written.
        due_at=r.event_due_at if r.event_id is not None else r.due_at,
        deadline_running=r.event_id is None or r.event_due_at == r.due_at,
        reporting_id=r.reporting_id,
        reporting_name=r.reporting_name,
        receiving_id=r.receiving_id,
        receiving_name=r.receiving_name,
        trigger=r.trigger,
        payload=r.payload or {},
        actor_name=r.actor_name if r.event_id is not None else None,
        occurred_at=r.occurred_at or r.created_at,
    )


def claim(conn: sa.Connection, *, worker: str, now: datetime, lease: timedelta, limit: int) -> list[Notice]:
    """Lease up to ``limit`` rows that are due for delivery and return them as notices."""
    free = sa.or_(_outbox.c.claimed_until.is_(None), _outbox.c.claimed_until < now)
    due = (
        sa.select(_outbox.c.id)
        .where(_outbox.c.status == "pending", _outbox.c.next_attempt_at <= now, free)
        .order_by(_outbox.c.next_attempt_at, _outbox.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(conn.execute(due).scalars())
    if not ids:
        return []
    conn.execute(_outbox.update().where(_outbox.c.id.in_(ids)).values(claimed_by=worker, claimed_until=now + lease))
    return [_notice(r) for r in conn.execute(_NOTICES.where(_outbox.c.id.in_(ids)))]


def delivered_keys(conn: sa.Connection, outbox_id: int) -> set[str]:
    """The idempotency keys already delivered for an outbox row."""
    return set(conn.execute(sa.select(_delivery.c.idempotency_key).where(_delivery.c.outbox_id == outbox_id)).scalars())


def record_delivery(conn: sa.Connection, notice: Notice, channel: str, reference: str | None, now: datetime) -> bool:
    """Record one delivery; False if that key was recorded already (by this or another dispatcher)."""
    key = notice.delivery_key(channel)
    if conn.execute(sa.select(_delivery.c.id).where(_delivery.c.idempotency_key == key)).first():
        return False
    conn.execute(
        _delivery.insert(),
        {
            "outbox_id": notice.outbox_id,
            "channel": channel,
            "idempotency_key": key,
            "delivered_at": now,
            "reference": (reference or "")[:300],
        },
    )
    return True


def hold(conn: sa.Connection, outbox_id: int, worker: str, now: datetime, lease: timedelta) -> bool:
    """Renew this dispatcher's lease on a row just before it sends; False when the row is no longer its own.

    A batch is leased when it is claimed, but its last rows are sent later; if the lease ran out meanwhile and
    another dispatcher claimed the row (or delivered it), sending it here would send it twice.
    """
    result = conn.execute(
        _outbox.update()
        .where(_outbox.c.id == outbox_id, _outbox.c.claimed_by == worker, _outbox.c.status == "pending")
        .values(claimed_until=now + lease)
    )
    return result.rowcount == 1


def finish(conn: sa.Connection, outbox_id: int, worker: str) -> bool:
    """Every channel delivered: the row is sent and its lease released; False if the lease had passed on."""
    result = conn.execute(
        _outbox.update()
        .where(_outbox.c.id == outbox_id, _outbox.c.claimed_by == worker)
        .values(status="sent", claimed_by=None, claimed_until=None, last_error=None)
    )
    return result.rowcount == 1


def backoff(attempts: int, *, base: timedelta, cap: timedelta, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with jitter: a random delay between half and all of base·2^(attempts-1), capped."""
    ceiling = min(cap.total_seconds(), base.total_seconds() * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=(rng or random).uniform(ceiling / 2, ceiling))


def fail(
    conn: sa.Connection,
    notice: Notice,
    worker: str,
    error: str,
    now: datetime,
    *,
    max_attempts: int,
    delay: timedelta,
) -> str:
    """Count a failed attempt: retry after ``delay``, or dead-letter the row after ``max_attempts``.

    Returns the new status, or "lost" when the lease had passed to another dispatcher meanwhile.
    """
    attempts = notice.attempts + 1
    status = "dead" if attempts >= max_attempts else "pending"
    updated = conn.execute(
        _outbox.update()
        .where(_outbox.c.id == notice.outbox_id, _outbox.c.claimed_by == worker)
        .values(
            status=status,
            attempts=attempts,
            next_attempt_at=now + delay,
            last_error=storable(error)[:2000],
            claimed_by=None,
            claimed_until=None,
        )
    )
    return status if updated.rowcount == 1 else "lost"


def storable(text: str) -> str:
    """Text every database can store: NUL (which PostgreSQL's text refuses) and lone surrogates escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def write_inbox(conn: sa.Connection, notice: Notice, subject: str, body: str, link: str | None, now: datetime) -> int:
    """Put the message in the recipient's in-app inbox (once per outbox row); returns its id."""
    existing = conn.execute(sa.select(_inbox.c.id).where(_inbox.c.outbox_id == notice.outbox_id)).scalar()
    if existing is not None:
        return int(existing)
    issue_id = conn.execute(sa.select(_outbox.c.issue_id).where(_outbox.c.id == notice.outbox_id)).scalar()
    result = conn.execute(
        _inbox.insert(),
        {
            "person_id": notice.recipient_id,
            "outbox_id": notice.outbox_id,
            "issue_id": issue_id,
            "kind": notice.kind,
            "subject": subject[:300],
            "body": body[:10000],
            "link": link,
            "created_at": now,
        },
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """An outbox row as ``outbox list`` shows it."""

    id: int
    kind: str
    status: str
    attempts: int
    recipient: str
    issue_code: str | None
    next_attempt_at: datetime | None
    last_error: str | None


def list_rows(conn: sa.Connection, *, status: str | None = None, limit: int = 200) -> list[OutboxRow]:
    """Outbox rows, newest first, optionally of one status (pending, sent, dead)."""
    query = (
        sa.select(_outbox, _person.c.code.label("recipient"), _issue.c.code.label("issue_code"))
        .select_from(
            _outbox.join(_person, _person.c.id == _outbox.c.recipient_id).outerjoin(
                _issue, _issue.c.id == _outbox.c.issue_id
            )
        )
        .order_by(_outbox.c.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(_outbox.c.status == status)
    return [
        OutboxRow(r.id, r.kind, r.status, r.attempts, r.recipient, r.issue_code, r.next_attempt_at, r.last_error)
        for r in conn.execute(query)
    ]


def requeue(conn: sa.Connection, ids: Sequence[int] | None, now: datetime) -> int:
    """Put dead rows back in the queue (all of them when ``ids`` is None); returns how many."""
    query = _outbox.update().where(_outbox.c.status == "dead")
    if ids is not None:
        query = query.where(_outbox.c.id.in_(list(ids)))
    result = conn.execute(
        query.values(status="pending", attempts=0, next_attempt_at=now, claimed_by=None, claimed_until=None)
    )
    return int(result.rowcount)


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A message in someone's inbox."""

    id: int
    kind: str
    subject: str
    body: str
    link: str | None
    created_at: datetime  # when it was delivered to the inbox
    read_at: datetime | None
    occurred_at: datetime | None = None  # when what it tells of happened: the step, or the scheduler's notice


def inbox(conn: sa.Connection, person_code: str, *, unread_only: bool = False, limit: int = 100) -> list[InboxEntry]:
    """A person's inbox, newest first."""
    happened = sa.func.coalesce(_event.c.occurred_at, _outbox.c.created_at).label("occurred_at")
    query = (
        sa.select(_inbox, happened)
        .join(_person, _person.c.id == _inbox.c.person_id)
        .outerjoin(_outbox, _outbox.c.id == _inbox.c.outbox_id)
        .outerjoin(_event, _event.c.id == _outbox.c.event_id)
        .where(_person.c.code == person_code)
        .order_by(_inbox.c.id.desc())
        .limit(limit)
    )
    if unread_only:
        query = query.where(_inbox.c.read_at.is_(None))
    return [
        InboxEntry(r.id, r.kind, r.subject, r.body, r.link, r.created_at, r.read_at, r.occurred_at)
        for r in conn.execute(query)
    ]


def mark_read(conn: sa.Connection, person_code: str, ids: Sequence[int], now: datetime) -> int:
    """Mark a person's messages read; returns how many changed."""
    person_id = conn.execute(sa.select(_person.c.id).where(_person.c.code == person_code)).scalar()
    result = conn.execute(
        _inbox.update()
        .where(_inbox.c.person_id == person_id, _inbox.c.id.in_(list(ids)), _inbox.c.read_at.is_(None))
        .values(read_at=now)
    )
    return int(result.rowcount)
