"""The one way to change an issue: ``apply`` (and ``report_issue``, which creates one).

Inside one transaction: check the version, the transition, the actor's
standing and the payload; run the guards; change the state and bump the
version; append the hash-chained ledger event; write an outbox row for each
person who must hear of it. All of it commits together or none of it does.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from states import CHART, INITIAL, TABLE, Party, allowed_triggers
from states.audience import AUDIENCE
from states.chart import SERVICE_TRIGGERS
from states.policy import (
    CATEGORIES,
    DEADLINES,
    DIFFICULTIES,
    OBSERVED_MAX_AGE_DAYS,
    OBSERVED_SKEW_MINUTES,
    PLANNED_STATES,
)
from workflow.core.actors import Actor, Beside, parties
from workflow.core.calendar import end_of_day, local_today
from workflow.core.deadlines import next_check, waiting_path
from workflow.core.driver import Direct
from workflow.core.errors import Conflict, InvalidTransition, NotFound, NotPermitted, Reason, ValidationFailed
from workflow.core.ledger import GENESIS, event_hash
from workflow.core.lookups import in_compact
from workflow.core.models import Compact, Event, Issue, IssueCounter, Jurisdiction, Segment, table_of
from workflow.core.payload import is_text, validate
from workflow.core.rules import EFFECTS, GUARDS, ROUND_COLUMNS, ROUND_READERS, Step
from workflow.core.uow import UnitOfWork

_issue = table_of(Issue)
_event = table_of(Event)
_counter = table_of(IssueCounter)
_reporting = table_of(Jurisdiction).alias("reporting")
_receiving = table_of(Jurisdiction).alias("receiving")

# The hot path's statements are built once with bound parameters, so each
# step pays for execution only, not for building and cache-keying a statement.
# The load reads only what the checks and the ledger need.
_LOAD_COLUMNS = (
    *(
        _issue.c[name]
        for name in (
            "id",
            "code",
            "compact_id",
            "state",
            "version",
            "due_at",
            "ledger_head",
            "category",
            "reporting_jurisdiction_id",
            "receiving_jurisdiction_id",
            "rectify_deadline",
            "check_round",
            "rebound_count",
            "revisit_count",
            "last_revisit_clean",
            "waiting_since",
            "next_check_at",
        )
    ),
    _reporting.c.path.label("reporting_path"),
    _receiving.c.path.label("receiving_path"),
)
_SIDES = _issue.join(_reporting, _reporting.c.id == _issue.c.reporting_jurisdiction_id).outerjoin(
    _receiving, _receiving.c.id == _issue.c.receiving_jurisdiction_id
)
# Triggers whose guards or effects read the current check round: their load reads it too, in the same
# statement, rather than each guard reading it again.
_ROUND_TRIGGERS = frozenset(t.trigger for t in TABLE.values() if ROUND_READERS & {*t.guards, *t.effects})


def _load_statement(by_code: bool, lock: bool, check_round: bool) -> sa.Select[Any]:
    """The issue by id or code; with the check round's sign-offs and items; holding the row until the
    transaction ends (a no-op on SQLite, whose writer already holds the database's one write lock), only
    the issue's row, not the jurisdictions it joins."""
    key = _issue.c.code if by_code else _issue.c.id
    query = (
        sa.select(*_LOAD_COLUMNS, *(ROUND_COLUMNS if check_round else ()))
        .select_from(_SIDES)
        .where(key == sa.bindparam("key"))
    )
    return query.with_for_update(of=_issue) if lock else query


_LOAD_STATEMENTS = {
    (by_code, lock, check_round): _load_statement(by_code, lock, check_round)
    for by_code in (False, True)
    for lock in (False, True)
    for check_round in (False, True)
}
_LOADS = {key: Direct(statement) for key, statement in _LOAD_STATEMENTS.items()}
_VERSION = sa.select(_issue.c.version).where(_issue.c.id == sa.bindparam("b_id"))
# Every column of an event but its id, as ``_fire`` gives them.
_INSERT_EVENT = Direct(_event.insert(), column_keys=[column.name for column in _event.c if column.name != "id"])

_COMPACT = sa.select(table_of(Compact).c.id, table_of(Compact).c.code).where(
    table_of(Compact).c.code == sa.bindparam("b_code")
)
_place = table_of(Jurisdiction)
_SEGMENT = (
    sa.select(table_of(Segment).c.id, in_compact(_place.c.path, sa.bindparam("b_compact")).label("in_compact"))
    .join(_place, _place.c.id == table_of(Segment).c.jurisdiction_id)
    .where(table_of(Segment).c.code == sa.bindparam("b_code"))
)
_BUMP = (
    _counter.update()
    .where(_counter.c.compact_id == sa.bindparam("b_compact"), _counter.c.year == sa.bindparam("b_year"))
    .values(last=_counter.c.last + 1)
    .returning(_counter.c.last)
)

# One statement resolves the audience and writes its outbox rows, so who is
# told is decided from the same snapshot as the step, in the same transaction.
# The chiefs and offices of the sides, and the compact's staff, each found through
# an index (person's jurisdiction, the staff's compact), not by reading every person.
_AUDIENCE = """
    SELECT p.id FROM person p
    WHERE p.jurisdiction_id IN (:side_a, :side_b) AND p.role IN ('chief', 'office')
          AND p.active AND p.id <> :actor_ref
    UNION
    SELECT p.id FROM compact_staff s JOIN person p ON p.id = s.person_id
    WHERE s.compact_id = :compact_id AND s.role IN (:staff_a, :staff_b) AND p.active AND p.id <> :actor_ref
    ORDER BY 1"""
_OUTBOX = Direct(
    sa.text(
        f"""
    INSERT INTO outbox (event_id, issue_id, recipient_id, kind, status, attempts, next_attempt_at, created_at)
    SELECT :event_id, :b_id, a.id, :trigger, 'pending', 0, :occurred_at, :occurred_at
    FROM ({_AUDIENCE}) a
    """
    ).bindparams(sa.bindparam("occurred_at", type_=table_of(Event).c.occurred_at.type))
)


@functools.cache
def _update(columns: tuple[str, ...]) -> Direct:
    """The version-checked UPDATE of exactly these columns (one per shape of step, built once)."""
    return Direct(
        _issue.update()
        .where(_issue.c.id == sa.bindparam("b_id"), _issue.c.version == sa.bindparam("b_version"))
        .values({name: sa.bindparam(f"set_{name}", type_=_issue.c[name].type) for name in columns})
    )


@functools.cache
def _create(columns: tuple[str, ...]) -> Direct:
    """The INSERT of a reported issue with exactly these columns, as its first step leaves it."""
    return Direct(
        _issue.insert().values({name: sa.bindparam(f"set_{name}", type_=_issue.c[name].type) for name in columns})
    )


@functools.cache
def _step_postgres(columns: tuple[str, ...], create: bool) -> Direct:
    """On PostgreSQL the three writes of a step travel as one statement.

    The UPDATE's version check gates the event, and the event gates its outbox
    rows, so a stale version writes nothing and returns no row. A report
    INSERTs the issue instead, in the state its step leaves it.
    """
    if create:
        values = ", ".join(f":set_{name}" for name in columns)
        issue = f"INSERT INTO issue ({', '.join(columns)}) VALUES ({values}) RETURNING id, compact_id"
    else:
        assignments = ", ".join(f"{name} = :set_{name}" for name in columns)
        issue = f"UPDATE issue SET {assignments} WHERE id = :b_id AND version = :b_version RETURNING id, compact_id"
    types = [sa.bindparam(f"set_{name}", type_=_issue.c[name].type) for name in columns]
    return Direct(
        sa.text(
            f"""
        WITH up AS (
            {issue}
        ), ev AS (
            INSERT INTO event (issue_id, compact_id, seq, trigger, from_state, to_state, actor_id, actor_code,
                               parties, payload, due_at, occurred_at, prev_hash, hash)
            SELECT up.id, up.compact_id, CAST(:seq AS INTEGER), CAST(:trigger AS VARCHAR), CAST(:from_state AS VARCHAR),
                   CAST(:to_state AS VARCHAR), CAST(:actor_id AS INTEGER), CAST(:actor_code AS VARCHAR),
                   CAST(:parties AS VARCHAR), CAST(:payload AS JSON), CAST(:due_at AS TIMESTAMPTZ),
                   CAST(:occurred_at AS TIMESTAMPTZ), CAST(:prev_hash AS VARCHAR), CAST(:hash AS VARCHAR)
            FROM up
            RETURNING id, issue_id
        ), ob AS (
            INSERT INTO outbox (event_id, issue_id, recipient_id, kind, status, attempts, next_attempt_at,
                                created_at)
            SELECT ev.id, ev.issue_id, a.id, CAST(:trigger AS VARCHAR), 'pending', 0,
                   CAST(:occurred_at AS TIMESTAMPTZ), CAST(:occurred_at AS TIMESTAMPTZ)
            FROM ev CROSS JOIN ({_AUDIENCE}) a
            RETURNING 1
        )
        SELECT ev.id, (SELECT count(*) FROM ob) AS notified FROM ev
        """
        ).bindparams(
            *types,
            sa.bindparam("occurred_at", type_=table_of(Event).c.occurred_at.type),
            sa.bindparam("due_at", type_=table_of(Event).c.due_at.type),
            sa.bindparam("payload", type_=table_of(Event).c.payload.type),
        )
    )


class _Collided(Exception):
    """A step without an expected version lost the issue's row to another step between its read and its write."""


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
    *,
    first: Mapping[str, Any] | None = None,
) -> StepResult:
    """Fire ``trigger`` on ``issue`` (id or code) as ``actor``; all or nothing.

    ``first``: the issue as ``step_beside`` read it in the caller's statement, before this transaction; the
    first try starts from it instead of loading the issue again (the write's version check catches a step
    that came in between, and the step then loads and fires again as after any collision).
    """
    with uow:
        result = apply_within(uow, issue, trigger, actor, payload, expected_version, first=first)
        uow.commit()
    return result


