"""Working days in China: statutory holidays and make-up workdays (调休).

The data comes from the ``chinese_calendar`` package for the years it knows,
and from override files for the rest (each year's arrangement is announced by
the State Council late in the year before). A year known to neither falls
back to Monday-Friday, and ``unknown_years`` says so, so nobody mistakes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path

import chinese_calendar
import yaml

from workflow.clock import SHANGHAI
from workflow.errors import ValidationFailed

log = logging.getLogger(__name__)

BUILTIN_OVERRIDES = Path(__file__).with_name("data") / "calendar.yaml"
_PACKAGE_YEARS = range(min(chinese_calendar.constants.holidays).year, max(chinese_calendar.constants.holidays).year + 1)


def load_overrides(paths: Iterable[Path]) -> dict[date, bool]:
    """Read override files: ``{year: {holidays: [dates], workdays: [dates]}}``.

    Later files win. A malformed file raises ``ValidationFailed`` naming the entry.
    """
    days: dict[date, bool] = {}
    for path in paths:
        if not path.exists():
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValidationFailed(str(path), "must map years to {holidays, workdays}")
        for year, entry in data.items():
            for key, is_workday in (("holidays", False), ("workdays", True)):
                for value in (entry or {}).get(key, []) or []:
                    if not isinstance(value, date) or value.year != int(year):
                        raise ValidationFailed(f"{path}:{year}.{key}", f"{value!r} is not a date in {year}")
                    days[value] = is_workday
    return days


class WorkCalendar:
    """Answers "is this a working day" and adds working days, in Asia/Shanghai."""

    def __init__(self, overrides: Mapping[date, bool] | None = None) -> None:
        self._overrides = dict(overrides or {})
        self._override_years = {d.year for d in self._overrides}
        self._cache: dict[date, bool] = {}
        self._due_cache: dict[tuple[date, int], datetime] = {}
        self._warned: set[int] = set()

    def is_workday(self, day: date) -> bool:
        """True on a working day, make-up Saturdays and Sundays included."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        if day in self._overrides:
            result = self._overrides[day]
        elif day.year in _PACKAGE_YEARS:
            result = chinese_calendar.is_workday(day)
        else:
            if day.year not in self._override_years and day.year not in self._warned:
                self._warned.add(day.year)
                log.warning("no holiday data for %s: counting Monday-Friday only", day.year)
            result = day.weekday() < 5
        self._cache[day] = result
        return result

    def unknown_years(self, years: Iterable[int]) -> list[int]:
        """Those of ``years`` for which neither the package nor an override has data."""
        return [y for y in years if y not in _PACKAGE_YEARS and y not in self._override_years]

    def add_working_days(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``start`` itself not counted)."""
        if count < 0:
            raise ValueError("count must not be negative")
        day = start
        while count:
            day += timedelta(days=1)
            if self.is_workday(day):
                count -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days lie after ``start`` up to and including ``end``."""
        n, day = 0, start
        while day < end:
            day += timedelta(days=1)
            n += self.is_workday(day)
        return n

    def due_after(self, now: datetime, working_days: int) -> datetime:
        """The end (Asia/Shanghai) of the ``working_days``-th working day after ``now``."""
        key = (now.astimezone(SHANGHAI).date(), working_days)
        due = self._due_cache.get(key)
        if due is None:
            due = self._due_cache[key] = end_of_day(self.add_working_days(*key))
        return due


def end_of_day(day: date) -> datetime:
    """The last instant of ``day`` in Asia/Shanghai, as an aware datetime."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=SHANGHAI)


def local_today(now: datetime) -> date:
    """The calendar day in Asia/Shanghai at ``now``."""
    return now.astimezone(SHANGHAI).date()
