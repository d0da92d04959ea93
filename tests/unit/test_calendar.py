"""Working days in China: holidays, make-up workdays (调休), override files and the Monday–Friday fallback.

Expected dates are written out from the State Council's notices (as carried by chinese_calendar 1.11):
2026 Spring Festival: off Sun 15 – Mon 23 Feb; make-up working Saturdays 14 and 28 Feb.
2025 National Day + Mid-autumn: off Wed 1 – Wed 8 Oct; make-up working Sun 28 Sep and Sat 11 Oct.
2026 Mid-autumn: off Fri 25 – Sun 27 Sep; National Day: off Thu 1 – Wed 7 Oct; make-up Sun 20 Sep and Sat 10 Oct.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from riverchief.bootstrap import bootstrap
from riverchief.settings import Settings
from workflow.core.calendar import WorkCalendar, end_of_day, load_overrides, local_today
from workflow.core.clock import SHANGHAI, FrozenClock
from workflow.core.errors import ValidationFailed


@pytest.fixture
def cal() -> WorkCalendar:
    """The calendar with the package's data only."""
    return WorkCalendar()


# -- which days are working days ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 2, 13), True),  # Friday before the festival
        (date(2026, 2, 14), True),  # make-up Saturday
        (date(2026, 2, 15), False),
        (date(2026, 2, 17), False),  # 春节 itself, a Tuesday
        (date(2026, 2, 23), False),  # last day off, a Monday
        (date(2026, 2, 24), True),
        (date(2026, 2, 28), True),  # make-up Saturday
        (date(2026, 3, 1), False),  # an ordinary Sunday
        (date(2025, 9, 28), True),  # make-up Sunday
        (date(2025, 10, 8), False),  # a Wednesday inside the 2025 break
        (date(2025, 10, 11), True),  # make-up Saturday
        (date(2025, 10, 12), False),
        (date(2026, 9, 20), True),  # make-up Sunday
        (date(2026, 9, 25), False),  # Mid-autumn, a Friday
        (date(2026, 10, 7), False),
        (date(2026, 10, 8), True),
        (date(2026, 10, 10), True),  # make-up Saturday
    ],
)
def test_holidays_and_make_up_days_decide_whether_a_day_is_worked(cal: WorkCalendar, day: date, working: bool) -> None:
    assert cal.is_workday(day) is working


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        (date(2026, 2, 13), 1, date(2026, 2, 14)),  # the make-up Saturday counts
        (date(2026, 2, 13), 2, date(2026, 2, 24)),  # then nine days off
        (date(2026, 2, 14), 1, date(2026, 2, 24)),
        (date(2026, 2, 12), 5, date(2026, 2, 26)),
        (date(2026, 2, 18), 3, date(2026, 2, 26)),  # starting inside the break
        (date(2026, 2, 26), 2, date(2026, 2, 28)),  # the second make-up Saturday
        (date(2026, 2, 26), 3, date(2026, 3, 2)),
        (date(2025, 9, 26), 1, date(2025, 9, 28)),  # the make-up Sunday
        (date(2025, 9, 30), 1, date(2025, 10, 9)),
        (date(2025, 9, 30), 3, date(2025, 10, 11)),
        (date(2025, 9, 30), 4, date(2025, 10, 13)),
        (date(2026, 9, 18), 1, date(2026, 9, 20)),
        (date(2026, 9, 24), 1, date(2026, 9, 28)),  # over Mid-autumn
        (date(2026, 9, 30), 1, date(2026, 10, 8)),
        (date(2026, 9, 30), 3, date(2026, 10, 10)),
        (date(2026, 9, 30), 4, date(2026, 10, 12)),
        (date(2026, 3, 2), 0, date(2026, 3, 2)),  # nothing to add
        (date(2026, 3, 1), 0, date(2026, 3, 1)),  # not even when the start is a Sunday
    ],
)
def test_adding_working_days_skips_holidays_and_counts_make_up_days(
    cal: WorkCalendar, start: date, count: int, expected: date
) -> None:
    assert cal.add_working_days(start, count) == expected


def test_adding_a_negative_number_of_working_days_is_refused(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        cal.add_working_days(date(2026, 3, 2), -1)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2026, 2, 13), date(2026, 2, 28), 6),  # 14, 24, 25, 26, 27, 28
        (date(2026, 2, 14), date(2026, 2, 23), 0),
        (date(2025, 9, 30), date(2025, 10, 12), 3),  # 9, 10, 11
        (date(2026, 3, 2), date(2026, 3, 2), 0),
        (date(2026, 3, 2), date(2026, 2, 27), 0),  # an end before the start
    ],
)
def test_working_days_between_counts_after_the_start_up_to_and_including_the_end(
    cal: WorkCalendar, start: date, end: date, expected: int
) -> None:
    assert cal.working_days_between(start, end) == expected


