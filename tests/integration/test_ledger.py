"""The ledger: chains verify and replay, and every kind of tampering is found and named, on each dialect."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from riverchief.bootstrap import App
from riverchief.verifying import verify_in_parallel
from tests.factories import (
    AUDITOR,
    CHECKLIST,
    COORDINATOR,
    RECEIVER,
    RECEIVING_CODE,
    REPORTER,
    World,
    jpeg_with_gps,
    walk_to,
)
from workflow.core.calendar import local_today
from workflow.core.errors import ValidationFailed
from workflow.core.evidence import add_evidence
from workflow.core.ledger import GENESIS, Finding, VerifyReport, event_hash, replay_issue, seal_day, verify
from workflow.core.models import Event, Issue, LedgerSeal, table_of

_event = table_of(Event)
PHOTO = jpeg_with_gps((30.0, 12.0, 28.8), (105.0, 42.0, 10.8), "2026:03:02 10:15:00")

# Tables whose rows the database may guard with triggers (the ledger is append-only).
_GUARDED = ("event", "ledger_seal")


def tamper(app: App, sql: str | sa.Executable, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] = ()) -> None:
    """Run one statement behind the application's back, in its own transaction.

    The database refuses UPDATE and DELETE on the ledger; this is the one place that
    steps around it, as someone with direct access to the database could: PostgreSQL's
    user triggers are disabled for the statement, SQLite's are dropped and re-created.
    A list of parameter sets runs the statement once per set.
    """
    statement = sa.text(sql) if isinstance(sql, str) else sql
    with app.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            for table in _GUARDED:
                conn.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            conn.execute(statement, params or {})
            for table in _GUARDED:
                conn.execute(sa.text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
            return
        triggers = conn.execute(
            sa.text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('event', 'ledger_seal')"
            )
        ).all()
        for name in {"event_no_update", "event_no_delete", *(name for name, _ in triggers)}:
            conn.exec_driver_sql(f'DROP TRIGGER IF EXISTS "{name}"')
        conn.execute(statement, params or {})
        for _, ddl in triggers:
            conn.exec_driver_sql(ddl)


def set_event_column(app: App, event_id: int, column: str, value: Any) -> None:
    """UPDATE one column of one event, the value bound with the column's own type (JSON, UTC time...)."""
    statement = sa.text(f"UPDATE event SET {column} = :value WHERE id = :id").bindparams(
        sa.bindparam("value", type_=_event.c[column].type)
    )
    tamper(app, statement, {"value": value, "id": event_id})


def delete_event(app: App, event_id: int) -> None:
    """Remove an event the way a careful forger would: its outbox rows first, so no foreign key objects."""
    tamper(app, "DELETE FROM outbox WHERE event_id = :id", {"id": event_id})
    tamper(app, "DELETE FROM event WHERE id = :id", {"id": event_id})


def rehash(code: str, event: Event, prev_hash: str, **changes: Any) -> str:
    """The hash ``event`` would have with ``changes`` applied and chained after ``prev_hash``."""
    fields = {
        "seq": event.seq,
        "trigger": event.trigger,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "actor_code": event.actor_code,
        "parties": event.parties,
        "payload": event.payload,
        "due_at": event.due_at,
        "occurred_at": event.occurred_at,
    }
    fields.update(changes)
    return event_hash(issue_code=code, prev_hash=prev_hash, **fields)


def rewrite_chain(world: World, code: str, seq: int, payload: dict[str, Any]) -> None:
    """Edit one event's payload and re-chain everything after it, issue head included: a consistent forgery."""
    events = world.events(code)
    prev = events[seq - 2].hash if seq > 1 else GENESIS
    rows = []
    for event in events[seq - 1 :]:
        new_payload = payload if event.seq == seq else event.payload
        digest = rehash(code, event, prev, payload=new_payload)
        rows.append({"id": event.id, "payload": new_payload, "prev_hash": prev, "hash": digest})
        prev = digest
    statement = sa.text("UPDATE event SET payload = :payload, prev_hash = :prev_hash, hash = :hash WHERE id = :id")
    tamper(world.app, statement.bindparams(sa.bindparam("payload", type_=sa.JSON)), rows)
    tamper(world.app, "UPDATE issue SET ledger_head = :head WHERE code = :code", {"head": prev, "code": code})


