"""Working days in China: statutory holidays and make-up workdays (调休).

Each year's arrangement is announced by the State Council late in the year
before, and reaches two maintained packages at their own pace: the data comes
from ``chinese_calendar`` for the years it knows, else from the ``holidays``
package's China calendar for the years it has the notice of (its other years
are estimates without make-up workdays, and are not used), and override files
win over both and carry a year neither has yet. A year known to none falls
back to Monday-Friday, and ``unknown_years`` says so, so nobody mistakes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import chinese_calendar
import yaml

from workflow.core.clock import SHANGHAI
from workflow.core.errors import ValidationFailed

log = logging.getLogger(__name__)

BUILTIN_OVERRIDES = Path(__file__).with_name("data") / "calendar.yaml"
_PACKAGE_YEARS = range(min(chinese_calendar.constants.holidays).year, max(chinese_calendar.constants.holidays).year + 1)
# The holidays package checks its China calendar against the State Council's notices from 2001 on; a year
# is known to it when it carries that year's make-up arrangement (without one, its dates are rule estimates).
_HOLIDAYS_FIRST_YEAR = 2001


@cache
def _holidays_years() -> frozenset[int]:
    """The years the holidays package knows; it is imported here, the first time a year beyond chinese_calendar's
    is asked about (most processes never do, and the package takes longer to import than the rest of this)."""
    from holidays.countries.china import ChinaStaticHolidays

    notices = getattr(ChinaStaticHolidays, "special_public_holidays", None)
    if not isinstance(notices, dict):  # a release that stores them otherwise: use none rather than guess
        log.warning("the holidays package's China notices were not found: not using it")
        return frozenset()
    return frozenset(y for y in notices if isinstance(y, int) and y >= _HOLIDAYS_FIRST_YEAR)


def _holidays_year(year: int) -> dict[date, bool]:
    """One year from the holidays package: its days off, and its make-up workdays (调休上班) as working days."""
    from holidays.countries.china import China, ChinaStaticHolidays

    china: Any = China
    days: dict[date, bool] = dict.fromkeys(china(years=year, categories=("public",)), False)
    for y in (year, year + 1):  # a make-up day late in December can belong to the next year's notice
        entries: Any = ChinaStaticHolidays.special_public_holidays.get(y, ())
        for entry in entries if entries and isinstance(entries[0], tuple) else (entries,):
            values: tuple[Any, ...] = tuple(entry)
            # (month, day, from month, from day[, from year]): the "from" day is worked instead.
            if len(values) in (4, 5) and all(isinstance(v, int) for v in values):
                worked = date(values[4] if len(values) == 5 else y, values[2], values[3])
                if worked.year == year:
                    days[worked] = True
    return {d: v for d, v in days.items() if d.year == year}


def package_years() -> dict[str, list[int]]:
    """The years each maintained source knows: {"chinese_calendar": [...], "holidays": [...]}."""
    return {"chinese_calendar": list(_PACKAGE_YEARS), "holidays": sorted(_holidays_years())}


def _read(path: Path) -> dict[object, object]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, ValueError) as exc:  # yaml raises ValueError for a date like 2027-02-30
        detail = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValidationFailed(str(path), f"is not a valid calendar file: {detail}") from exc
    if not isinstance(data, dict):
        raise ValidationFailed(str(path), "must map years to {holidays, workdays}")
    return data


def _years(entries: Mapping[object, object], where: str, days: dict[date, bool]) -> None:
    for year, entry in entries.items():
        if not isinstance(year, int) or not isinstance(entry, dict | None):
            raise ValidationFailed(f"{where}{year}", "must be a year holding {holidays, workdays}")
        unknown = set(entry or {}) - {"holidays", "workdays"}
        if unknown:
            raise ValidationFailed(
                f"{where}{year}", f"unknown key(s) {', '.join(map(str, unknown))}; a year holds holidays and workdays"
            )
        for key, is_workday in (("holidays", False), ("workdays", True)):
            values = (entry or {}).get(key) or []
            if not isinstance(values, list):
                raise ValidationFailed(f"{where}{year}.{key}", "must be a list of dates")
            for value in values:
                # A datetime is a date too, but a holiday is a whole day.
                if not isinstance(value, date) or isinstance(value, datetime) or value.year != year:
                    raise ValidationFailed(f"{where}{year}.{key}", f"{value!r} is not a date in {year}")
                days[value] = is_workday


def load_overrides(paths: Iterable[Path]) -> dict[date, bool]:
    """Read the national part of override files: ``{year: {holidays: [dates], workdays: [dates]}}``.

    Later files win. A malformed file raises ``ValidationFailed`` naming the entry.
    """
    days: dict[date, bool] = {}
    for path in paths:
        if path.exists():
            data = _read(path)
            _years({k: v for k, v in data.items() if k != "regions"}, f"{path}:", days)
    return days


def load_regional(paths: Iterable[Path]) -> dict[str, dict[date, bool]]:
    """Read the ``regions`` part: ``{regions: {division code: {year: {holidays, workdays}}}}``.

    Where a province (or city) keeps a day differently, its code ("510000" for
    四川省) names the days that differ; they apply to every jurisdiction under it.
    """
    regions: dict[str, dict[date, bool]] = {}
    for path in paths:
        if not path.exists():
            continue
        section = _read(path).get("regions") or {}
        if not isinstance(section, dict):
            raise ValidationFailed(f"{path}:regions", "must map division codes to years")
        for key, years in section.items():
            code = str(key)
            if not code.isdigit() or len(code) not in (6, 9, 12) or not isinstance(years, dict):
                raise ValidationFailed(f"{path}:regions.{code}", "must be a division code holding years")
            _years(years, f"{path}:regions.{code}.", regions.setdefault(_prefix(code), {}))
    return regions


def _prefix(code: str) -> str:
    """A division code's significant prefix: 510000 → 51, 510900 → 5109."""
    while len(code) > 2 and code.endswith("00"):
        code = code[:-2]
    return code