def apply_within(
    uow: UnitOfWork,
    issue: int | str,
    trigger: str,
    actor: Actor,
    payload: Mapping[str, Any] | None = None,
    expected_version: int | None = None,
    *,
    first: Mapping[str, Any] | None = None,
) -> StepResult:
    """``apply`` inside a unit of work the caller opened and commits, with writes of its own.

    Without ``expected_version`` the step applies on whatever version the issue has when it is written:
    if another step got in between the read and the write, it waits for the row and fires again on
    what that step left. With one, a version that is no longer current is a Conflict.
    """
    check_round = trigger in _ROUND_TRIGGERS
    try:
        row = _load(uow.connection, issue, check_round=check_round) if first is None else SimpleNamespace(**first)
        return _fire(uow, row, trigger, actor, payload or {}, expected_version)
    except _Collided:
        # The first try read without a lock: on PostgreSQL inside the transaction, or before it (``first``;
        # on SQLite too, before BEGIN IMMEDIATE took the write lock), so the usual uncontended step costs
        # no more than before.
        row = _load(uow.connection, issue, lock=True, check_round=check_round)
        return _fire(uow, row, trigger, actor, payload or {}, None, last=True)


def step_beside(code: str, trigger: str) -> Beside:
    """The first try's load of ``trigger`` on issue ``code``, to send in the caller's statement and hand to
    ``apply`` as ``first``: a step through the API then reads its issue in the round trip that finds its
    caller. Its columns include the issue's ``compact_id``, ``reporting_path`` and ``receiving_path``."""
    return Beside(_LOAD_STATEMENTS[True, False, trigger in _ROUND_TRIGGERS], {"key": code})


