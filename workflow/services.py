"""The one way to change an issue: ``apply`` (and ``report_issue``, which creates one).

Inside one transaction: check the version, the transition, the actor's
standing and the payload; run the guards; change the state and bump the
version; append the hash-chained ledger event; write an outbox row for each
person who must hear of it. All of it commits together or none of it does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col

from states import CHART, INITIAL, TABLE, Party, allowed_triggers
from states.audience import AUDIENCE
from states.policy import CATEGORIES, DEADLINES, DIFFICULTIES, PLANNED_STATES
from workflow.actors import Actor, parties
from workflow.calendar import end_of_day, local_today
from workflow.errors import Conflict, InvalidTransition, NotFound, NotPermitted, ValidationFailed
from workflow.ledger import GENESIS, event_hash
from workflow.models import Compact, Event, Issue, IssueCounter, Jurisdiction, Outbox, Segment, table_of
from workflow.payload import validate
from workflow.rules import EFFECTS, GUARDS, Step
from workflow.uow import UnitOfWork

_issue = table_of(Issue)
_event = table_of(Event)
_counter = table_of(IssueCounter)
_reporting = table_of(Jurisdiction).alias("reporting")
_receiving = table_of(Jurisdiction).alias("receiving")

_LOAD = sa.select(
    _issue, _reporting.c.path.label("reporting_path"), _receiving.c.path.label("receiving_path")
).select_from(
    _issue.join(_reporting, _reporting.c.id == _issue.c.reporting_jurisdiction_id).outerjoin(
        _receiving, _receiving.c.id == _issue.c.receiving_jurisdiction_id
    )
)

# One statement resolves the audience and writes its outbox rows, so who is
# told is decided from the same snapshot as the step, in the same transaction.
_OUTBOX = sa.text(
    """
    INSERT INTO outbox (event_id, issue_id, recipient_id, kind, status, attempts, next_attempt_at, created_at)
    SELECT DISTINCT :event_id, :issue_id, p.id, :kind, 'pending', 0, :now, :now
    FROM person p
    WHERE p.active AND p.id <> :actor_id AND (
        (p.role IN ('chief', 'office') AND p.jurisdiction_id IN (:side_a, :side_b))
        OR p.id IN (SELECT s.person_id FROM compact_staff s
                    WHERE s.compact_id = :compact_id AND s.role IN (:staff_a, :staff_b))
    )
    """
).bindparams(
    sa.bindparam("now", type_=table_of(Outbox).c.created_at.type),
)


@dataclass(frozen=True, slots=True)
class StepResult:
    """What a fired trigger did."""

    issue_code: str
    trigger: str
    from_state: str
    state: str
    version: int
    due_at: datetime | None
    event_id: int
    notified: int


def apply(
    uow: UnitOfWork,
    issue: int | str,
    trigger: str,
    actor: Actor,
    payload: Mapping[str, Any] | None = None,
    expected_version: int | None = None,
) -> StepResult:
    """Fire ``trigger`` on ``issue`` (id or code) as ``actor``; all or nothing."""
    with uow:
        row = _load(uow.session, issue)
        result = _fire(uow, row, trigger, actor, payload or {}, expected_version)
        uow.commit()
    return result


def _load(session: Session, issue: int | str) -> Any:
    column = _issue.c.id if isinstance(issue, int) else _issue.c.code
    row = session.execute(_LOAD.where(column == issue)).first()
    if row is None:
        raise NotFound("issue", issue)
    return row


def _fire(
    uow: UnitOfWork,
    row: Any,
    trigger: str,
    actor: Actor,
    payload: Mapping[str, Any],
    expected_version: int | None,
    *,
    snapshot: dict[str, Any] | None = None,
) -> StepResult:
    if expected_version is not None and expected_version != row.version:
        raise Conflict(row.code, expected_version, row.version)
    transition = TABLE.get((row.state, trigger))
    if transition is None:
        if trigger not in CHART.trigger_names():
            raise ValidationFailed("trigger", f"unknown trigger {trigger!r}")
        raise InvalidTransition(row.code, row.state, trigger, allowed_triggers(row.state))
    held = parties(actor, row.compact_id, row.reporting_path, row.receiving_path)
    if not held & transition.parties:
        raise NotPermitted(actor.code, trigger, sorted(transition.parties), sorted(held))
    clean = snapshot if snapshot is not None else validate(transition, payload)
    now = uow.clock.now()
    step = Step(uow.session, row, transition, actor, held, clean, now, uow.calendar, row.version + 1)
    for name in transition.guards:
        GUARDS[name](step)
    for name in transition.effects:
        EFFECTS[name](step)
    to_state = transition.dest or row.state
    due_at = _due(step, to_state) if transition.dest else row.due_at
    held_text = ",".join(sorted(held))
    digest = event_hash(
        issue_code=row.code,
        seq=step.seq,
        trigger=trigger,
        from_state=row.state,
        to_state=to_state,
        actor_code=actor.code,
        parties=held_text,
        payload=clean,
        due_at=due_at,
        occurred_at=now,
        prev_hash=row.ledger_head,
    )
    session = uow.session
    updated = cast(
        sa.CursorResult[Any],
        session.execute(
            _issue.update()
            .where(_issue.c.id == row.id, _issue.c.version == row.version)
            .values(
                state=to_state, version=step.seq, due_at=due_at, ledger_head=digest, updated_at=now, **step.changes
            ),
        ),
    )
    if updated.rowcount != 1:
        actual = session.execute(sa.select(_issue.c.version).where(_issue.c.id == row.id)).scalar()
        raise Conflict(row.code, row.version, actual)
    event_id = _insert(
        session,
        _event.insert().values(
            issue_id=row.id,
            seq=step.seq,
            trigger=trigger,
            from_state=row.state,
            to_state=to_state,
            actor_id=actor.id,
            actor_code=actor.code,
            parties=held_text,
            payload=clean,
            due_at=due_at,
            occurred_at=now,
            prev_hash=row.ledger_head,
            hash=digest,
        ),
    )
    for table, values in step.inserts:
        session.execute(table.insert().values(**values))
    notified = _notify(session, row, step, trigger, event_id, actor, now)
    return StepResult(row.code, trigger, row.state, to_state, step.seq, due_at, event_id, notified)


def _insert(session: Session, statement: sa.Insert) -> int:
    """Run an INSERT and return the new row's id."""
    result = cast(sa.CursorResult[Any], session.execute(statement))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def _due(step: Step, state: str) -> datetime | None:
    if state in PLANNED_STATES:
        deadline = step.changes.get("rectify_deadline", step.issue.rectify_deadline)
        return end_of_day(deadline) if deadline else None
    policy = DEADLINES.get(state)
    return step.calendar.due_after(step.now, policy.working_days) if policy else None