def verify_all(world: World, issue_ids: list[int] | None = None) -> VerifyReport:
    """``ledger verify`` over the whole database (or only the given issues, seals skipped)."""
    with world.app.reader() as uow:
        return verify(uow.session, issue_ids=issue_ids)


def only_finding(report: VerifyReport) -> Finding:
    """The report's single finding (fails, showing them all, when there is not exactly one)."""
    assert len(report.findings) == 1, [str(f) for f in report.findings]
    return report.findings[0]


@dataclass
class Ledger:
    """A target issue with eight events, between two bystander issues that nobody touches."""

    world: World
    code: str
    bystanders: list[str]

    @property
    def events(self) -> list[Event]:
        return self.world.events(self.code)

    @property
    def issue_id(self) -> int:
        issue_id = self.world.issue(self.code).id
        assert issue_id is not None
        return issue_id


@pytest.fixture
def ledger(world: World) -> Ledger:
    """Three issues; the middle one has walked to its first joint-check signature (8 events)."""
    before = world.report(title="太安镇段漂浮物")
    world.fire(before, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    code = world.report()
    walk_to(world, code, "pass_check")
    after = world.report(who="sn-moxi", title="别口镇段排口", segment="mx-biekou")
    world.fire(after, "investigate", "sn-moxi")
    assert len(world.events(code)) == 8
    assert verify_all(world).ok
    return Ledger(world, code, [before, after])


# -- an untouched ledger -----------------------------------------------------------------------------------------


def _rebound_and_close_again(world: World, code: str) -> None:
    walk_to(world, code, "close")
    world.fire(code, "start_revisit", AUDITOR)
    world.fire(code, "rebound", AUDITOR, finding="雨天仍有溢流")
    world.fire(code, "report_done", RECEIVER, summary="雨污分流改造完成")
    world.fire(code, "request_verify", REPORTER)
    world.fire(code, "pass_check", RECEIVER, checklist=["photos", "site_check", "outfall_closed"])
    world.fire(code, "pass_check", REPORTER)  # the receiving side confirmed the whole list
    world.fire(code, "close", REPORTER)


def _dispute_to_joint_meeting(world: World, code: str) -> None:
    world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    world.fire(code, "dispute", RECEIVER, reason="责任需商定")
    world.fire(code, "convene", COORDINATOR, level="district", agenda="责任划分")
    world.fire(code, "resolve", COORDINATOR, resolution="白马镇牵头", plan="封堵", deadline=world.deadline(5))
    world.fire(code, "report_done", RECEIVER, summary="已封堵")


def _failed_check(world: World, code: str) -> None:
    walk_to(world, code, "request_verify")
    world.fire(code, "fail_check", REPORTER, reason="仍有异味", deadline=world.deadline(5))


def _dismissed(world: World, code: str) -> None:
    world.fire(code, "investigate", REPORTER)
    world.fire(code, "dismiss", REPORTER, reason="非排污口")


PATHS: dict[str, Callable[[World, str], None] | None] = {
    "archived": lambda w, c: walk_to(w, c, "archive"),
    "rebound then closed again": _rebound_and_close_again,
    "dispute to joint meeting": _dispute_to_joint_meeting,
    "failed check": _failed_check,
    "dismissed": _dismissed,
    "only reported": None,
}


def test_issues_walked_along_every_kind_of_path_verify_and_replay_to_their_rows(world: World) -> None:
    codes = {}
    for name, walk in PATHS.items():
        codes[name] = world.report(title=name)
        if walk is not None:
            walk(world, codes[name])
        world.clock.advance(hours=5)

    report = verify_all(world)
    assert report.ok, [str(f) for f in report.findings]
    assert report.issues == len(PATHS)
    assert report.events == sum(len(world.events(code)) for code in codes.values())

    expected_states = {
        "archived": ("archived", 0),
        "rebound then closed again": ("du.closed", 1),
        "dispute to joint meeting": ("du.rectified", 0),
        "failed check": ("ban.rectifying", 0),
        "dismissed": ("dismissed", 0),
        "only reported": ("xun.reported", 0),
    }
    for name, code in codes.items():
        issue = world.issue(code)
        assert issue.id is not None
        with world.app.reader() as uow:
            replay = replay_issue(uow.session, issue.id)
        assert (replay.state, replay.rebound_count) == expected_states[name], name
        assert (replay.state, replay.version, replay.rebound_count, replay.head) == (
            issue.state,
            issue.version,
            issue.rebound_count,
            issue.ledger_head,
        ), name
        assert replay.version == len(world.events(code)), name


def test_every_event_carries_its_issues_compact_whichever_path_wrote_it(world: World, tmp_path: Path) -> None:
    # Every kind of path (a joint meeting among them), a merged duplicate (whose original's step the service
    # fires as a follow-up), evidence: each writes its event through apply, with the issue's compact.
    for name, walk in PATHS.items():
        code = world.report(title=name)
        if walk is not None:
            walk(world, code)
    original, duplicate = world.report(title="原件"), world.report(title="重复")
    world.fire(duplicate, "mark_duplicate", REPORTER, of=original, reason="同一排口")
    add_evidence(world.app.uow(), original, world.actor(REPORTER), PHOTO, "a.jpg", tmp_path)
    issue = table_of(Issue)
    with world.app.reader() as uow:
        pairs = uow.connection.execute(
            sa.select(_event.c.trigger, _event.c.compact_id, issue.c.compact_id).join(
                issue, issue.c.id == _event.c.issue_id
            )
        ).all()

    assert {"convene", "resolve", "archive", "mark_duplicate", "duplicate_linked", "add_evidence"} <= {
        trigger for trigger, _, _ in pairs
    }
    assert [(trigger, ours) for trigger, ours, theirs in pairs if ours is None or ours != theirs] == []


def test_replaying_a_tampered_chain_refuses_and_names_the_event(ledger: Ledger) -> None:
    middle = ledger.events[3]
    set_event_column(ledger.world.app, middle.id, "actor_code", COORDINATOR)

    with ledger.world.app.reader() as uow, pytest.raises(ValueError, match=rf"event #{middle.id} \(seq 4\)"):
        replay_issue(uow.session, ledger.issue_id)


def test_replaying_an_unknown_issue_is_refused(world: World) -> None:
    with world.app.reader() as uow, pytest.raises(ValueError, match="no issue with id 424242"):
        replay_issue(uow.session, 424242)


# -- edited, deleted and forged events ---------------------------------------------------------------------------

POSITIONS = {"first": 1, "middle": 4, "last": 8}


def _forged_value(event: Event, column: str) -> Any:
    return {
        "payload": {**event.payload, "note": "改过的内容"},
        "to_state": "archived" if event.to_state != "archived" else "dismissed",
        "actor_code": COORDINATOR if event.actor_code != COORDINATOR else AUDITOR,
        "occurred_at": event.occurred_at - timedelta(hours=1),
    }[column]


@pytest.mark.parametrize("column", ["payload", "to_state", "actor_code", "occurred_at"])
def test_an_edited_event_at_the_first_middle_or_last_position_is_named_by_issue_event_id_and_seq(
    ledger: Ledger, column: str
) -> None:
    # One issue per position (first, middle, last), each edited at its own position only.
    world = ledger.world
    codes = {position: world.report(title=f"{position} event edited") for position in POSITIONS}
    for code in codes.values():
        walk_to(world, code, "pass_check")
    targets = {position: world.events(codes[position])[seq - 1] for position, seq in POSITIONS.items()}
    for position, target in targets.items():
        set_event_column(world.app, target.id, column, _forged_value(target, column))
        edited = world.events(codes[position])[target.seq - 1]
        assert getattr(edited, column) != getattr(target, column), "the edit did not land"

    report = verify_all(world)

    assert sorted((f.issue_code, f.event_id, f.seq) for f in report.findings) == sorted(
        (codes[position], target.id, target.seq) for position, target in targets.items()
    ), [str(f) for f in report.findings]
    for finding in report.findings:
        assert "edited" in finding.problem
        assert str(finding).startswith(f"{finding.issue_code}: event #{finding.event_id} (seq {finding.seq}): ")
    assert report.issues == 6  # the ledger's own three issues are still clean


def test_a_deleted_middle_event_is_reported_as_a_sequence_gap_at_the_event_after_it(ledger: Ledger) -> None:
    events = ledger.events
    delete_event(ledger.world.app, events[3].id)

    finding = only_finding(verify_all(ledger.world))

    assert (finding.issue_code, finding.event_id, finding.seq) == (ledger.code, events[4].id, 5)
    assert "sequence gap" in finding.problem
    assert "expected seq 4" in finding.problem


def test_a_deleted_last_event_is_reported_as_a_chain_head_mismatch(ledger: Ledger) -> None:
    delete_event(ledger.world.app, ledger.events[-1].id)

    finding = only_finding(verify_all(ledger.world))

    assert (finding.issue_code, finding.event_id, finding.seq) == (ledger.code, None, None)
    assert "chain head" in finding.problem


def test_a_deleted_first_event_is_reported(ledger: Ledger) -> None:
    events = ledger.events
    delete_event(ledger.world.app, events[0].id)

    finding = only_finding(verify_all(ledger.world))

    assert (finding.issue_code, finding.event_id, finding.seq) == (ledger.code, events[1].id, 2)
    assert "sequence gap" in finding.problem


@pytest.mark.parametrize(
    ("column", "value", "says"),
    [
        ("state", "du.closed", "state=du.closed"),
        ("version", 7, "version=7"),
        ("rebound_count", 1, "rebounds=1"),
        ("ledger_head", "f" * 64, "chain head"),
    ],
)
def test_an_edited_issue_row_is_reported_against_what_the_ledger_replays_to(
    ledger: Ledger, column: str, value: Any, says: str
) -> None:
    tamper(
        ledger.world.app,
        f"UPDATE issue SET {column} = :value WHERE code = :code",
        {"value": value, "code": ledger.code},
    )

    finding = only_finding(verify_all(ledger.world))

    assert (finding.issue_code, finding.event_id) == (ledger.code, None)
    assert says in finding.problem
    assert str(finding).startswith(f"{ledger.code}: issue row: ")


def _forged_event(ledger: Ledger, *, hash_: str | None) -> dict[str, Any]:
    last = ledger.events[-1]
    row = {
        "issue_id": ledger.issue_id,
        "compact_id": last.compact_id,  # outside the hash, copied as a forger would
        "seq": 9,
        "trigger": "pass_check",
        "from_state": "du.verifying",
        "to_state": "du.verifying",
        "actor_id": None,
        "actor_code": REPORTER,
        "parties": "member,reporting",
        "payload": {"checklist": ["photos"]},
        "due_at": last.due_at,
        "occurred_at": last.occurred_at + timedelta(minutes=5),
        "prev_hash": last.hash,
    }
    fields = {k: v for k, v in row.items() if k not in ("issue_id", "compact_id", "actor_id", "prev_hash")}
    row["hash"] = hash_ or event_hash(issue_code=ledger.code, prev_hash=last.hash, **fields)
    return row


def test_a_forged_event_with_a_made_up_hash_is_named(ledger: Ledger) -> None:
    tamper(ledger.world.app, _event.insert(), _forged_event(ledger, hash_="e" * 64))
    forged = ledger.events[-1]
    assert forged.seq == 9

    finding = only_finding(verify_all(ledger.world))

    assert (finding.issue_code, finding.event_id, finding.seq) == (ledger.code, forged.id, 9)


def test_a_forged_event_hashed_correctly_onto_the_chain_is_still_caught_by_the_issue_head(ledger: Ledger) -> None:
    tamper(ledger.world.app, _event.insert(), _forged_event(ledger, hash_=None))

    finding = only_finding(verify_all(ledger.world))

    assert (finding.issue_code, finding.event_id) == (ledger.code, None)
    assert "chain head" in finding.problem


def test_a_forged_event_that_breaks_the_statechart_is_named_even_when_fully_rechained(ledger: Ledger) -> None:
    # A forger who re-chains and moves the issue row along still has to obey the chart.
    row = _forged_event(ledger, hash_=None)
    row.update(trigger="archive", to_state="archived")
    fields = {k: v for k, v in row.items() if k not in ("issue_id", "compact_id", "actor_id", "prev_hash", "hash")}
    row["hash"] = event_hash(issue_code=ledger.code, prev_hash=row["prev_hash"], **fields)
    tamper(ledger.world.app, _event.insert(), row)
    tamper(
        ledger.world.app,
        "UPDATE issue SET state = 'archived', version = 9, ledger_head = :head WHERE code = :code",
        {"head": row["hash"], "code": ledger.code},
    )
    forged = ledger.events[-1]

    finding = only_finding(verify_all(ledger.world))

    assert (finding.issue_code, finding.event_id, finding.seq) == (ledger.code, forged.id, 9)
    assert "'archive' is not allowed from 'du.verifying'" in finding.problem


@pytest.mark.parametrize("moved_to", ["another compact", "none"])
def test_an_event_whose_compact_is_not_its_issues_is_named_though_its_hash_still_holds(
    ledger: Ledger, moved_to: str
) -> None:
    # The compact is outside the hash (chains made before it still verify), so it is checked against the issue.
    event = ledger.events[3]
    assert event.compact_id is not None
    value = event.compact_id + 1 if moved_to == "another compact" else None
    set_event_column(ledger.world.app, event.id, "compact_id", value)

    finding = only_finding(verify_all(ledger.world))

    assert (finding.issue_code, finding.event_id, finding.seq) == (ledger.code, event.id, event.seq)
    assert finding.problem == f"names compact {value}, its issue is in compact {event.compact_id}"


def test_only_the_tampered_issues_are_reported_each_at_its_own_first_break(ledger: Ledger) -> None:
    world = ledger.world
    first_bystander = world.events(ledger.bystanders[0])
    set_event_column(world.app, ledger.events[2].id, "actor_code", AUDITOR)
    set_event_column(world.app, ledger.events[5].id, "actor_code", AUDITOR)  # a second break, after the first
    set_event_column(world.app, first_bystander[1].id, "payload", {"receiving": "500152101"})

    report = verify_all(world)

    named = {(f.issue_code, f.event_id, f.seq) for f in report.findings}
    assert named == {
        (ledger.code, ledger.events[2].id, 3),
        (ledger.bystanders[0], first_bystander[1].id, 2),
    }
    assert ledger.bystanders[1] not in {f.issue_code for f in report.findings}
    assert report.issues == 3


def test_verifying_by_issue_in_other_processes_finds_what_one_process_finds(ledger: Ledger) -> None:
    """``ledger verify --jobs``: one issue per task, two processes; the same counts and breaks, in issue order."""
    world = ledger.world
    set_event_column(world.app, ledger.events[2].id, "actor_code", AUDITOR)
    set_event_column(world.app, world.events(ledger.bystanders[1])[0].id, "actor_code", AUDITOR)
    ids = sorted(world.issue(c).id for c in (ledger.code, *ledger.bystanders))
    advanced: list[int] = []

    parallel = verify_in_parallel(world.app, ids, 2, advanced.append, chunk=1)

    serial = verify_all(world)
    assert (parallel.issues, parallel.events, parallel.seals) == (serial.issues, serial.events, serial.seals)
    assert [str(f) for f in parallel.findings] == [str(f) for f in serial.findings]
    assert len(parallel.findings) == 2
    assert sorted(advanced) == [1, 1, 1]


def test_verifying_only_some_issues_ignores_tampering_elsewhere(ledger: Ledger) -> None:
    set_event_column(ledger.world.app, ledger.events[0].id, "actor_code", AUDITOR)
    bystander_ids = [ledger.world.issue(code).id for code in ledger.bystanders]

    report = verify_all(ledger.world, issue_ids=[i for i in bystander_ids if i is not None])

    assert report.ok
    assert report.issues == 2


# -- daily seals -------------------------------------------------------------------------------------------------

DAY_ONE, DAY_TWO = date(2026, 3, 2), date(2026, 3, 3)


def seal(world: World, day: date) -> LedgerSeal:
    with world.app.uow() as uow:
        sealed = seal_day(uow.session, day, world.clock.now())
        uow.commit()
    return sealed


def seals(world: World) -> list[LedgerSeal]:
    with world.app.reader() as uow:
        return list(uow.session.execute(sa.select(LedgerSeal).order_by(sa.column("day"))).scalars())


@pytest.fixture
def sealed(world: World) -> Ledger:
    """An issue with four events on 2 March and four on 3 March, a bystander, and both days sealed on 4 March."""
    bystander = world.report(title="太安镇段漂浮物")
    code = world.report()
    walk_to(world, code, "start_rectify")
    world.clock.advance(days=1)
    for trigger, who, payload in [
        ("progress", RECEIVER, {"note": "完成一半"}),
        ("report_done", RECEIVER, {"summary": "已封堵"}),
        ("request_verify", REPORTER, {}),
        ("pass_check", RECEIVER, {"checklist": ["photos"]}),
    ]:
        world.fire(code, trigger, who, **payload)
    world.clock.advance(days=1)
    seal(world, DAY_ONE)
    seal(world, DAY_TWO)
    assert verify_all(world).ok
    return Ledger(world, code, [bystander])


def test_a_seal_covers_every_chain_head_as_it_stood_at_the_end_of_its_day(sealed: Ledger) -> None:
    first, second = seals(sealed.world)
    assert (first.day, first.chains, first.prev_seal_hash) == (DAY_ONE, 2, GENESIS)
    assert (second.day, second.chains, second.prev_seal_hash) == (DAY_TWO, 2, first.hash)
    assert first.heads_hash != second.heads_hash  # the target's head moved on 3 March
    report = verify_all(sealed.world)
    assert (report.ok, report.seals) == (True, 2)


def test_sealing_a_day_again_returns_the_existing_seal_unchanged(sealed: Ledger) -> None:
    world = sealed.world
    before = seals(world)
    world.fire(sealed.code, "pass_check", REPORTER, checklist=CHECKLIST)  # a later event changes no sealed day

    again = seal(world, DAY_ONE)

    assert (again.id, again.hash, again.heads_hash) == (before[0].id, before[0].hash, before[0].heads_hash)
    after = seals(world)
    assert [(s.id, s.day, s.hash) for s in after] == [(s.id, s.day, s.hash) for s in before]
    assert verify_all(world).ok


def test_sealing_a_day_before_the_last_sealed_day_is_refused(sealed: Ledger) -> None:
    with pytest.raises(ValidationFailed, match="2026-03-03 is sealed already"):
        seal(sealed.world, date(2026, 3, 1))
    assert len(seals(sealed.world)) == 2


@pytest.mark.parametrize(
    ("seq", "days_named"),
    [(2, [DAY_ONE, DAY_TWO]), (4, [DAY_ONE, DAY_TWO]), (6, [DAY_TWO])],
    ids=["early on day one", "last of day one", "on day two"],
)
def test_a_consistent_rewrite_of_a_sealed_chain_is_named_by_the_seals_of_the_days_it_touches(
    sealed: Ledger, seq: int, days_named: list[date]
) -> None:
    world = sealed.world
    assert local_today(sealed.events[seq - 1].occurred_at) == days_named[0]
    rewrite_chain(world, sealed.code, seq, {"note": "改写的内容"})

    chains_only = verify_all(world, issue_ids=[sealed.issue_id])
    assert chains_only.ok, "the forgery should be consistent: only the seals can tell"

    report = verify_all(world)
    by_seal = {s.day: s.id for s in seals(world)}
    assert [(f.issue_code, f.event_id) for f in report.findings] == [(f"seal {d}", by_seal[d]) for d in days_named]
    assert all("no longer hash to the sealed heads" in f.problem for f in report.findings)


@pytest.mark.parametrize(
    ("column", "value"),
    [("heads_hash", "a" * 64), ("chains", 3), ("prev_seal_hash", "b" * 64)],
)
def test_an_edited_seal_row_is_reported(sealed: Ledger, column: str, value: Any) -> None:
    first, _ = seals(sealed.world)
    tamper(
        sealed.world.app, f"UPDATE ledger_seal SET {column} = :value WHERE id = :id", {"value": value, "id": first.id}
    )

    finding = only_finding(verify_all(sealed.world))

    assert (finding.issue_code, finding.event_id) == (f"seal {DAY_ONE}", first.id)
    assert "seal row was edited" in finding.problem


def test_an_edited_seal_hash_is_reported_at_that_seal_and_the_next(sealed: Ledger) -> None:
    first, second = seals(sealed.world)
    tamper(sealed.world.app, "UPDATE ledger_seal SET hash = :value WHERE id = :id", {"value": "c" * 64, "id": first.id})

    report = verify_all(sealed.world)

    assert [(f.issue_code, f.event_id) for f in report.findings] == [
        (f"seal {DAY_ONE}", first.id),
        (f"seal {DAY_TWO}", second.id),
    ]


def test_a_removed_seal_is_reported_at_the_seal_after_it(sealed: Ledger) -> None:
    first, second = seals(sealed.world)
    tamper(sealed.world.app, "DELETE FROM ledger_seal WHERE id = :id", {"id": first.id})

    finding = only_finding(verify_all(sealed.world))

    assert (finding.issue_code, finding.event_id) == (f"seal {DAY_TWO}", second.id)


def test_the_tamper_helper_leaves_the_database_guard_in_place(ledger: Ledger) -> None:
    set_event_column(ledger.world.app, ledger.events[0].id, "actor_code", AUDITOR)

    with pytest.raises(sa.exc.DatabaseError, match="append-only"), ledger.world.app.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM event WHERE id = :id"), {"id": ledger.events[1].id})
    assert len(ledger.events) == 8


# -- a day that has not ended ------------------------------------------------------------------------------------


def old_future_seal(world: World, day: date) -> LedgerSeal:
    """A seal of a day that had not ended, written as riverchief did before it refused one."""
    from workflow.core.ledger import _heads_as_of, _seal_hash

    now = world.clock.now()
    with world.app.uow() as uow:
        prev = uow.session.execute(sa.select(LedgerSeal.hash).order_by(sa.column("day").desc()).limit(1)).scalar()
        chains, heads = _heads_as_of(uow.session, day)
        row = LedgerSeal(
            day=day,
            chains=chains,
            heads_hash=heads,
            prev_seal_hash=prev or GENESIS,
            hash=_seal_hash(day, chains, heads, prev or GENESIS),
            created_at=now,
        )
        uow.session.add(row)
        uow.session.flush()
        uow.session.expunge(row)
        uow.commit()
        return row


@pytest.mark.parametrize("ahead", [0, 7], ids=["today", "a week ahead"])
def test_sealing_a_day_that_has_not_ended_is_refused_naming_the_day_and_writes_nothing(
    sealed: Ledger, ahead: int
) -> None:
    world = sealed.world
    today = local_today(world.clock.now())

    with pytest.raises(ValidationFailed) as refused:
        seal(world, today + timedelta(days=ahead))

    assert refused.value.field == "day"
    assert "has not ended" in refused.value.reason
    assert [s.day for s in seals(world)] == [DAY_ONE, DAY_TWO]


def test_after_an_old_future_seal_the_days_before_it_seal_and_verify_and_the_void_seal_is_named(
    sealed: Ledger,
) -> None:
    world = sealed.world  # 4 March; 2 and 3 March are sealed
    future = date(2026, 3, 11)
    old_future_seal(world, future)
    world.fire(sealed.code, "pass_check", REPORTER, checklist=CHECKLIST)  # an event after the void seal was made
    world.clock.advance(days=2)  # 6 March

    sealed_now = [seal(world, date(2026, 3, 4)), seal(world, date(2026, 3, 5))]

    assert [s.day for s in sealed_now] == [date(2026, 3, 4), date(2026, 3, 5)]
    report = verify_all(world)
    assert report.ok, [str(f) for f in report.findings]
    assert report.seals == 5
    assert [str(n) for n in report.notes] == [
        f"seal {future}: seal #{seals(world)[-1].id}: sealed on 2026-03-04, before its day ended; "
        "void (it vouches for nothing, and the next day's seal covers its events)"
    ]


def test_the_day_of_an_old_future_seal_keeps_it_void_and_the_next_day_seals_over_it(sealed: Ledger) -> None:
    world = sealed.world
    void = old_future_seal(world, date(2026, 3, 5))
    world.fire(sealed.code, "pass_check", REPORTER, checklist=CHECKLIST)
    world.clock.advance(days=3)  # 7 March

    assert seal(world, date(2026, 3, 4)).prev_seal_hash == void.hash  # the chain runs in the order seals were made
    assert seal(world, date(2026, 3, 5)).id == void.id  # that day keeps its (void) seal
    assert seal(world, date(2026, 3, 6)).chains == 2
    assert verify_all(world).ok


def test_a_broken_seal_is_named_by_its_row_without_a_missing_seq(sealed: Ledger) -> None:
    first, _ = seals(sealed.world)
    tamper(sealed.world.app, "UPDATE ledger_seal SET chains = 9 WHERE id = :id", {"id": first.id})

    text = str(only_finding(verify_all(sealed.world)))

    assert text == f"seal {DAY_ONE}: seal #{first.id}: the seal row was edited or a seal removed"
    assert "None" not in text
