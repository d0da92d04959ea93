"""The one check every edge runs (workflow.core.payload): text, days, numbers and documents, each place named."""

from __future__ import annotations

from datetime import date

import pytest

from workflow.core.errors import ValidationFailed
from workflow.core.payload import MAX_DEPTH, document_problems, load_json, text_problem
from workflow.core.reference import parse_text


def test_nul_and_lone_surrogates_are_refused_and_everything_else_is_text() -> None:
    assert text_problem("白马镇\n第二行\t") is None
    assert "NUL" in (text_problem("白马\x00镇") or "")
    assert "surrogate" in (text_problem("白马\udcb0镇") or "")


def test_a_documents_bad_places_are_named_by_their_path() -> None:
    document = {"people": [{"code": "ok", "name": "a\x00b"}, {"\ud800": 1}], "n": 2**70, "ok": [1.5, None, True]}
    assert [place for place, _ in document_problems(document)] == ["people[0].name", "people[1]", "n"]


def test_json_is_refused_past_the_depth_before_it_is_parsed_and_digits_while_it_is() -> None:
    assert load_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(ValidationFailed) as deep:
        load_json("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "doc")
    assert deep.value.field == "doc"
    with pytest.raises(ValidationFailed) as digits:
        load_json('{"a": [1, ' + "9" * 5000 + "]}")
    assert digits.value.field == "a[1]"
    # Brackets inside strings are text, not nesting.
    assert load_json('{"a": "' + "[" * 500 + '"}') == {"a": "[" * 500}


@pytest.mark.parametrize(
    ("text", "fmt", "field"),
    [
        ('{"jurisdictions": ' + "[" * 500 + "]" * 500 + "}", "json", "doc"),
        ("jurisdictions: " + "[" * 500 + "]" * 500, "yaml", "doc"),
        ("patrol_quotas: [{level: township, count: " + "7" * 5000 + ", per: month}]", "yaml", "patrol_quotas[0].count"),
        ('jurisdictions: [{code: "510000", name: "四川\\0省", level: province}]', "yaml", "jurisdictions[0].name"),
        ('{"people": [{"code": "a", "name": "\\ud800", "role": "chief"}]}', "json", "people[0].name"),
    ],
    ids=["json-deep", "yaml-deep", "yaml-digits", "yaml-nul", "json-surrogate"],
)
def test_a_hostile_reference_document_is_refused_naming_the_place(text: str, fmt: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_text(text, fmt, "doc")  # type: ignore[arg-type]
    assert refused.value.field == field


def test_a_day_in_a_payload_outside_1970_to_2100_is_refused() -> None:
    from states.machine import TABLE
    from workflow.core.payload import validate

    start = TABLE[("ban.accepted", "start_rectify")]
    with pytest.raises(ValidationFailed) as refused:
        validate(start, {"plan": "封堵", "deadline": date(1, 1, 1)})
    assert refused.value.field == "deadline"
    assert validate(start, {"plan": "封堵", "deadline": "2100-12-31"})["deadline"] == "2100-12-31"
