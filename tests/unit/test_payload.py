"""workflow.core.payload.validate: a trigger's payload checked against the fields the chart declares."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from states.chart import INITIAL
from states.machine import TABLE
from workflow.core.clock import SHANGHAI
from workflow.core.errors import ValidationFailed
from workflow.core.payload import validate

FLAG = TABLE[(INITIAL, "flag")]  # no fields
ACCEPT = TABLE[("ban.handed_off", "accept")]  # note (optional)
DISPUTE = TABLE[("ban.handed_off", "dispute")]  # reason
HAND_OFF = TABLE[("xun.reported", "hand_off")]  # receiving (jurisdiction), note
CONVENE = TABLE[("ban.negotiating", "convene")]  # level (choice), agenda, meeting_date (optional date)
START = TABLE[("ban.accepted", "start_rectify")]  # plan, deadline (date)
PROGRESS = TABLE[("ban.rectifying", "progress")]  # note, percent (optional)
PASS = TABLE[("du.verifying", "pass_check")]  # checklist (optional items), note
REBOUND = TABLE[("du.revisiting", "rebound")]  # finding, deadline (optional date)


def errors_of(transition: Any, payload: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    with pytest.raises(ValidationFailed) as caught:
        validate(transition, payload)
    return caught.value.errors


# -- unknown fields --------------------------------------------------------------------------------------------------


def test_an_unknown_field_is_named_with_the_fields_the_trigger_takes() -> None:
    assert errors_of(ACCEPT, {"notes": "已受理"}) == (("notes", "unknown field for 'accept'; it takes note"),)
    assert errors_of(CONVENE, {"level": "city", "agenda": "议题", "venue": "白马镇"}) == (
        ("venue", "unknown field for 'convene'; it takes level, agenda, meeting_date, meeting"),
    )


def test_a_trigger_without_fields_takes_an_empty_payload_and_refuses_any_field() -> None:
    assert validate(FLAG, {}) == {}
    assert errors_of(FLAG, {"note": "x"}) == (("note", "unknown field for 'flag'; it takes no fields"),)


def test_an_unknown_field_is_refused_even_when_its_value_is_empty() -> None:
    assert errors_of(ACCEPT, {"remark": None}) == (("remark", "unknown field for 'accept'; it takes note"),)


# -- text --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "   ", "\t\n　"], ids=["none", "empty", "spaces", "whitespace"])
def test_a_required_text_that_is_missing_or_blank_is_required(value: str | None) -> None:
    assert errors_of(DISPUTE, {"reason": value}) == (("reason", "is required"),)


def test_a_required_text_left_out_is_required() -> None:
    assert errors_of(DISPUTE, {}) == (("reason", "is required"),)


def test_text_is_stripped() -> None:
    assert validate(DISPUTE, {"reason": "  排口在太安镇一侧 \n"}) == {"reason": "排口在太安镇一侧"}
    assert validate(HAND_OFF, {"receiving": " 510904101 "}) == {"receiving": "510904101"}


@pytest.mark.parametrize("value", [42, ["理由"], {"text": "理由"}, True])
def test_text_must_be_a_string(value: object) -> None:
    assert errors_of(DISPUTE, {"reason": value}) == (("reason", "must be text"),)


def test_text_may_be_as_long_as_the_limit_after_stripping_but_no_longer() -> None:
    assert validate(DISPUTE, {"reason": " " + "长" * 2000 + " "}) == {"reason": "长" * 2000}
    assert errors_of(DISPUTE, {"reason": "长" * 2001}) == (("reason", "is longer than 2000 characters"),)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_an_optional_field_left_blank_is_simply_absent(value: str | None) -> None:
    assert validate(ACCEPT, {"note": value}) == {}
    assert validate(ACCEPT, {}) == {}


# -- dates -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["2026-03-20", " 2026-03-20 ", date(2026, 3, 20)], ids=["iso-text", "padded-text", "date"]
)
def test_a_date_is_kept_as_iso_text(value: object) -> None:
    assert validate(START, {"plan": "封堵", "deadline": value}) == {"plan": "封堵", "deadline": "2026-03-20"}


@pytest.mark.parametrize("value", ["2026-02-30", "2026/03/20", "20-03-2026", "下周五", "2026-03-20T10:00", 3.5])
def test_a_value_that_is_not_a_calendar_date_is_refused(value: object) -> None:
    assert errors_of(START, {"plan": "封堵", "deadline": value}) == (
        ("deadline", f"{value!r} is not a date (YYYY-MM-DD)"),
    )


def test_a_bad_optional_date_is_refused_too() -> None:
    assert errors_of(REBOUND, {"finding": "反弹", "deadline": "soon"}) == (
        ("deadline", "'soon' is not a date (YYYY-MM-DD)"),
    )
    assert validate(REBOUND, {"finding": "反弹"}) == {"finding": "反弹"}


def test_a_datetime_given_for_a_date_field_becomes_a_calendar_date() -> None:
    # A datetime is a date too; it must come out as YYYY-MM-DD, which the guards and effects parse
    # with date.fromisoformat. Today it comes out as '2026-03-20T18:00:00+08:00'.
    deadline = datetime(2026, 3, 20, 18, 0, tzinfo=SHANGHAI)
    clean = validate(START, {"plan": "封堵", "deadline": deadline})
    assert date.fromisoformat(clean["deadline"]) == date(2026, 3, 20)
    meeting = validate(CONVENE, {"level": "city", "agenda": "议题", "meeting_date": deadline})
    assert meeting["meeting_date"] == "2026-03-20"


# -- choices -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["township", "district", "city", "province"])
def test_each_meeting_level_is_a_valid_choice(level: str) -> None:
    assert validate(CONVENE, {"level": level, "agenda": "议题"}) == {"level": level, "agenda": "议题"}


@pytest.mark.parametrize("level", ["county", "City", "区级", 2])
def test_a_value_outside_the_choices_is_refused_with_the_choices(level: object) -> None:
    assert errors_of(CONVENE, {"level": level, "agenda": "议题"}) == (
        ("level", f"{level!r} is not one of township, district, city, province"),
    )


# -- checklist items ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "site_check,photos",
        " photos , site_check ,",
        ["site_check", "photos", "photos"],
        (" photos", "site_check ", ""),
    ],
    ids=["text", "padded-text", "list-with-duplicates", "tuple-with-blank"],
)
def test_items_given_as_text_or_a_list_come_out_as_a_sorted_unique_list(value: object) -> None:
    assert validate(PASS, {"checklist": value}) == {"checklist": ["photos", "site_check"]}


@pytest.mark.parametrize("value", [[1, 2], ["photos", None], {"photos": True}, 7])
def test_items_that_are_not_a_list_of_codes_are_refused(value: object) -> None:
    assert errors_of(PASS, {"checklist": value}) == (("checklist", "must be a list of item codes"),)


def test_items_are_optional() -> None:
    assert validate(PASS, {"checklist": "", "note": "签认"}) == {"note": "签认"}
    assert validate(PASS, {}) == {}


# -- percent -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "number"), [(0, 0), (100, 100), ("50%", 50), (" 75 ", 75), ("100%", 100)])
def test_a_percent_is_a_whole_number_from_0_to_100(value: object, number: int) -> None:
    assert validate(PROGRESS, {"note": "进展", "percent": value}) == {"note": "进展", "percent": number}


@pytest.mark.parametrize("value", [101, -1, "150%"])
def test_a_percent_out_of_range_is_refused(value: object) -> None:
    assert errors_of(PROGRESS, {"note": "进展", "percent": value}) == (("percent", "must be between 0 and 100"),)


@pytest.mark.parametrize("value", ["half", 12.5, "50.0%", True])
def test_a_percent_that_is_not_a_whole_number_is_refused(value: object) -> None:
    assert errors_of(PROGRESS, {"note": "进展", "percent": value}) == (("percent", f"{value!r} is not a whole number"),)


@given(st.integers())
def test_any_integer_is_accepted_as_a_percent_exactly_when_it_lies_in_range(number: int) -> None:
    if 0 <= number <= 100:
        assert validate(PROGRESS, {"note": "n", "percent": number})["percent"] == number
    else:
        assert errors_of(PROGRESS, {"note": "n", "percent": number}) == (("percent", "must be between 0 and 100"),)


# -- everything at once ------------------------------------------------------------------------------------------------


def test_every_error_is_reported_together_unknown_fields_first() -> None:
    payload = {"meeting_date": "someday", "venue": "白马镇", "level": "county", "agenda": "  "}
    with pytest.raises(ValidationFailed) as caught:
        validate(CONVENE, payload)
    error = caught.value
    assert error.errors == (
        ("venue", "unknown field for 'convene'; it takes level, agenda, meeting_date, meeting"),
        ("level", "'county' is not one of township, district, city, province"),
        ("agenda", "is required"),
        ("meeting_date", "'someday' is not a date (YYYY-MM-DD)"),
    )
    assert (error.field, error.reason) == error.errors[0]
    assert str(error) == "; ".join(f"{f}: {r}" for f, r in error.errors)


def test_a_good_payload_is_normalised_and_the_input_is_left_alone() -> None:
    payload = {"note": " 完成一半 ", "percent": "50%"}
    assert validate(PROGRESS, payload) == {"note": "完成一半", "percent": 50}
    assert payload == {"note": " 完成一半 ", "percent": "50%"}


# Any text but what no field takes (workflow.core.text.text_problem): a NUL, a lone surrogate (category Cs).
@given(
    st.dictionaries(
        st.sampled_from(["checklist", "note"]),
        st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=30),
    )
)
def test_validating_a_normalised_payload_again_changes_nothing(payload: dict[str, str]) -> None:
    clean = validate(PASS, payload)
    assert validate(PASS, clean) == clean
