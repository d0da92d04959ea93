"""Every word a reader sees that is not data, in Simplified Chinese and English: one catalogue.

The labels of states, triggers, fields, parties and choices are the chart's (``states.chart``), those of
categories and checklist items the policy's (``states.policy``); everything else is here, a module per
place that shows it: the pages (``pages``), the notices' names (``notices``), and each report (``common``
for what every report shares). Each entry is ``key: (Chinese, English)``; a key is in exactly one module,
and the pages, the messages and the reports read them all through ``WORDS``. A missing key raises rather
than showing the key.

Placeholders are ``str.format`` fields named for what fills them (``{compact}``); the values are data, and
whoever prints a sentence escapes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType, ModuleType
from typing import Any

from states.chart import CHART, CHOICE_LABELS, FieldKind
from states.policy import CATEGORIES, CHECKLIST_EN
from states.words import bulletin, common, documents, followup, ledger, meetings, notices, pages, revisit

LANGUAGES = ("zh-CN", "en")
DEFAULT = "zh-CN"

# The reports' modules, whose entries the reports' own checks go through.
REPORT_MODULES: tuple[ModuleType, ...] = (common, documents, followup, bulletin, revisit, meetings, ledger)


def merged(*modules: ModuleType) -> Mapping[str, tuple[str, str]]:
    """The entries of ``modules``, read-only; a ValueError for a key in two of them."""
    found: dict[str, tuple[str, str]] = {}
    for module in modules:
        for key, pair in module.WORDS.items():
            if key in found:
                raise ValueError(f"the word {key!r} is in two modules of states.words")
            found[key] = pair
    return MappingProxyType(found)


WORDS = merged(pages, notices, *REPORT_MODULES)


def word(key: str, en: bool, /, **values: Any) -> str:
    """The words under ``key``, in English or Chinese, with ``values`` filled in; a KeyError for a key the
    catalogue lacks (a bug: whoever names it is wrong), never the key itself. An entry that counts something
    names the count ``{n}``; where English says one of it otherwise ("1 working day", not "1 working days"),
    ``<key>.one`` holds that sentence and is said when ``n`` is 1 (Chinese has one form, kept in both)."""
    if en and values.get("n") == 1 and f"{key}.one" in WORDS:
        key = f"{key}.one"
    words = WORDS[key][en]
    return words.format(**values) if values else words


# A checklist item's Chinese label is its category's; the English one the policy's.
_ITEMS_ZH = {code: label for category in CATEGORIES.values() for code, label in category.checklist}


def item_label(code: str, *, en: bool) -> str:
    """A verification checklist item's label; the code as stored for one the policy no longer lists."""
    return (CHECKLIST_EN if en else _ITEMS_ZH).get(code, code)


def said_value(trigger: str, name: str, value: Any, *, en: bool, names: Mapping[str, str] | None = None) -> str:
    """A step's payload value as a reader says it, on a page or in a message: checklist items and choices by
    their labels, a percentage with its sign, a jurisdiction by its name when ``names`` (code to name) has it,
    anything else as stored (it is data)."""
    kind = CHART.field_kinds(trigger).get(name)
    separator = word("common.list_separator", en)
    if kind == FieldKind.ITEMS and isinstance(value, list):
        return separator.join(item_label(str(v), en=en) for v in value)
    if kind == FieldKind.CHOICE and value in CHOICE_LABELS:
        return CHOICE_LABELS[value][en]
    if kind == FieldKind.PERCENT:
        return f"{value}%"
    if isinstance(value, list):
        return separator.join(str(v) for v in value)
    if isinstance(value, str) and names:
        return names.get(value, value)
    return str(value)
