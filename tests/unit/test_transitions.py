"""Every transition of the chart, fired through the real services: what it writes, and what it refuses.

Helpers local to this file (shared fixtures live in tests/factories.py):
``issue_at`` walks a fresh issue to any state, off the happy path too;
``valid_payload`` is a payload each trigger accepts; ``STANDING`` is how each
person of the 琼江 compact stands to the usual issue (太安镇 reports, 白马镇 receives),
written out by hand as the oracle for permissions; ``Unchanged`` / ``assert_refused``
check that a refusal wrote nothing (``world.counts()`` and the issue's state/version/head).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

import pytest

from states.audience import AUDIENCE
from states.chart import CHART, INITIAL, TRANSITIONS, Party, Transition
from states.machine import TABLE, allowed_triggers, leaf_states
from states.policy import DEADLINES, PLANNED_STATES
from tests.factories import AUDITOR, CHECKLIST, COORDINATOR, RECEIVER, RECEIVING_CODE, REPORTER, World
from workflow.core.clock import SHANGHAI
from workflow.core.errors import InvalidTransition, NotPermitted, ValidationFailed, WorkflowError
from workflow.core.services import IssueDraft, StepResult, report_issue

# The final step of the allowed-path test fires at 01:00 on Friday in Shanghai,
# which is still Thursday in UTC: deadlines count from the Shanghai day.
FIRE_AT = datetime(2026, 3, 6, 1, 0, tzinfo=SHANGHAI)
FIRE_DAY = date(2026, 3, 6)

DRAFT = {"compact": "QJ", "title": "白马镇段排污口", "category": "domestic_sewage", "segment": "qj-baima"}

# Who stands for each party on the usual issue.
PARTY_ACTOR: dict[Party, str] = {
    Party.REPORTING: REPORTER,
    Party.RECEIVING: RECEIVER,
    Party.COORDINATOR: COORDINATOR,
    Party.AUDITOR: AUDITOR,
    Party.HIGHER_CHIEF: "sn-chief",
    Party.SYSTEM: "system",
    Party.MEMBER: REPORTER,
}
PREFERENCE = (
    Party.REPORTING,
    Party.RECEIVING,
    Party.COORDINATOR,
    Party.AUDITOR,
    Party.HIGHER_CHIEF,
    Party.SYSTEM,
    Party.MEMBER,
)

# How every person stands to the usual issue once it is handed to 白马镇 (510904101).
_M, _REP, _REC, _HC = Party.MEMBER, Party.REPORTING, Party.RECEIVING, Party.HIGHER_CHIEF
STANDING: dict[str, frozenset[Party]] = {
    "tn-chief": frozenset({_M, _REP}),  # 潼南区, above 太安镇
    "tn-office": frozenset({_M, _REP}),  # 潼南区河长办
    "tn-taian": frozenset({_M, _REP}),
    "tn-chonglong": frozenset({_M}),
    "tn-yuxi": frozenset({_M}),
    "tn-biekou": frozenset({_M}),
    "tl-chief": frozenset({_M}),
    "tl-office": frozenset({_M}),
    "tl-anju": frozenset({_M}),
    "sn-chief": frozenset({_M, _REC, _HC}),  # 遂宁市, above 白马镇
    "sn-office": frozenset({_M, _REC}),  # 安居区河长办, above 白马镇
    "sn-baima": frozenset({_M, _REC}),
    "sn-moxi": frozenset({_M}),
    "zy-chief": frozenset({_M}),
    "zy-office": frozenset({_M}),
    "zy-longtai": frozenset({_M}),
    "qj-coord": frozenset({Party.COORDINATOR}),
    "ngo-auditor": frozenset({Party.AUDITOR}),
    "system": frozenset({Party.SYSTEM}),
}
BEFORE_HAND_OFF = {
    "xun.reported",
    "kan.flagged",
    "cha.investigating",
    "cha.confirmed",
    "dismissed",
    "duplicate",
    INITIAL,
}


def standing(person: str, state: str) -> frozenset[Party]:
    """How ``person`` stands to the usual issue in ``state`` (the receiving side exists after hand-off)."""
    held = STANDING[person]
    return held - {_REC, _HC} if state in BEFORE_HAND_OFF else held


def valid_payload(world: World, trigger: str) -> dict[str, Any]:
    """A payload the trigger accepts, with its optional fields filled in where it has any."""
    deadline = world.deadline(10)
    payloads: dict[str, dict[str, Any]] = {
        "flag": {},
        "report": {"note": "巡河时发现"},
        "investigate": {"note": "派员核查"},
        "confirm": {"findings": "排口属实，持续排放"},
        "dismiss": {"reason": "经核查不属实"},
        "hand_off": {"receiving": RECEIVING_CODE, "note": "请白马镇受理"},
        "accept": {"note": "已受理"},
        "dispute": {"reason": "排口位于太安镇一侧"},
        "negotiate": {"reason": "整改责任需商定"},
        "agree": {"resolution": "由白马镇整改", "plan": "封堵排口", "deadline": deadline},
        "convene": {"level": "district", "agenda": "排口责任认定", "meeting_date": "2026-03-12"},
        "resolve": {"resolution": "会议议定由白马镇整改", "plan": "封堵排口", "deadline": deadline},
        "dispatch": {"order": "限期制定整改方案"},
        "start_rectify": {"plan": "封堵排口", "deadline": deadline},
        "progress": {"note": "完成一半", "percent": "50%"},
        "report_done": {"summary": "排口已封堵"},
        "request_verify": {"note": "请复核"},
        "pass_check": {"checklist": CHECKLIST, "note": "现场确认"},
        "fail_check": {"reason": "仍有渗漏", "deadline": deadline},
        "close": {"note": "同意销号"},
        "start_revisit": {"note": "三个月回头看"},
        "no_rebound": {"finding": "未反弹"},
        "rebound": {"finding": "排口重新出水", "deadline": deadline},
        "archive": {"note": "归档"},
        "file_report": {"kind": "followup", "sha256": "ab" * 32, "file": "reports/QJ/followup.pdf"},
        "add_evidence": {"sha256": "cd" * 32, "filename": "现场.jpg", "caption": "排口现场"},
        "reschedule": {"reason": "工作日历更新"},
        "mark_duplicate": {"of": spares(world)["original"], "reason": "与先前上报为同一排口"},
        "duplicate_linked": {"duplicate": spares(world)["duplicate"], "reason": "与先前上报为同一排口"},
    }
    return dict(payloads[trigger])


def spares(world: World) -> dict[str, str]:
    """Two issues beside the ones under test, made once per world before any refusal is checked: an open
    original to merge into, and a report ``world.fire`` marks merged into the issue that links it."""
    found: dict[str, str] | None = vars(world).get("_duplicate_spares")
    if found is None:
        found = {"original": world.report(), "duplicate": world.report()}
        vars(world)["_duplicate_spares"] = found
    return found


# state -> (the state before it, the steps from there), each step (trigger, who).
ROUTE: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "cha.investigating": ("xun.reported", (("investigate", REPORTER),)),
    "cha.confirmed": ("cha.investigating", (("confirm", REPORTER),)),
    "dismissed": ("xun.reported", (("dismiss", REPORTER),)),
    "ban.handed_off": ("xun.reported", (("hand_off", REPORTER),)),
    "ban.accepted": ("ban.handed_off", (("accept", RECEIVER),)),
    "ban.negotiating": ("ban.handed_off", (("dispute", RECEIVER),)),
    "ban.joint_meeting": ("ban.negotiating", (("convene", COORDINATOR),)),
    "ban.dispatched": ("ban.handed_off", (("dispatch", COORDINATOR),)),
    "ban.rectifying": ("ban.accepted", (("start_rectify", RECEIVER),)),
    "du.rectified": ("ban.rectifying", (("report_done", RECEIVER),)),
    "du.verifying": ("du.rectified", (("request_verify", REPORTER),)),
    "du.closed": ("du.verifying", (("pass_check", RECEIVER), ("pass_check", REPORTER), ("close", REPORTER))),
    "du.revisiting": ("du.closed", (("start_revisit", AUDITOR),)),
    "archived": ("du.closed", (("start_revisit", AUDITOR), ("no_rebound", AUDITOR), ("archive", COORDINATOR))),
    "duplicate": ("xun.reported", (("mark_duplicate", REPORTER),)),
}

# What must already have happened in the source state for a valid firing to pass its guards.
PRECONDITION: dict[str, tuple[tuple[str, str], ...]] = {
    "close": (("pass_check", RECEIVER), ("pass_check", REPORTER)),
    "archive": (("start_revisit", AUDITOR), ("no_rebound", AUDITOR)),
}


def _steps_to(state: str) -> list[tuple[str, str]]:
    if state == "xun.reported":
        return []
    before, steps = ROUTE[state]
    return [*_steps_to(before), *steps]


def report_as(world: World, person: str, flag: bool = False, **draft: Any) -> StepResult:
    """Report (or flag) a new issue as ``person``, with the usual draft changed by ``draft``."""
    return report_issue(world.app.uow(), world.actor(person), IssueDraft(**{**DRAFT, **draft}), flag=flag)


def issue_at(world: World, state: str, ready_for: str | None = None) -> str:
    """A fresh issue walked to ``state``, and past the guards of ``ready_for`` if given; returns its code."""
    spares(world)
    if state == "kan.flagged":
        code = report_as(world, REPORTER, flag=True).issue_code
    else:
        code = world.report()
        for trigger, who in _steps_to(state):
            world.fire(code, trigger, who, **valid_payload(world, trigger))
    for trigger, who in PRECONDITION.get(ready_for or "", ()):
        world.fire(code, trigger, who, **valid_payload(world, trigger))
    assert world.issue(code).state == state
    return code


def permitted_actor(transition: Transition) -> str:
    """The usual person who may fire ``transition``."""
    return PARTY_ACTOR[next(p for p in PREFERENCE if p in transition.parties)]


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=SHANGHAI)


def recipients(world: World, code: str, event_id: int) -> set[str]:
    by_id = {actor.id: person for person, actor in world.people.items()}
    return {by_id[row.recipient_id] for row in world.outbox(code) if row.event_id == event_id}


def expected_recipients(trigger: str, actor: str, handed_off: bool) -> set[str]:
    person = {Party.REPORTING: REPORTER, Party.COORDINATOR: COORDINATOR, Party.AUDITOR: AUDITOR}
    if handed_off:
        person[Party.RECEIVING] = RECEIVER
    return {person[p] for p in AUDIENCE[trigger] if p in person} - {actor}


class Unchanged:
    """The database as it stood: every refusal checked through ``refused`` must leave it exactly so."""

    def __init__(self, world: World, code: str | None = None) -> None:
        self.world, self.code = world, code
        self.counts = world.counts()
        self.issue = self._issue()

    def _issue(self) -> tuple[str, int, str] | None:
        if self.code is None:
            return None
        row = self.world.issue(self.code)
        return row.state, row.version, row.ledger_head

    def refused(self, error: type[WorkflowError], call: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """``call(*args, **kwargs)`` raises ``error``; every table, and the issue, are as they were."""
        with pytest.raises(error) as caught:
            call(*args, **kwargs)
        assert self.world.counts() == self.counts
        assert self._issue() == self.issue
        return caught.value


def assert_refused(
    world: World, code: str | None, error: type[WorkflowError], call: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Any:
    """``call(*args, **kwargs)`` raises ``error`` and leaves every table, and the issue, exactly as they were."""
    return Unchanged(world, code).refused(error, call, *args, **kwargs)


def outsiders(transition: Transition, source: str) -> list[str]:
    """One person for each way of standing to the issue that holds none of the transition's parties."""
    found: dict[frozenset[Party], str] = {}
    for person in STANDING:
        held = standing(person, source)
        if not held & transition.parties:
            found.setdefault(held, person)
    return list(found.values())