def current_version(uow: UnitOfWork, issue: int | str) -> tuple[int, int]:
    """An issue's (id, version) inside an open unit of work; NotFound for an unknown issue."""
    row = _load(uow.connection, issue)
    return row.id, row.version


# Guards that read only what is stored (sign-offs, checks, revisits), never the payload: a page can
# ask them before it offers a form, and say why an action is not open yet instead of offering it.
STATE_GUARDS = frozenset({"both_sides_signed", "checklist_complete", "last_revisit_clean", "side_not_signed"})


def not_yet(uow: UnitOfWork, code: str, actor: Actor, triggers: Iterable[str]) -> dict[str, str]:
    """For each trigger a stored-state guard would refuse now, that guard's name (the pages say it in the
    reader's words); the others are absent.

    Reads only, in its own unit of work: it answers "may this be offered", and ``apply`` still
    checks every guard when the trigger is fired.
    """
    reasons: dict[str, str] = {}
    with uow:
        row = _load(uow.connection, code, check_round=True)
        held = parties(actor, row.compact_id, row.reporting_path, row.receiving_path)
        for trigger in triggers:
            transition = TABLE.get((row.state, trigger))
            if transition is None:
                continue
            step = Step(
                uow.connection, row, transition, actor, held, {}, uow.clock.now(), uow.calendar, row.version + 1
            )
            for name in transition.guards:
                if name not in STATE_GUARDS:
                    continue
                try:
                    GUARDS[name](step)
                except ValidationFailed:
                    reasons[trigger] = name
                    break
    return reasons


