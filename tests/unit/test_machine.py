"""The statechart as data, the HierarchicalMachine built from it and the TABLE compiled from both agree."""

from __future__ import annotations

import re

import pytest
from transitions import MachineError

from states.audience import AUDIENCE
from states.chart import (
    CHART,
    CLOSED_STATES,
    INITIAL,
    OPEN_STATES,
    PHASES,
    SEPARATOR,
    STATES,
    TRANSITIONS,
    TRIGGERS,
    Party,
    State,
    Transition,
    Trigger,
)
from states.machine import TABLE, _compile, allowed_triggers, fire, leaf_states
from states.policy import DEADLINES, PLANNED_STATES
from workflow.core.rules import EFFECTS, GUARDS

CJK = re.compile(r"[\u4e00-\u9fff]")
STATE_NAMES = [s.name for s in STATES]
TERMINAL = {s.name for s in STATES if s.terminal}
PAIRS = [(state, trigger) for state in leaf_states() for trigger in CHART.trigger_names()]


@pytest.mark.parametrize(("state", "trigger"), PAIRS, ids=[f"{s}-{t}" for s, t in PAIRS])
def test_the_table_and_the_machine_agree_on_every_state_and_trigger(state: str, trigger: str) -> None:
    entry = TABLE.get((state, trigger))
    if entry is None:
        with pytest.raises(MachineError):
            fire(state, trigger)
    else:
        assert fire(state, trigger) == (entry.dest or state)


def test_the_table_holds_exactly_one_entry_per_source_of_every_transition() -> None:
    expected = {(source, t.trigger): t for t in TRANSITIONS for source in t.sources}
    assert expected == TABLE
    assert len(TABLE) == sum(len(t.sources) for t in TRANSITIONS)


@pytest.mark.parametrize(
    ("state", "trigger"), [(s, t.trigger) for t in TRANSITIONS if t.dest is None for s in t.sources]
)
def test_an_internal_transition_keeps_the_state(state: str, trigger: str) -> None:
    assert fire(state, trigger) == state
    assert TABLE[(state, trigger)].dest is None


def test_a_nested_transition_crosses_phases_and_lands_on_the_leaf() -> None:
    assert fire("du.verifying", "fail_check") == "ban.rectifying"
    assert fire("du.revisiting", "rebound") == "ban.rectifying"
    assert fire("cha.confirmed", "dismiss") == "dismissed"


def test_the_machine_refuses_a_trigger_from_a_phase_parent() -> None:
    # Only leaves are rows' states; a bare phase name is not one of them.
    with pytest.raises(MachineError):
        fire("ban", "accept")


def test_the_compiler_refuses_two_entries_for_one_source_and_trigger() -> None:
    accept = TABLE[("ban.handed_off", "accept")]
    twin = Transition("accept", ("ban.handed_off",), "ban.negotiating", frozenset({Party.RECEIVING}))
    with pytest.raises(ValueError, match=r"two entries for trigger 'accept' from 'ban\.handed_off'"):
        _compile([accept, twin])


def test_leaf_states_are_the_chart_states_and_phase_children_are_among_them() -> None:
    assert leaf_states() == STATE_NAMES
    assert len(set(STATE_NAMES)) == len(STATE_NAMES)
    children = {f"{p.name}{SEPARATOR}{c}" for p in PHASES for c in p.children}
    nested = {s for s in STATE_NAMES if SEPARATOR in s}
    assert children == nested


def test_every_transition_names_known_states_and_triggers_and_at_least_one_party() -> None:
    trigger_names = set(CHART.trigger_names())
    for t in TRANSITIONS:
        assert t.trigger in trigger_names, t
        assert set(t.sources) <= set(STATE_NAMES), t
        assert t.dest is None or t.dest in STATE_NAMES, t
        assert t.parties, t


def test_every_declared_trigger_is_used_by_some_transition() -> None:
    assert {t.name for t in TRIGGERS} == {t.trigger for t in TRANSITIONS}
    assert len({t.name for t in TRIGGERS}) == len(TRIGGERS)


@pytest.mark.parametrize("transition", TRANSITIONS, ids=lambda t: f"{t.trigger}-from-{'|'.join(t.sources)}")
def test_every_guard_and_effect_the_chart_names_exists_in_the_rules(transition: Transition) -> None:
    assert set(transition.guards) <= set(GUARDS)
    assert set(transition.effects) <= set(EFFECTS)


def test_every_guard_and_effect_in_the_rules_is_named_by_the_chart() -> None:
    assert {g for t in TRANSITIONS for g in t.guards} == set(GUARDS)
    assert {e for t in TRANSITIONS for e in t.effects} == set(EFFECTS)


