"""Every refusal the workflow words by a reason key has its words in both languages, with the values it names:
a page says the reason in its reader's language, and a missing key or value would be a failure instead."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from states.reasons import REASONS
from states.words import LANGUAGES
from web.pages.text import Text
from workflow.core.errors import Reason, ValidationFailed

ROOT = Path(__file__).resolve().parents[2]


def reasons_raised() -> list[tuple[str, str, frozenset[str]]]:
    """(where, key, the names of its values) for each ``Reason("key", name=...)`` in the workflow and the web."""
    found = []
    for package in ("workflow", "web"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                func = node.func if isinstance(node, ast.Call) else None
                named = getattr(func, "id", None) == "Reason" or (
                    isinstance(func, ast.Attribute) and getattr(func.value, "id", None) == "Reason"
                )
                if isinstance(node, ast.Call) and named:
                    key = node.args[0]
                    assert isinstance(key, ast.Constant), f"{path.name}:{node.lineno}: the key must be a literal"
                    names = frozenset(k.arg for k in node.keywords if k.arg)
                    found.append((f"{path.name}:{node.lineno}", str(key.value), names))
    return found


def test_the_guards_and_the_payload_checks_word_their_refusals() -> None:
    places = {where.split(":")[0] for where, _, _ in reasons_raised()}
    assert {"rules.py", "payload.py"} <= places


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_reason_raised_has_words_that_take_its_values(lang: str) -> None:
    t = Text(lang)
    for where, key, names in reasons_raised():
        assert key in REASONS, where
        said = t.reason(Reason(key, **dict.fromkeys(names, ("「值」", "value"))))
        assert said, where
        assert "{" not in said, (where, said)


def test_a_page_says_a_worded_reason_in_its_language_and_any_other_as_given() -> None:
    refused = ValidationFailed.of(
        [
            ("deadline", Reason("deadline_past", deadline="2026-01-05", today="2026-03-02")),
            ("deadline", "必须在 1970-01-01 与 2100-12-31 之间 (must be from 1970-01-01 to 2100-12-31)"),
        ]
    )
    assert Text("zh-CN").errors(refused) == {
        "deadline": "2026-01-05 已过（今天是 2026-03-02）；必须在 1970-01-01 与 2100-12-31 之间 "
        "(must be from 1970-01-01 to 2100-12-31)"
    }
    assert Text("en").reason(refused.errors[0][1]) == "2026-01-05 is in the past (today is 2026-03-02)"
    # The API's words are the English ones, as they always were.
    assert str(refused) == (
        "deadline: 2026-01-05 is in the past (today is 2026-03-02); deadline: 必须在 1970-01-01 与 2100-12-31 之间 "
        "(must be from 1970-01-01 to 2100-12-31)"
    )