ENTRIES = [(t, source) for t in TRANSITIONS for source in t.sources]
SOURCES = [s for s in leaf_states() if any(s in t.sources for t in TRANSITIONS)]


# -- the allowed path, on every dialect ---------------------------------------------------------------------------


def _expected_due(
    world: World, transition: Transition, payload: dict[str, Any], due_before: datetime | None
) -> datetime | None:
    if transition.dest is None:
        return due_before
    if transition.dest in PLANNED_STATES:
        return end_of_day(date.fromisoformat(payload["deadline"]))
    policy = DEADLINES.get(transition.dest)
    if policy is None:
        return None
    return end_of_day(world.app.calendar.add_working_days(FIRE_DAY, policy.working_days))


@pytest.mark.parametrize("source", SOURCES)
def test_every_transition_from_a_state_fired_by_a_permitted_actor_moves_the_issue_and_records_everything(
    world: World, subtests: pytest.Subtests, source: str
) -> None:
    # One world per source state and dialect, a fresh issue per entry: a world per entry costs too much.
    for transition in (t for t, s in ENTRIES if s == source):
        with subtests.test(trigger=transition.trigger):
            _assert_allowed(world, transition, source)


def _assert_allowed(world: World, transition: Transition, source: str) -> None:
    trigger, actor = transition.trigger, permitted_actor(transition)
    if source == INITIAL:
        world.clock.set(FIRE_AT)
        result = report_as(world, actor, flag=trigger == "flag")
        code, payload = result.issue_code, {}
        before_version, before_due = 0, None
    else:
        code = issue_at(world, source, ready_for=trigger)
        before = world.issue(code)
        before_version, before_due = before.version, before.due_at
        world.clock.set(FIRE_AT)
        payload = valid_payload(world, trigger)
        result = world.fire(code, trigger, actor, expected_version=before_version, **payload)

    dest = transition.dest or source
    issue = world.issue(code)
    assert (issue.state, issue.version) == (dest, before_version + 1)
    assert (result.from_state, result.state, result.version) == (source, dest, before_version + 1)

    event = world.events(code)[-1]
    assert (event.seq, event.trigger, event.from_state, event.to_state) == (issue.version, trigger, source, dest)
    assert event.actor_code == actor
    assert event.id == result.event_id
    assert set(event.parties.split(",")) == {p.value for p in standing(actor, source)}
    assert issue.ledger_head == event.hash

    due = _expected_due(world, transition, payload, before_due)
    assert issue.due_at == due
    assert result.due_at == due

    told = recipients(world, code, result.event_id)
    assert told == expected_recipients(trigger, actor, handed_off=issue.receiving_jurisdiction_id is not None)
    assert actor not in told
    assert result.notified == len(told)


