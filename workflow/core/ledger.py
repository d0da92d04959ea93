"""The ledger (台账): canonical hashing, chain verification, replay and daily seals.

Each event hashes a canonical JSON of its own fields, the previous event's
hash included, so one chain per issue runs from its first event to the head
stored on the issue row. Editing, deleting or inserting any event breaks the
chain at that event; the daily seal also covers a chain cut at its end.

Seals chain in the order they were made. Only a day that has ended can be
sealed; a seal made before its day ended (older versions allowed it) is void:
it stays in the chain, which still vouches for its row, but not for its day.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col
from transitions import MachineError

from states import INITIAL, fire
from workflow.core.calendar import end_of_day, local_today
from workflow.core.errors import ValidationFailed
from workflow.core.models import Event, Issue, LedgerSeal, table_of

GENESIS = "0" * 64
_event = table_of(Event)
_issue = table_of(Issue)
_seal = table_of(LedgerSeal)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # isoformat with explicit microseconds: one fixed form whatever the value.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The bytes an event's hash is taken over: sorted keys, no spaces, UTF-8."""
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def event_hash(
    *,
    issue_code: str,
    seq: int,
    trigger: str,
    from_state: str,
    to_state: str,
    actor_code: str,
    parties: str,
    payload: Mapping[str, Any],
    due_at: datetime | None,
    occurred_at: datetime,
    prev_hash: str,
) -> str:
    """The SHA-256 of one event's canonical form."""
    body = {
        "issue": issue_code,
        "seq": seq,
        "trigger": trigger,
        "from": from_state,
        "to": to_state,
        "actor": actor_code,
        "parties": parties,
        "payload": payload,
        "due_at": _iso(due_at),
        "occurred_at": _iso(occurred_at),
        "prev": prev_hash,
    }
    return hashlib.sha256(canonical(body)).hexdigest()


def _row_hash(issue_code: str, row: Any) -> str:
    return event_hash(
        issue_code=issue_code,
        seq=row.seq,
        trigger=row.trigger,
        from_state=row.from_state,
        to_state=row.to_state,
        actor_code=row.actor_code,
        parties=row.parties,
        payload=row.payload,
        due_at=row.due_at,
        occurred_at=row.occurred_at,
        prev_hash=row.prev_hash,
    )


@dataclass(slots=True)
class Finding:
    """One thing wrong with a chain: which issue, which event (by id and seq), what; or which seal row."""

    issue_code: str
    event_id: int | None
    seq: int | None
    problem: str

    def __str__(self) -> str:
        if self.event_id is None:
            where = "issue row"
        elif self.seq is None:  # a seal's row: seals have ids but no sequence number
            where = f"seal #{self.event_id}"
        else:
            where = f"event #{self.event_id} (seq {self.seq})"
        return f"{self.issue_code}: {where}: {self.problem}"


@dataclass(slots=True)
class Replay:
    """What the events of one issue add up to."""

    state: str = INITIAL
    version: int = 0
    rebound_count: int = 0
    head: str = GENESIS


@dataclass(slots=True)
class VerifyReport:
    """The result of ``ledger verify``: chains checked and the first break of each bad one."""

    issues: int = 0
    events: int = 0
    seals: int = 0
    findings: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)  # void seals: said, but nothing is broken

    @property
    def ok(self) -> bool:
        """True when every chain and seal verified."""
        return not self.findings