def _load(conn: sa.Connection, issue: int | str, *, lock: bool = False, check_round: bool = False) -> Any:
    row = _LOADS[isinstance(issue, str), lock, check_round].first(conn, {"key": issue})
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
    create: Mapping[str, Any] | None = None,
    last: bool = False,
    follow: bool = False,
) -> StepResult:
    """Check and write one step. ``create``: the columns of a new issue (``row`` is then made, not read),
    INSERTed as the step leaves it instead of UPDATEd."""
    if expected_version is not None and expected_version != row.version:
        raise Conflict(row.code, expected_version, row.version)
    transition = TABLE.get((row.state, trigger))
    if transition is None:
        if trigger not in CHART.trigger_names():
            # What a person may fire from here: not the services' own steps nor the system's.
            people = [
                t
                for t in allowed_triggers(row.state)
                if t not in SERVICE_TRIGGERS and TABLE[(row.state, t)].parties != {Party.SYSTEM}
            ]
            takes = ", ".join(people) or "none"
            raise ValidationFailed("trigger", f"unknown trigger {trigger!r}; {row.code} in {row.state} takes: {takes}")
        raise InvalidTransition(row.code, row.state, trigger, allowed_triggers(row.state))
    held = parties(actor, row.compact_id, row.reporting_path, row.receiving_path)
    if not follow and not held & transition.parties:
        raise NotPermitted(actor.code, trigger, sorted(transition.parties), sorted(held))
    clean = snapshot if snapshot is not None else validate(transition, payload)
    now = uow.clock.now()
    step = Step(uow.connection, row, transition, actor, held, clean, now, uow.calendar, row.version + 1)
    for name in transition.guards:
        GUARDS[name](step)
    to_state = transition.dest or row.state
    receiving = step.found.get("receiving")
    step.calendar = uow.calendar.for_path(
        waiting_path(to_state, row.reporting_path, receiving.path if receiving else row.receiving_path)
    )
    for name in transition.effects:
        EFFECTS[name](step)
    due_at = _due(step, to_state) if transition.dest else step.changes.get("due_at", row.due_at)
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
    conn = uow.connection
    if transition.dest:
        waiting_since, check_at = now, next_check(step.calendar, now, due_at, now)
    else:
        waiting_since, check_at = row.waiting_since, row.next_check_at
    changes = {
        "state": to_state,
        "version": step.seq,
        "due_at": due_at,
        "ledger_head": digest,
        "updated_at": now,
        "waiting_since": waiting_since,
        "next_check_at": check_at,
        **step.changes,
    }
    written_columns = {**(create or {}), **changes}
    columns = tuple(sorted(written_columns))
    update = {"b_id": row.id, "b_version": row.version, **{f"set_{name}": v for name, v in written_columns.items()}}
    event = {
        "issue_id": row.id,
        "compact_id": row.compact_id,  # on PostgreSQL the issue row's own, as the UPDATE returns it
        "seq": step.seq,
        "trigger": trigger,
        "from_state": row.state,
        "to_state": to_state,
        "actor_id": actor.id,
        "actor_code": actor.code,
        "parties": held_text,
        "payload": clean,
        "due_at": due_at,
        "occurred_at": now,
        "prev_hash": row.ledger_head,
        "hash": digest,
    }
    audience = _audience(row, step, trigger, actor)
    creating = create is not None
    if conn.dialect.name == "postgresql":
        written = _write_postgres(conn, columns, creating, {**update, **event, **audience})
    else:
        written = _write_generic(conn, columns, creating, update, event, audience)
    if written is None:
        if expected_version is None and not last:
            raise _Collided
        raise Conflict(row.code, row.version, conn.execute(_VERSION, {"b_id": row.id}).scalar())
    event_id, notified = written
    for statement, extra in step.writes:
        conn.execute(statement, extra)
    for other, follow_trigger, follow_payload in step.follow:
        # Recorded by the service for a step already permitted here, on the other issue's row held
        # until the transaction ends: a refusal there undoes this step too.
        other_row = _load(conn, other, lock=True, check_round=follow_trigger in _ROUND_TRIGGERS)
        _fire(uow, other_row, follow_trigger, actor, follow_payload, None, last=True, follow=True)
    return StepResult(row.code, trigger, row.state, to_state, step.seq, due_at, event_id, notified)


