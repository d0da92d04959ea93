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

from workflow.core.clock import SHANGHAI
from workflow.core.errors import ValidationFailed

log = logging.getLogger(__name__)

BUILTIN_OVERRIDES = Path(__file__).with_name("data") / "calendar.yaml"
_PACKAGE_YEARS = range(min(chinese_calendar.constants.holidays).year, max(chinese_calendar.constants.holidays).year + 1)


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
    ) -> None:
        self._overrides = dict(overrides or {})
        self._regions = {prefix: dict(days) for prefix, days in (regions or {}).items()}
        self._regional: dict[str, WorkCalendar] = {}
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