class WorkCalendar:
    """Answers "is this a working day" and adds working days, in Asia/Shanghai."""

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        regions: Mapping[str, Mapping[date, bool]] | None = None,
        *,
        files: Iterable[Path] = (),
    ) -> None:
        self._files = tuple(files)
        self._warned: set[int] = set()
        self._holidays: dict[int, dict[date, bool]] = {}
        self._set(dict(overrides or {}), {prefix: dict(days) for prefix, days in (regions or {}).items()})

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> WorkCalendar:
        """The calendar of the override files ``paths`` (later files win), which ``refresh`` reads again."""
        files = tuple(paths)
        return cls(load_overrides(files), load_regional(files), files=files)

    def _set(self, overrides: dict[date, bool], regions: dict[str, dict[date, bool]]) -> None:
        self._overrides = overrides
        self._regions = regions
        self._regional: dict[str, WorkCalendar] = {}
        self._override_years = {d.year for d in overrides}
        self._cache: dict[date, bool] = {}
        self._due_cache: dict[tuple[date, int], datetime] = {}

    def refresh(self) -> list[int]:
        """Read the override files again; the years whose days changed (none: nothing changed).

        A malformed file raises ``ValidationFailed`` and leaves the calendar as it was.
        """
        overrides, regions = load_overrides(self._files), load_regional(self._files)
        if (overrides, regions) == (self._overrides, self._regions):
            return []
        changed = {d.year for d, _ in set(overrides.items()) ^ set(self._overrides.items())}
        for prefix in set(regions) | set(self._regions):
            new, old = regions.get(prefix, {}), self._regions.get(prefix, {})
            changed |= {d.year for d, _ in set(new.items()) ^ set(old.items())}
        self._set(overrides, regions)
        self._warned -= changed
        return sorted(changed)

    def source_of(self, year: int) -> str | None:
        """Where ``year``'s arrangement comes from: "override", "chinese_calendar", "holidays", or None."""
        if year in self._override_years:
            return "override"
        if year in _PACKAGE_YEARS:
            return "chinese_calendar"
        if year in _holidays_years():
            return "holidays"
        return None

    def is_workday(self, day: date) -> bool:
        """True on a working day, make-up Saturdays and Sundays included."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        if day in self._overrides:
            result = self._overrides[day]
        elif day.year in _PACKAGE_YEARS:
            result = chinese_calendar.is_workday(day)
        elif day.year in _holidays_years():
            year = self._holidays.get(day.year)
            if year is None:
                year = self._holidays[day.year] = _holidays_year(day.year)
            result = year.get(day, day.weekday() < 5)
        else:
            if day.year not in self._override_years and day.year not in self._warned:
                self._warned.add(day.year)
                log.warning("no holiday data for %s: counting Monday-Friday only", day.year)
            result = day.weekday() < 5
        self._cache[day] = result
        return result

    def for_path(self, path: str | None) -> WorkCalendar:
        """The calendar of the jurisdiction at ``path`` ("/510000/510900/"): regional days win where given."""
        if not self._regions or not path:
            return self
        code = path.rstrip("/").rsplit("/", 1)[-1]
        matches = [prefix for prefix in self._regions if code.startswith(prefix)]
        if not matches:
            return self
        prefix = max(matches, key=len)
        regional = self._regional.get(prefix)
        if regional is None:
            merged = dict(self._overrides)
            for other in sorted(matches, key=len):  # a city's days win over its province's
                merged.update(self._regions[other])
            regional = self._regional[prefix] = WorkCalendar(merged)
        return regional

    def unknown_years(self, years: Iterable[int]) -> list[int]:
        """Those of ``years`` for which no package and no override has data."""
        return [y for y in years if self.source_of(y) is None]

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
