"""Patrol quotas: how many patrols a chief of each level owes in a week, ten days, month, quarter or year."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction

import sqlalchemy as sa

from workflow.core.models import (
    PatrolQuota,
    table_of,
)
from workflow.patrols.basics import PERIOD_LABELS, month_days, round_half_up

_quota = table_of(PatrolQuota)


# -- quotas ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """What one month's assessment of a chief looks at: the days counted and the patrols required."""

    label: str  # 2026-03, 2026-Q1 or 2026
    first: date
    end: date  # exclusive
    required: int


@dataclass(frozen=True, slots=True)
class Quota:
    """``count`` patrols a ``per`` for the chiefs of one level."""

    level: str
    count: int
    per: str

    def window(self, year: int, month: int) -> Window:
        """The assessment in a month.

        Periods up to a month become a monthly number (a week is 7 days of the
        month's, rounded half up: 4 for 1 a week; a ten-day period is a third
        of a month). A quarter or a year is assessed in its last month, over
        the whole period; its other months require nothing.
        """
        first, end = month_days(year, month)
        label = f"{year}-{month:02d}"
        if self.per == "week":
            return Window(label, first, end, round_half_up(Fraction(self.count * (end - first).days, 7)))
        if self.per == "tenday":
            return Window(label, first, end, 3 * self.count)
        if self.per == "month":
            return Window(label, first, end, self.count)
        if self.per == "quarter" and month % 3 == 0:
            return Window(f"{year}-Q{month // 3}", date(year, month - 2, 1), end, self.count)
        if self.per == "year" and month == 12:
            return Window(str(year), date(year, 1, 1), end, self.count)
        return Window(label, first, end, 0)

    def describe(self) -> str:
        """每旬不少于1次."""
        return f"每{PERIOD_LABELS[self.per]}不少于{self.count}次"


def quotas(conn: sa.Connection) -> dict[str, Quota]:
    """The quotas in force, by level."""
    return {r.level: Quota(r.level, r._mapping["count"], r.per) for r in conn.execute(sa.select(_quota))}