def test_the_deadline_of_a_waiting_state_skips_the_weekend(world: World) -> None:
    # Fired on Friday 6 March 2026 (Shanghai): two working days on is Tuesday the 10th, not Sunday the 8th.
    world.clock.set(FIRE_AT)
    code = world.report()
    assert world.issue(code).due_at == datetime(2026, 3, 10, 23, 59, 59, tzinfo=SHANGHAI)
    world.fire(code, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    assert world.issue(code).due_at == datetime(2026, 3, 11, 23, 59, 59, tzinfo=SHANGHAI)


def test_every_party_a_transition_names_can_be_held_in_one_of_its_sources() -> None:
    # A flagged point, say, has no receiving side yet: a party no one can hold in any source names no one.
    for transition in TRANSITIONS:
        for party in transition.parties:
            holders = [s for s in transition.sources if party in standing(PARTY_ACTOR[party], s)]
            assert holders, f"{transition.trigger}: no one can be {party.value} in {', '.join(transition.sources)}"


def test_every_party_a_transition_names_may_fire_it(sqlite_world: World, subtests: pytest.Subtests) -> None:
    world = sqlite_world
    for transition, source in ENTRIES:
        for party in sorted(p for p in transition.parties if p in standing(PARTY_ACTOR[p], source)):
            with subtests.test(trigger=transition.trigger, source=source, party=party.value):
                actor = PARTY_ACTOR[party]
                if source == INITIAL:
                    result = report_as(world, actor, flag=transition.trigger == "flag")
                else:
                    code = issue_at(world, source, ready_for=transition.trigger)
                    result = world.fire(code, transition.trigger, actor, **valid_payload(world, transition.trigger))
                assert result.state == (transition.dest or source)


# -- the refusals, on SQLite ----------------------------------------------------------------------------------------


def _wrong_state(transition: Transition) -> str | None:
    """A stored state the transition does not leave; None when it leaves every one (only 'new' is refused)."""
    # Not a source of this trigger's other entries either (convene and mark_duplicate have two).
    leaves = {s for t in TRANSITIONS if t.trigger == transition.trigger for s in t.sources}
    return next((s for s in ("xun.reported", "kan.flagged", "ban.handed_off") if s not in leaves), None)


def test_every_transition_is_refused_to_outsiders_from_other_states_and_without_its_fields_leaving_no_trace(
    sqlite_world: World, subtests: pytest.Subtests
) -> None:
    # One world, fresh issues per entry: a refusal writes nothing, so the entries cannot disturb each other.
    for transition, source in ENTRIES:
        with subtests.test(trigger=transition.trigger, source=source):
            _assert_refusals(sqlite_world, transition, source)


def _assert_refusals(world: World, transition: Transition, source: str) -> None:
    trigger, actor = transition.trigger, permitted_actor(transition)
    code = None if source == INITIAL else issue_at(world, source, ready_for=trigger)
    unchanged = Unchanged(world, code)

    # Someone of every standing that holds none of the transition's parties.
    people = outsiders(transition, source)
    assert people
    for person in people:
        if code is None:
            error = unchanged.refused(NotPermitted, report_as, world, person, trigger == "flag")
            assert error.held == ()
        else:
            payload = valid_payload(world, trigger)
            error = unchanged.refused(NotPermitted, world.fire, code, trigger, person, **payload)
            assert set(error.held) == standing(person, source), person
        assert error.actor == person
        assert set(error.required) == transition.parties

    if code is None:
        # A new issue's own fields are the draft's: a blank title is refused before anything is numbered.
        error = unchanged.refused(ValidationFailed, report_as, world, actor, trigger == "flag", title="  ")
        assert error.errors == (("title", "is required"),)
    else:
        # Each required field left out, one at a time.
        for field in (f for f in transition.fields if f.required):
            payload = valid_payload(world, trigger)
            del payload[field.name]
            error = unchanged.refused(ValidationFailed, world.fire, code, trigger, actor, **payload)
            assert error.errors == ((field.name, "is required"),)
        # A field the trigger does not take.
        payload = {**valid_payload(world, trigger), "remarks": "多余字段"}
        error = unchanged.refused(ValidationFailed, world.fire, code, trigger, actor, **payload)
        assert error.field == "remarks"

    # A state the transition does not leave, with a permitted actor and a valid payload.
    wrong = _wrong_state(transition)
    if wrong is not None:
        other = issue_at(world, wrong)
        payload = valid_payload(world, trigger)
        error = assert_refused(world, other, InvalidTransition, world.fire, other, trigger, actor, **payload)
        assert (error.state, error.trigger) == (wrong, trigger)
        assert error.allowed == tuple(allowed_triggers(wrong))


def test_every_trigger_the_chart_does_not_allow_from_a_state_is_refused_there(
    sqlite_world: World, subtests: pytest.Subtests
) -> None:
    world = sqlite_world
    for state in leaf_states():
        if state == INITIAL:
            continue  # an issue is never stored in 'new': report_issue leaves it in the same transaction
        with subtests.test(state=state):
            code = issue_at(world, state)
            unchanged = Unchanged(world, code)
            refused = [t for t in CHART.trigger_names() if (state, t) not in TABLE]
            assert len(refused) == len(CHART.trigger_names()) - len(allowed_triggers(state))
            for trigger in refused:
                actor = permitted_actor(next(t for t in TRANSITIONS if t.trigger == trigger))
                payload = valid_payload(world, trigger)
                error = unchanged.refused(InvalidTransition, world.fire, code, trigger, actor, **payload)
                assert (error.state, error.trigger) == (state, trigger)
                assert error.allowed == tuple(allowed_triggers(state))
