"""The reports' words, in Simplified Chinese and English, as the report templates and builders say them.

The words themselves are in the one catalogue, ``states.words``, a module per document there (``common`` for
what every report shares); ``say`` and ``Words`` read it, and a missing key raises rather than printing the
key. Labels of states, triggers, fields, parties and categories come from the chart and the policy, in the
same two languages, through ``Words``.

Placeholders are ``str.format`` fields named for what fills them (``{compact}``); the values are data, and
the templates escape the sentence they end up in.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from states.chart import CHART, PARTY_LABELS, PARTY_LABELS_EN, Party
from states.policy import CATEGORIES, CHECKLIST_EN
from states.words import DEFAULT, LANGUAGES, REPORT_MODULES, WORDS, merged, word
from workflow.core.clock import SHANGHAI

__all__ = ["DEFAULT", "LANGUAGES", "OWN", "WORDS", "Words", "check_lang", "say"]

# The reports' own entries of the catalogue (what their checks hold to being used).
OWN = merged(*REPORT_MODULES)


def check_lang(lang: str) -> str:
    """``lang`` when the reports speak it; else a ValueError naming the field."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang: {lang!r} is not one of {', '.join(LANGUAGES)}")
    return lang


def say(key: str, lang: str = DEFAULT, /, **values: Any) -> str:
    """The words under ``key`` in ``lang``, with ``values`` filled in."""
    return word(key, check_lang(lang) == "en", **values)


class Words:
    """The catalogue in one language, as the templates call it: ``t("key", value=…)``, ``t.state(name)``…"""

    __slots__ = ("en", "lang")

    def __init__(self, lang: str = DEFAULT) -> None:
        self.lang = check_lang(lang)
        self.en = lang == "en"

    def __call__(self, key: str, /, **values: Any) -> str:
        return word(key, self.en, **values)  # the language was checked once, when these words were made

    def state(self, name: str) -> str:
        """A state's label."""
        found = CHART.state(name)
        return found.label_en if self.en else found.label_zh

    def trigger(self, name: str) -> str:
        """A trigger's label."""
        return CHART.trigger_label(name, en=self.en)

    def fields(self, trigger: str) -> dict[str, str]:
        """A trigger's payload fields and their labels."""
        return CHART.field_labels(trigger, en=self.en)

    def party(self, party: Party) -> str:
        """A party of the chart (the reporting side, the coordinator…)."""
        return (PARTY_LABELS_EN if self.en else PARTY_LABELS)[party]

    def category(self, code: str | None) -> str:
        """A problem category's name; the code itself for one the policy no longer lists."""
        found = CATEGORIES.get(code or "")
        if found is None:
            return code or "—"
        return found.label_en if self.en else found.label_zh

    def checklist_item(self, code: str, zh: str) -> str:
        """A verification checklist item (its Chinese wording is the category's)."""
        return CHECKLIST_EN.get(code, code) if self.en else zh

    def level(self, code: str | None) -> str:
        """A level of government or of a meeting: township, district, city, province."""
        return self(f"common.level.{code}") if code else "—"

    def month(self, period: str) -> str:
        """A month, "2026-03": 2026年3月 / March 2026."""
        year, month = (int(x) for x in period.split("-"))
        return self("common.month", year=year, month=month, month_name=_MONTHS[month - 1])

    def day(self, value: date | datetime | None) -> str:
        """A day in words: 2026年3月18日 / 18 March 2026 (a moment is taken in Beijing time)."""
        if value is None:
            return "—"
        if isinstance(value, datetime):
            value = value.astimezone(SHANGHAI).date()
        return self(
            "common.day", year=value.year, month=value.month, day=value.day, month_name=_MONTHS[value.month - 1]
        )

    def join(self, items: list[str] | tuple[str, ...]) -> str:
        """Items in a run: 甲、乙 / A, B."""
        return self("common.list_separator").join(items)


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