def _notify(session: Session, row: Any, step: Step, trigger: str, event_id: int, actor: Actor, now: datetime) -> int:
    audience = AUDIENCE[trigger]
    if not audience:
        return 0
    receiving = step.changes.get("receiving_jurisdiction_id", row.receiving_jurisdiction_id)
    result = session.execute(
        _OUTBOX,
        {
            "event_id": event_id,
            "issue_id": row.id,
            "kind": trigger,
            "now": now,
            "actor_id": actor.id if actor.id is not None else -1,
            "side_a": row.reporting_jurisdiction_id if Party.REPORTING in audience else -1,
            "side_b": receiving if Party.RECEIVING in audience and receiving is not None else -1,
            "compact_id": row.compact_id,
            "staff_a": "coordinator" if Party.COORDINATOR in audience else "",
            "staff_b": "auditor" if Party.AUDITOR in audience else "",
        },
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# -- creating an issue -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssueDraft:
    """What a reporter says about a new problem."""

    compact: str
    title: str
    category: str
    description: str = ""
    difficulty: str = "normal"
    place: str = ""
    lon: float | None = None
    lat: float | None = None
    segment: str | None = None


def _check_draft(session: Session, draft: IssueDraft) -> tuple[int, str, int | None]:
    errors: list[tuple[str, str]] = []
    compact = session.execute(
        sa.select(col(Compact.id), col(Compact.code)).where(col(Compact.code) == draft.compact)
    ).first()
    if compact is None:
        errors.append(("compact", f"no compact with code {draft.compact!r}"))
    if not draft.title.strip():
        errors.append(("title", "is required"))
    elif len(draft.title) > 200:
        errors.append(("title", "is longer than 200 characters"))
    if len(draft.description) > 5000:
        errors.append(("description", "is longer than 5000 characters"))
    if draft.category not in CATEGORIES:
        errors.append(("category", f"{draft.category!r} is not one of {', '.join(CATEGORIES)}"))
    if draft.difficulty not in DIFFICULTIES:
        errors.append(("difficulty", f"{draft.difficulty!r} is not one of {', '.join(DIFFICULTIES)}"))
    if draft.lon is not None and not -180 <= draft.lon <= 180:
        errors.append(("lon", "must be between -180 and 180"))
    if draft.lat is not None and not -90 <= draft.lat <= 90:
        errors.append(("lat", "must be between -90 and 90"))
    if (draft.lon is None) != (draft.lat is None):
        errors.append(("lon" if draft.lon is None else "lat", "a position needs both lon and lat"))
    segment_id = None
    if draft.segment:
        segment_id = session.execute(sa.select(col(Segment.id)).where(col(Segment.code) == draft.segment)).scalar()
        if segment_id is None:
            errors.append(("segment", f"no segment with code {draft.segment!r}"))
    if errors:
        raise ValidationFailed.of(errors)
    assert compact is not None
    return compact.id, compact.code, segment_id


def _next_code(session: Session, compact_id: int, compact_code: str, year: int) -> str:
    """The next human code for the compact and year, e.g. QJ-2026-0018; safe under concurrency."""
    bump = (
        _counter.update()
        .where(_counter.c.compact_id == compact_id, _counter.c.year == year)
        .values(last=_counter.c.last + 1)
        .returning(_counter.c.last)
    )
    number = session.execute(bump).scalar()
    if number is None:
        values = {"compact_id": compact_id, "year": year, "last": 0}
        if session.get_bind().dialect.name == "postgresql":
            session.execute(postgresql.insert(_counter).values(values).on_conflict_do_nothing())
        else:
            session.execute(sqlite.insert(_counter).values(values).on_conflict_do_nothing())
        number = session.execute(bump).scalar_one()
    return f"{compact_code}-{year}-{number:04d}"


def report_issue(uow: UnitOfWork, actor: Actor, draft: IssueDraft, *, flag: bool = False) -> StepResult:
    """Create an issue and fire ``report`` (or ``flag``, to watch a sensitive point) on it."""
    trigger = "flag" if flag else "report"
    with uow:
        session = uow.session
        compact_id, compact_code, segment_id = _check_draft(session, draft)
        if actor.jurisdiction_id is None or compact_id not in actor.member_of:
            transition = TABLE[(INITIAL, trigger)]
            raise NotPermitted(actor.code, trigger, sorted(transition.parties), [])
        now = uow.clock.now()
        code = _next_code(session, compact_id, compact_code, local_today(now).year)
        issue_id = _insert(
            session,
            _issue.insert().values(
                code=code,
                compact_id=compact_id,
                title=draft.title.strip(),
                description=draft.description.strip(),
                category=draft.category,
                difficulty=draft.difficulty,
                place=draft.place.strip(),
                lon=draft.lon,
                lat=draft.lat,
                segment_id=segment_id,
                reporter_id=actor.id,
                reporting_jurisdiction_id=actor.jurisdiction_id,
                state=INITIAL,
                version=0,
                ledger_head=GENESIS,
                created_at=now,
                updated_at=now,
            ),
        )
        snapshot = {
            "title": draft.title.strip(),
            "description": draft.description.strip(),
            "category": draft.category,
            "difficulty": draft.difficulty,
            "place": draft.place.strip(),
            "lon": draft.lon,
            "lat": draft.lat,
            "segment": draft.segment,
        }
        row = _load(session, issue_id)
        result = _fire(uow, row, trigger, actor, {}, None, snapshot=snapshot)
        uow.commit()
    return result