# -- due_after -------------------------------------------------------------------------------------------------------


def test_due_after_is_the_last_second_of_the_nth_working_day_in_shanghai(cal: WorkCalendar) -> None:
    due = cal.due_after(datetime(2026, 2, 12, 10, 0, tzinfo=SHANGHAI), 3)
    assert due == datetime(2026, 2, 24, 23, 59, 59, tzinfo=SHANGHAI)  # 13, 14 (make-up), 24
    assert due.utcoffset() == timedelta(hours=8)
    assert due == datetime(2026, 2, 24, 15, 59, 59, tzinfo=UTC)


def test_due_after_counts_from_the_shanghai_day_not_the_utc_day(cal: WorkCalendar) -> None:
    # 16:30 UTC on Friday the 13th is already Saturday the 14th (a make-up day) in Shanghai.
    now = datetime(2026, 2, 13, 16, 30, tzinfo=UTC)
    assert cal.due_after(now, 1) == datetime(2026, 2, 24, 23, 59, 59, tzinfo=SHANGHAI)
    assert cal.due_after(now, 0) == datetime(2026, 2, 14, 23, 59, 59, tzinfo=SHANGHAI)


def test_end_of_day_and_local_today_are_in_shanghai() -> None:
    assert end_of_day(date(2026, 10, 1)).isoformat() == "2026-10-01T23:59:59+08:00"
    assert local_today(datetime(2026, 9, 30, 15, 59, 59, tzinfo=UTC)) == date(2026, 9, 30)
    assert local_today(datetime(2026, 9, 30, 16, 0, 0, tzinfo=UTC)) == date(2026, 10, 1)


# -- years the package does not know ---------------------------------------------------------------------------------


def test_an_unknown_year_falls_back_to_monday_to_friday_and_is_reported(
    cal: WorkCalendar, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="workflow.core.calendar"):
        assert cal.is_workday(date(2027, 1, 1)) is True  # a Friday: no holiday data, so a working day
        assert cal.is_workday(date(2027, 1, 2)) is False
        assert cal.add_working_days(date(2026, 12, 31), 2) == date(2027, 1, 4)
        assert cal.is_workday(date(2027, 10, 1)) is True
    assert cal.unknown_years([2001, 2003, 2004, 2025, 2026, 2027, 2028]) == [2027, 2028]  # holidays knows 2001-2003
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == ["no holiday data for 2027: counting Monday-Friday only"]


OVERRIDE_2027 = """
2027:
  holidays: [2027-01-01, 2027-02-05, 2027-02-08]   # a Friday and the Friday and Monday around a weekend
  workdays: [2027-01-30]                           # a make-up Saturday
"""


def test_an_override_file_for_an_unknown_year_takes_effect(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(OVERRIDE_2027, encoding="utf-8")
    days = load_overrides([path])
    assert days == {
        date(2027, 1, 1): False,
        date(2027, 2, 5): False,
        date(2027, 2, 8): False,
        date(2027, 1, 30): True,
    }
    cal = WorkCalendar(days)
    assert cal.is_workday(date(2027, 1, 1)) is False
    assert cal.is_workday(date(2027, 1, 30)) is True
    assert cal.is_workday(date(2027, 1, 29)) is True  # an ordinary Friday
    assert cal.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
    assert cal.add_working_days(date(2027, 2, 4), 1) == date(2027, 2, 9)
    assert cal.add_working_days(date(2027, 1, 29), 1) == date(2027, 1, 30)
    assert cal.unknown_years([2026, 2027, 2028]) == [2028]


def test_the_app_reads_the_override_file_named_in_its_settings(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(OVERRIDE_2027, encoding="utf-8")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'rc.db'}", data_dir=tmp_path, calendar_file=path)
    app = bootstrap(settings, clock=FrozenClock(datetime(2027, 2, 4, 9, 0, tzinfo=SHANGHAI)))
    try:
        assert app.calendar.due_after(app.clock.now(), 1) == datetime(2027, 2, 9, 23, 59, 59, tzinfo=SHANGHAI)
        assert app.calendar.unknown_years([2027]) == []
    finally:
        app.engine.dispose()


def test_an_override_wins_over_the_package_and_later_files_win_over_earlier_ones(tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("2026:\n  holidays: [2026-03-03, 2026-03-04]\n", encoding="utf-8")
    second.write_text("2026:\n  workdays: [2026-03-04]\n", encoding="utf-8")
    cal = WorkCalendar(load_overrides([first, tmp_path / "missing.yaml", second]))
    assert cal.is_workday(date(2026, 3, 3)) is False
    assert cal.is_workday(date(2026, 3, 4)) is True
    assert cal.add_working_days(date(2026, 3, 2), 2) == date(2026, 3, 5)


def test_an_empty_or_missing_override_file_changes_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing announced yet\n", encoding="utf-8")
    assert load_overrides([empty, tmp_path / "absent.yaml"]) == {}


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("2027:\n  holidays: [2027-01-01, next-friday]\n", "2027.holidays"),
        ("2027:\n  workdays: [2026-12-27]\n", "2027.workdays"),
        ("2027:\n  holidays: ['2027-01-01']\n", "2027.holidays"),  # quoted: text, not a date
    ],
    ids=["not-a-date", "date-of-another-year", "quoted-date"],
)
def test_a_malformed_override_entry_is_refused_by_name(tmp_path: Path, text: str, entry: str) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        load_overrides([path])
    assert caught.value.field == f"{path}:{entry}"
    assert "is not a date in 2027" in caught.value.reason