def _write_generic(
    conn: sa.Connection,
    columns: tuple[str, ...],
    create: bool,
    update: dict[str, Any],
    event: dict[str, Any],
    audience: dict[str, Any],
) -> tuple[int, int] | None:
    """UPDATE (or INSERT) the issue, INSERT its event and outbox rows; None when the version check failed."""
    if create:
        event = {**event, "issue_id": _insert(conn, _create(columns), update)}
    elif _update(columns).write(conn, update).rowcount != 1:
        return None
    event_id = _insert(conn, _INSERT_EVENT, event)
    notified = 0
    if audience["staff_a"] or audience["staff_b"] or audience["side_a"] != -1 or audience["side_b"] != -1:
        outbox = {
            **audience,
            "event_id": event_id,
            "b_id": event["issue_id"],
            "trigger": event["trigger"],
            "occurred_at": event["occurred_at"],
        }
        notified = _OUTBOX.write(conn, outbox).rowcount
    return event_id, notified


def _write_postgres(
    conn: sa.Connection, columns: tuple[str, ...], create: bool, params: dict[str, Any]
) -> tuple[int, int] | None:
    """The same three writes in one round trip."""
    row = _step_postgres(columns, create).first(conn, params)
    return None if row is None else (row.id, row.notified)


def _insert(conn: sa.Connection, statement: Direct, values: dict[str, Any]) -> int:
    """Run an INSERT and return the new row's id (on SQLite, where this is used: its last row id)."""
    written = statement.write(conn, values)
    assert written.lastrowid is not None
    return written.lastrowid


def _due(step: Step, state: str) -> datetime | None:
    if state in PLANNED_STATES:
        deadline = step.changes.get("rectify_deadline", step.issue.rectify_deadline)
        return end_of_day(deadline) if deadline else None
    policy = DEADLINES.get(state)
    return step.calendar.due_after(step.now, policy.working_days) if policy else None


