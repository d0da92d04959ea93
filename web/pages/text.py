"""The pages' words, in Simplified Chinese and English, as the page templates say them.

States, triggers and fields take their labels from the chart, categories and
checklist items from the policy, refusals from their reasons, and the rest
from the one catalogue, ``states.words`` (the pages' own entries are in its
``pages`` module). A missing key is a bug, so lookups raise rather than show
the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from states.chart import CHART, CHOICE_LABELS, PARTY_LABELS, PARTY_LABELS_EN, Field, Party
from states.policy import CATEGORIES
from states.words import LANGUAGES, WORDS, item_label, said_value, word
from workflow.core.errors import (
    Conflict,
    CsrfRefused,
    InvalidTransition,
    NotFound,
    NotPermitted,
    Reason,
    Throttled,
    ValidationFailed,
    WorkflowError,
)


class Text:
    """The pages' words in one language: ``t("key", name=...)``."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else LANGUAGES[0]
        self._index = LANGUAGES.index(self.lang)

    def __call__(self, key: str, **values: object) -> str:
        return word(key, not self.zh, **values)

    @property
    def zh(self) -> bool:
        """Whether this is the Chinese text."""
        return self._index == 0

    # -- the chart's and the policy's words -------------------------------------------------------

    def state(self, name: str) -> str:
        """A state's label."""
        found = CHART.state(name)
        return found.label_zh if self.zh else found.label_en

    def trigger(self, name: str) -> str:
        """A trigger's label, as a heading or a button says it."""
        label = CHART.trigger_label(name, en=not self.zh)
        return label if self.zh else label[:1].upper() + label[1:]

    def field(self, field: Field) -> str:
        """A form field's label (its name only if the chart gave it none)."""
        return (field.label_zh if self.zh else field.label_en) or field.name

    def fields(self, trigger: str) -> dict[str, str]:
        """A trigger's payload fields and their labels, in declaration order."""
        return CHART.field_labels(trigger, en=not self.zh)

    def category(self, code: str) -> str:
        """A category's label; a code the policy no longer knows is said as stored."""
        found = CATEGORIES.get(code)
        if found is None:
            return code
        return found.label_zh if self.zh else found.label_en

    def item(self, code: str) -> str:
        """A checklist item's label."""
        return item_label(code, en=not self.zh)

    def choice(self, code: str) -> str:
        """The label of a choice a CHOICE field offers (a meeting level, a report kind)."""
        return CHOICE_LABELS[code][self._index]

    def period(self, text: str) -> str:
        """A period as the figures name it (2026, 2026-03, 2026-01 – 2026-11), its quarters said in words."""
        return _QUARTER.sub(lambda m: self("quarter", year=m.group(1), q=m.group(2)), text)

    def party(self, value: str) -> str:
        """How someone stands to an issue (reporting side, coordinator...)."""
        return (PARTY_LABELS if self.zh else PARTY_LABELS_EN)[Party(value)]

    def value(self, trigger: str, name: str, value: Any, names: Mapping[str, str]) -> str:
        """A payload value as a reader says it: items and choices by their labels, jurisdictions by name."""
        return said_value(trigger, name, value, en=not self.zh, names=names)

    # -- refusals ----------------------------------------------------------------------------------

    def reason(self, reason: str) -> str:
        """A refusal's reason in this language (one given in a single language is said as given)."""
        if isinstance(reason, Reason):
            return reason.zh if self.zh else reason.en
        return reason

    def errors(self, exc: ValidationFailed) -> dict[str, str]:
        """The refused fields and why, in this language, for the form to show beside each field."""
        out: dict[str, str] = {}
        for name, why in exc.errors:
            said = self.reason(why)
            # Two reasons on one field are both said.
            out[name] = f"{out[name]}{self('list_sep')}{said}" if name in out else said
        return out

    def refusal(self, exc: WorkflowError) -> str:
        """A refusal said as a sentence in this language, for a page that has no form field to show it by."""
        if isinstance(exc, ValidationFailed):
            return self("list_sep").join(
                f"{label}{self('label_sep')}{self.reason(why)}"
                if (label := self._field_label(name))
                else self.reason(why)
                for name, why in exc.errors
            )
        if isinstance(exc, Throttled):
            return self("login_throttled", n=max(1, -(-exc.retry_after // 60)))
        for kind, key in _REFUSAL_KEYS:
            if isinstance(exc, kind):
                return self(key)
        return self("refused")

    def field_name(self, name: str) -> str:
        """A refused field's name: its chart label, the page's word for it, else as the form named it."""
        return self._field_label(name) or name

    def _field_label(self, name: str) -> str | None:
        for transition in CHART.transitions:
            for field in transition.fields:
                if field.name == name:
                    return self.field(field)
        return self(name) if name in WORDS else None


_QUARTER = re.compile(r"\b(\d{4})-Q([1-4])\b")
# The words for a refusal that names no field, by its kind (the first that fits).
_REFUSAL_KEYS: tuple[tuple[type[WorkflowError], str], ...] = (
    (NotFound, "not_found"),
    (NotPermitted, "forbidden"),
    (CsrfRefused, "stale_form"),
    (Conflict, "stale"),
    (InvalidTransition, "stale"),
)
