"""The one HierarchicalMachine built from the chart, and the table compiled from it.

The machine is the authority on what a trigger does from a state; the engine
fires through ``TABLE``, a dict compiled by asking the machine about every
(leaf state, trigger) pair, because a dict lookup costs a microsecond and
``trigger_event`` about sixty. ``tests/unit/test_machine.py`` checks the two agree.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from transitions import MachineError
from transitions.extensions.nesting import HierarchicalMachine, NestedState

from states.chart import CHART, INITIAL, PHASES, SEPARATOR, TRANSITIONS, Transition


class _State(NestedState):
    # The default separator "_" would forbid names like "handed_off".
    separator = SEPARATOR


class _Machine(HierarchicalMachine):
    state_cls = _State


def _state_tree() -> list[str | dict[str, Any]]:
    tree: list[str | dict[str, Any]] = [INITIAL]
    tree += [{"name": p.name, "children": list(p.children)} for p in PHASES]
    tree += [s.name for s in CHART.states if SEPARATOR not in s.name and s.name != INITIAL]
    return tree


def build_machine() -> HierarchicalMachine:
    """A fresh machine with no model; fire it with ``trigger_event(obj, name)``."""
    machine = _Machine(model=None, states=_state_tree(), initial=INITIAL, auto_transitions=False)
    for t in TRANSITIONS:
        for source in t.sources:
            # An internal transition keeps the state: dest None in transitions.
            machine.add_transition(t.trigger, source, t.dest)
    return machine


@dataclass(slots=True)
class _Cursor:
    state: str


_machine = build_machine()
# trigger_event keeps a scope stack on the machine: one caller at a time.
_machine_lock = threading.Lock()


def fire(state: str, trigger: str) -> str:
    """The state ``trigger`` leads to from ``state``, asked of the machine itself.

    Raises ``transitions.MachineError`` when the machine refuses.
    """
    if trigger not in _machine.events:
        raise MachineError(f"unknown trigger {trigger!r}")
    cursor = _Cursor(state)
    with _machine_lock:
        _machine.trigger_event(cursor, trigger)
    return cursor.state


def leaf_states() -> list[str]:
    """Every state an issue's row can hold (no phase parents)."""
    return [s.name for s in CHART.states]


def _compile(transitions: Iterable[Transition]) -> dict[tuple[str, str], Transition]:
    table: dict[tuple[str, str], Transition] = {}
    for t in transitions:
        for source in t.sources:
            key = (source, t.trigger)
            if key in table:
                raise ValueError(f"two entries for trigger {t.trigger!r} from {source!r}")
            table[key] = t
    for (source, trigger), t in table.items():
        expected = source if t.dest is None else t.dest
        try:
            reached = fire(source, trigger)
        except MachineError as exc:  # pragma: no cover - a broken chart, caught at import
            raise ValueError(f"machine refuses {trigger!r} from {source!r}") from exc
        if reached != expected:  # pragma: no cover
            raise ValueError(f"{trigger!r} from {source!r}: machine reaches {reached!r}, chart says {expected!r}")
    return table


TABLE: dict[tuple[str, str], Transition] = _compile(TRANSITIONS)


def allowed_triggers(state: str) -> list[str]:
    """The triggers the chart allows from ``state``, in chart order."""
    return [name for name in CHART.trigger_names() if (state, name) in TABLE]