def _chain_findings(issue: Any, events: list[Any]) -> tuple[Replay, Finding | None]:
    """Walk one issue's events; return what they replay to and the first break, if any."""
    replay = Replay()
    for expected_seq, row in enumerate(events, start=1):

        def broken(problem: str, row: Any = row) -> tuple[Replay, Finding]:
            return replay, Finding(issue.code, row.id, row.seq, problem)

        if row.seq != expected_seq:
            return broken(f"sequence gap: expected seq {expected_seq} (an event was deleted or inserted)")
        if row.prev_hash != replay.head:
            return broken("prev_hash does not match the previous event (an earlier event was changed or removed)")
        if _row_hash(issue.code, row) != row.hash:
            return broken("contents do not match the event's hash (the event was edited)")
        if row.compact_id != issue.compact_id:
            # Outside the hash, so checked against the issue (whose compact never changes): the figures of a
            # compact find its steps by it.
            return broken(f"names compact {row.compact_id}, its issue is in compact {issue.compact_id}")
        if row.from_state != replay.state:
            return broken(f"starts from {row.from_state!r} but the chain stood at {replay.state!r}")
        try:
            reached = fire(replay.state, row.trigger)
        except MachineError:
            return broken(f"trigger {row.trigger!r} is not allowed from {replay.state!r}")
        if reached != row.to_state:
            return broken(f"trigger {row.trigger!r} leads to {reached!r}, the event says {row.to_state!r}")
        replay.state, replay.version, replay.head = reached, row.seq, row.hash
        replay.rebound_count += row.trigger == "rebound"
    return replay, None


def _issue_findings(issue: Any, replay: Replay) -> Finding | None:
    if issue.ledger_head != replay.head:
        return Finding(
            issue.code, None, None, "the issue's chain head differs from its last event (events removed at the end?)"
        )
    if (issue.state, issue.version, issue.rebound_count) != (replay.state, replay.version, replay.rebound_count):
        return Finding(
            issue.code,
            None,
            None,
            f"row says state={issue.state} version={issue.version} rebounds={issue.rebound_count}, "
            f"the ledger replays to state={replay.state} version={replay.version} rebounds={replay.rebound_count}",
        )
    return None


def _iter_chains(session: Session, issue_ids: list[int] | None) -> Iterator[tuple[Any, list[Any]]]:
    issues_q = sa.select(_issue).order_by(_issue.c.id)
    if issue_ids is not None:
        issues_q = issues_q.where(_issue.c.id.in_(issue_ids))
    issues = session.execute(issues_q).all()
    # Batches keep memory flat on a large ledger while reading each chain in order.
    for start in range(0, len(issues), 500):
        batch = issues[start : start + 500]
        ids = [i.id for i in batch]
        rows = session.execute(
            sa.select(_event).where(_event.c.issue_id.in_(ids)).order_by(_event.c.issue_id, _event.c.seq)
        ).all()
        by_issue: dict[int, list[Any]] = {i: [] for i in ids}
        for row in rows:
            by_issue[row.issue_id].append(row)
        for issue in batch:
            yield issue, by_issue[issue.id]


def replay_issue(session: Session, issue_id: int) -> Replay:
    """Replay one issue's events through the machine (raises ValueError on a broken chain)."""
    for issue, events in _iter_chains(session, [issue_id]):
        replay, finding = _chain_findings(issue, events)
        if finding:
            raise ValueError(str(finding))
        return replay
    raise ValueError(f"no issue with id {issue_id}")


def verify(session: Session, *, issue_ids: list[int] | None = None, progress: Any = None) -> VerifyReport:
    """Check every chain (or the given issues') and every seal; name the first break of each."""
    report = VerifyReport()
    for issue, events in _iter_chains(session, issue_ids):
        report.issues += 1
        report.events += len(events)
        replay, finding = _chain_findings(issue, events)
        finding = finding or _issue_findings(issue, replay)
        if finding:
            report.findings.append(finding)
        if progress is not None:
            progress()
    if issue_ids is None:
        add_seals(session, report)
    return report


def add_seals(session: Session, report: VerifyReport) -> None:
    """Check every daily seal into ``report`` (the chains checked elsewhere, e.g. by issue in parallel)."""
    report.seals, seal_findings, report.notes = _verify_seals(session)
    report.findings.extend(seal_findings)


# -- daily seals -------------------------------------------------------------


