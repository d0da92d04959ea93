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