def _audience(row: Any, step: Step, trigger: str, actor: Actor) -> dict[str, Any]:
    """The parameters that pick the trigger's audience (states/audience.py) out of the people."""
    audience = AUDIENCE[trigger]
    receiving = step.changes.get("receiving_jurisdiction_id", row.receiving_jurisdiction_id)
    return {
        "actor_ref": actor.id if actor.id is not None else -1,
        "side_a": row.reporting_jurisdiction_id if Party.REPORTING in audience else -1,
        "side_b": receiving if Party.RECEIVING in audience and receiving is not None else -1,
        "compact_id": row.compact_id,
        "staff_a": "coordinator" if Party.COORDINATOR in audience else "",
        "staff_b": "auditor" if Party.AUDITOR in audience else "",
    }


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
    # When the problem was seen, if earlier than the report's arrival (a draft kept offline on a phone).
    observed_at: datetime | None = None


def _check_observed(observed_at: datetime, now: datetime) -> str | None:
    """Why a reporter's ``observed_at`` is refused, or None: it needs an offset and a plausible moment."""
    if observed_at.tzinfo is None or observed_at.utcoffset() is None:
        return "needs a UTC offset, e.g. 2026-12-06T09:30:00+08:00"
    if observed_at > now + timedelta(minutes=OBSERVED_SKEW_MINUTES):
        return f"is in the future (more than {OBSERVED_SKEW_MINUTES} minutes after now)"
    if observed_at < now - timedelta(days=OBSERVED_MAX_AGE_DAYS):
        return f"is more than {OBSERVED_MAX_AGE_DAYS} days ago"
    return None


def _check_draft(conn: sa.Connection, draft: IssueDraft, now: datetime) -> tuple[int, str, int | None]:
    errors: list[tuple[str, str]] = []
    compact = conn.execute(_COMPACT, {"b_code": draft.compact}).first()
    if compact is None:
        errors.append(("compact", Reason("no_compact", code=draft.compact)))
    if not draft.title.strip():
        errors.append(("title", Reason("required")))
    elif len(draft.title) > 200:
        errors.append(("title", Reason("too_long", n=200)))
    if len(draft.description) > 5000:
        errors.append(("description", Reason("too_long", n=5000)))
    if len(draft.place) > 300:
        errors.append(("place", Reason("too_long", n=300)))
    for name in ("title", "description", "place"):
        if not is_text(getattr(draft, name)):
            errors.append((name, Reason("not_valid_text")))
    if draft.category not in CATEGORIES:
        errors.append(("category", Reason("not_a_choice", value=draft.category, choices=", ".join(CATEGORIES))))
    if draft.difficulty not in DIFFICULTIES:
        errors.append(("difficulty", Reason("not_a_choice", value=draft.difficulty, choices=", ".join(DIFFICULTIES))))
    if draft.lon is not None and not -180 <= draft.lon <= 180:
        errors.append(("lon", Reason("between", low=-180, high=180)))
    if draft.lat is not None and not -90 <= draft.lat <= 90:
        errors.append(("lat", Reason("between", low=-90, high=90)))
    if (draft.lon is None) != (draft.lat is None):
        errors.append(("lon" if draft.lon is None else "lat", Reason("position_needs_both")))
    if draft.observed_at is not None and (why := _check_observed(draft.observed_at, now)) is not None:
        errors.append(("observed_at", why))
    segment_id = None
    if draft.segment:
        in_compact = {"b_code": draft.segment, "b_compact": compact.id if compact is not None else None}
        segment = conn.execute(_SEGMENT, in_compact).first()
        if segment is None:
            errors.append(("segment", Reason("no_segment", code=draft.segment)))
        elif compact is not None and not segment.in_compact:
            # A segment lies in a compact when its jurisdiction is a member or under one.
            errors.append(("segment", Reason("segment_not_in_compact", code=draft.segment, compact=compact.code)))
        else:
            segment_id = segment.id
    if errors:
        raise ValidationFailed.of(errors)
    assert compact is not None
    return compact.id, compact.code, segment_id