def test_an_override_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text("- 2027-01-01\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        load_overrides([path])
    assert caught.value.field == str(path)


# Malformed files that should be refused like the ones above (ValidationFailed naming the file or entry)
# but escape as other exceptions, or are silently misread.
@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("2027: [2027-01-01]\n", ":2027"),  # the year's entry is a list, not {holidays, workdays}
        ("2027:\n  holidays: 2027-01-01\n", ":2027.holidays"),  # one date, not a list
        ("next_year:\n  holidays: [2027-01-01]\n", ":next_year"),  # the year is not a number
        ("2027:\n  holidays: [2027-02-30]\n", ""),  # no such day
        ("2027:\n  holidays: [2027-01-01\n", ""),  # not YAML
    ],
    ids=["entry-is-a-list", "holidays-is-a-scalar", "year-is-not-a-number", "impossible-date", "broken-yaml"],
)
def test_every_malformed_override_file_is_refused_as_a_validation_failure(
    tmp_path: Path, text: str, named: str
) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        load_overrides([path])
    assert caught.value.field.startswith(str(path))
    assert named in caught.value.field


def test_a_timestamp_in_an_override_file_is_refused_rather_than_silently_ignored(tmp_path: Path) -> None:
    # YAML reads "2027-01-01 00:00:00" as a datetime, which passes for a date; kept as a key it never
    # matches the day looked up, so the holiday is lost while 2027 stops counting as an unknown year.
    path = tmp_path / "calendar.yaml"
    path.write_text("2027:\n  holidays: [2027-01-01 00:00:00]\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as caught:
        load_overrides([path])
    assert caught.value.field == f"{path}:2027.holidays"


# -- the two maintained sources -----------------------------------------------------------------------------------


@pytest.mark.parametrize("year", [2025, 2026])
def test_chinese_calendar_and_the_holidays_package_agree_on_every_day_of_the_year(year: int) -> None:
    import chinese_calendar

    from workflow.core.calendar import _holidays_year

    from_holidays = _holidays_year(year)
    day, differ = date(year, 1, 1), []
    while day.year == year:
        if chinese_calendar.is_workday(day) != from_holidays.get(day, day.weekday() < 5):
            differ.append(day)
        day += timedelta(days=1)
    assert differ == []
    assert sorted(d for d, working in from_holidays.items() if working)[:2] == (
        [date(2025, 1, 26), date(2025, 2, 8)] if year == 2025 else [date(2026, 1, 4), date(2026, 2, 14)]
    )


def test_a_year_only_the_holidays_package_knows_is_taken_from_it_make_up_days_included(cal: WorkCalendar) -> None:
    # chinese_calendar starts in 2004; the holidays package has the notices from 2001.
    assert (cal.source_of(2002), cal.source_of(2026), cal.source_of(2027)) == ("holidays", "chinese_calendar", None)
    assert cal.is_workday(date(2002, 2, 12)) is False  # 春节, a Tuesday
    assert cal.is_workday(date(2001, 12, 29)) is True  # a Saturday worked for the 2002 New Year's days off


def test_refreshing_reads_the_override_file_again_and_names_the_years_that_changed(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text("{}\n", encoding="utf-8")
    cal = WorkCalendar.from_files([path])
    assert cal.add_working_days(date(2027, 2, 4), 1) == date(2027, 2, 5)

    path.write_text(OVERRIDE_2027, encoding="utf-8")

    assert cal.refresh() == [2027]
    assert cal.add_working_days(date(2027, 2, 4), 1) == date(2027, 2, 9)
    assert cal.source_of(2027) == "override"
    assert cal.refresh() == []