def test_every_trigger_has_an_audience_entry_and_no_other_entries_exist() -> None:
    assert set(AUDIENCE) == set(CHART.trigger_names())
    for trigger, audience in AUDIENCE.items():
        assert Party.SYSTEM not in audience, trigger
        assert Party.MEMBER not in audience, trigger


@pytest.mark.parametrize("trigger", TRIGGERS, ids=lambda t: t.name)
def test_every_trigger_has_a_chinese_label(trigger: Trigger) -> None:
    label = CHART.trigger_label(trigger.name)
    assert CJK.search(label), f"{trigger.name} has no Chinese label: {label!r}"
    assert trigger.label_en.strip()


@pytest.mark.parametrize("state", STATES, ids=lambda s: s.name)
def test_every_state_has_a_chinese_and_an_english_label(state: State) -> None:
    assert CJK.search(state.label_zh)
    assert state.label_en.strip()
    assert CHART.state(state.name) is state


def _reachable_from(start: str) -> set[str]:
    seen, frontier = {start}, [start]
    while frontier:
        state = frontier.pop()
        for (source, _), t in TABLE.items():
            if source == state and t.dest is not None and t.dest not in seen:
                seen.add(t.dest)
                frontier.append(t.dest)
    return seen


@pytest.mark.parametrize("state", [s for s in STATE_NAMES if s != INITIAL])
def test_every_state_other_than_new_is_reachable_from_new(state: str) -> None:
    assert state in _reachable_from(INITIAL)


@pytest.mark.parametrize("state", [s for s in STATE_NAMES if s not in TERMINAL])
def test_every_non_terminal_state_can_still_reach_a_terminal_state(state: str) -> None:
    assert _reachable_from(state) & TERMINAL, f"{state} is a dead end"


def test_nothing_leads_back_to_new() -> None:
    assert all(t.dest != INITIAL for t in TRANSITIONS)


@pytest.mark.parametrize("state", sorted(TERMINAL))
def test_a_terminal_state_is_never_left(state: str) -> None:
    # Only internal steps (the state stays, e.g. filing a report into the ledger) are recorded there.
    leaving = [t for t in TRANSITIONS if state in t.sources and t.dest is not None]
    assert leaving == []
    for trigger in allowed_triggers(state):
        assert fire(state, trigger) == state


def test_archived_dismissed_and_duplicate_are_the_terminal_states() -> None:
    assert {"archived", "dismissed", "duplicate"} == TERMINAL


def test_closed_states_are_entered_by_closing_and_left_only_by_a_rebound() -> None:
    # 销号 is one step; what follows it (the revisit, the archive) stays closed until a rebound reopens the work.
    for t in TRANSITIONS:
        if t.dest in CLOSED_STATES:
            assert t.trigger == "close" or set(t.sources) <= CLOSED_STATES, t
        if t.dest is not None and t.dest not in CLOSED_STATES and set(t.sources) & CLOSED_STATES:
            assert t.trigger == "rebound", t
            assert t.dest in OPEN_STATES, t
    # Every state is open, closed, or ended without a closure (terminal), and only one of these.
    ended = TERMINAL - CLOSED_STATES
    assert OPEN_STATES | CLOSED_STATES | ended == set(STATE_NAMES)
    assert not OPEN_STATES & CLOSED_STATES
    assert not OPEN_STATES & ended
    assert ended == {"dismissed", "duplicate"}


def test_allowed_triggers_lists_the_table_entries_in_chart_order() -> None:
    assert allowed_triggers(INITIAL) == ["flag", "report"]
    assert allowed_triggers("du.verifying")[:3] == ["pass_check", "fail_check", "close"]
    order = CHART.trigger_names()
    for state in STATE_NAMES:
        allowed = allowed_triggers(state)
        assert allowed == sorted(allowed, key=order.index)
        assert set(allowed) == {t for (s, t) in TABLE if s == state}


def test_every_deadline_is_for_a_non_terminal_state_and_waits_on_a_party() -> None:
    for state, deadline in DEADLINES.items():
        assert state in STATE_NAMES, state
        assert state not in TERMINAL, state
        assert deadline.waits_on in {p.value for p in Party}, state
        assert deadline.working_days > 0, state
        assert CJK.search(deadline.label_zh), state
    assert not (set(DEADLINES) & PLANNED_STATES)


def test_every_transition_into_a_planned_state_sets_the_plan_deadline() -> None:
    sets_deadline = {"set_plan", "set_deadline", "record_rebound"}
    for t in TRANSITIONS:
        if t.dest in PLANNED_STATES:
            assert sets_deadline & set(t.effects), t.trigger
            assert "deadline" in {f.name for f in t.fields}, t.trigger
