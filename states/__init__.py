"""The statechart of a cross-border issue as data, and the machine built from it."""

from states.chart import CHART, INITIAL, Field, FieldKind, Party, Transition
from states.machine import TABLE, allowed_triggers, fire

__all__ = ["CHART", "INITIAL", "TABLE", "Field", "FieldKind", "Party", "Transition", "allowed_triggers", "fire"]