def _heads_as_of(session: Session, day: date) -> tuple[int, str]:
    """Every chain head as it stood at the end of ``day`` (Asia/Shanghai), hashed together."""
    cutoff = end_of_day(day) + timedelta(seconds=1)
    last_seq = (
        sa.select(_event.c.issue_id, sa.func.max(_event.c.seq).label("seq"))
        .where(_event.c.occurred_at < cutoff)
        .group_by(_event.c.issue_id)
        .subquery()
    )
    rows = session.execute(
        sa.select(_issue.c.code, _event.c.hash)
        .join(last_seq, sa.and_(_event.c.issue_id == last_seq.c.issue_id, _event.c.seq == last_seq.c.seq))
        .join(_issue, _issue.c.id == _event.c.issue_id)
        .order_by(_issue.c.code)
    ).all()
    digest = hashlib.sha256()
    for code, head in rows:
        digest.update(f"{code}:{head}\n".encode())
    return len(rows), digest.hexdigest()


def _seal_hash(day: date, chains: int, heads_hash: str, prev: str) -> str:
    return hashlib.sha256(
        canonical({"day": day.isoformat(), "chains": chains, "heads": heads_hash, "prev": prev})
    ).hexdigest()


def is_void(day: date, created_at: datetime) -> bool:
    """True for a seal made before its day ended: it cannot vouch for events that came after it."""
    return local_today(created_at) <= day


def seal_day(session: Session, day: date, now: datetime) -> LedgerSeal:
    """Write the seal for ``day`` (idempotent: an existing seal is returned unchanged).

    Refuses (``ValidationFailed`` on ``day``) a day that has not ended in Asia/Shanghai, and a day
    before the last validly sealed one.
    """
    today = local_today(now)
    if day >= today:
        raise ValidationFailed(
            "day", f"{day.isoformat()} has not ended (today is {today.isoformat()} in Asia/Shanghai); seal it after"
        )
    existing = session.execute(sa.select(LedgerSeal).where(col(LedgerSeal.day) == day)).scalar_one_or_none()
    if existing is not None:
        return existing
    made = session.execute(sa.select(_seal.c.day, _seal.c.created_at, _seal.c.hash).order_by(_seal.c.id)).all()
    later = max((s.day for s in made if not is_void(s.day, s.created_at)), default=None)
    if later is not None and later > day:
        raise ValidationFailed("day", f"cannot seal {day.isoformat()}: {later.isoformat()} is sealed already")
    prev = made[-1].hash if made else GENESIS
    chains, heads_hash = _heads_as_of(session, day)
    seal = LedgerSeal(
        day=day,
        chains=chains,
        heads_hash=heads_hash,
        prev_seal_hash=prev,
        hash=_seal_hash(day, chains, heads_hash, prev),
        created_at=now,
    )
    session.add(seal)
    session.flush()
    return seal


def _verify_seals(session: Session) -> tuple[int, list[Finding], list[Finding]]:
    findings: list[Finding] = []
    notes: list[Finding] = []
    prev = GENESIS
    # The order they were made in: a void seal of a later day may come before the seal of an earlier one.
    seals = session.execute(sa.select(_seal).order_by(_seal.c.id)).all()
    for seal in seals:
        label = f"seal {seal.day}"
        if (
            seal.prev_seal_hash != prev
            or _seal_hash(seal.day, seal.chains, seal.heads_hash, seal.prev_seal_hash) != seal.hash
        ):
            findings.append(Finding(label, seal.id, None, "the seal row was edited or a seal removed"))
        elif is_void(seal.day, seal.created_at):
            made_on = local_today(seal.created_at).isoformat()
            notes.append(
                Finding(
                    label,
                    seal.id,
                    None,
                    f"sealed on {made_on}, before its day ended; "
                    "void (it vouches for nothing, and the next day's seal covers its events)",
                )
            )
        elif _heads_as_of(session, seal.day) != (seal.chains, seal.heads_hash):
            findings.append(Finding(label, seal.id, None, "events sealed that day no longer hash to the sealed heads"))
        prev = seal.hash
    return len(seals), findings, notes