def _next_code(conn: sa.Connection, compact_id: int, compact_code: str, year: int) -> str:
    """The next human code for the compact and year, e.g. QJ-2026-0018; safe under concurrency."""
    bump = {"b_compact": compact_id, "b_year": year}
    number = conn.execute(_BUMP, bump).scalar()
    if number is None:
        values = {"compact_id": compact_id, "year": year, "last": 0}
        if conn.dialect.name == "postgresql":
            conn.execute(postgresql.insert(_counter).values(values).on_conflict_do_nothing())
        else:
            conn.execute(sqlite.insert(_counter).values(values).on_conflict_do_nothing())
        number = conn.execute(_BUMP, bump).scalar_one()
    return f"{compact_code}-{year}-{number:04d}"


def report_issue(uow: UnitOfWork, actor: Actor, draft: IssueDraft, *, flag: bool = False) -> StepResult:
    """Create an issue and fire ``report`` (or ``flag``, to watch a sensitive point) on it."""
    trigger = "flag" if flag else "report"
    with uow:
        conn = uow.connection
        now = uow.clock.now()
        compact_id, compact_code, segment_id = _check_draft(conn, draft, now)
        if actor.jurisdiction_id is None or compact_id not in actor.member_of:
            transition = TABLE[(INITIAL, trigger)]
            raise NotPermitted(actor.code, trigger, sorted(transition.parties), [])
        code = _next_code(conn, compact_id, compact_code, local_today(now).year)
        columns = {
            "code": code,
            "compact_id": compact_id,
            "title": draft.title.strip(),
            "description": draft.description.strip(),
            "category": draft.category,
            "difficulty": draft.difficulty,
            "place": draft.place.strip(),
            "lon": draft.lon,
            "lat": draft.lat,
            "segment_id": segment_id,
            "reporter_id": actor.id,
            "reporting_jurisdiction_id": actor.jurisdiction_id,
            "created_at": now,
            "observed_at": draft.observed_at,
            # Spelt out: PostgreSQL's single statement is plain SQL, which knows no column defaults.
            "check_round": 0,
            "rebound_count": 0,
            "revisit_count": 0,
        }
        snapshot = {
            "title": draft.title.strip(),
            "description": draft.description.strip(),
            "category": draft.category,
            "difficulty": draft.difficulty,
            "place": draft.place.strip(),
            "lon": draft.lon,
            "lat": draft.lat,
            "segment": draft.segment,
            **({"observed_at": draft.observed_at.isoformat()} if draft.observed_at is not None else {}),
        }
        result = _fire(uow, _unborn(columns, actor), trigger, actor, {}, None, snapshot=snapshot, create=columns)
        uow.commit()
    return result


def _unborn(columns: Mapping[str, Any], actor: Actor) -> Any:
    """What ``_load`` would read of a new issue before its first step: nothing to read it back for.

    Its reporting side is the reporter's jurisdiction, so its path is the reporter's.
    """
    return SimpleNamespace(
        id=None,
        code=columns["code"],
        compact_id=columns["compact_id"],
        state=INITIAL,
        version=0,
        due_at=None,
        ledger_head=GENESIS,
        category=columns["category"],
        reporting_jurisdiction_id=columns["reporting_jurisdiction_id"],
        receiving_jurisdiction_id=None,
        rectify_deadline=None,
        check_round=columns["check_round"],
        rebound_count=columns["rebound_count"],
        revisit_count=columns["revisit_count"],
        last_revisit_clean=None,
        waiting_since=None,
        next_check_at=None,
        reporting_path=actor.jurisdiction_path,
        receiving_path=None,
    )
