"""Patrol quotas: how many patrols a chief of each level owes in a week, ten days, month, quarter or year, and
which quota holds a chief (the deepest jurisdiction's, else the compact's, else the level's default)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

import sqlalchemy as sa

from states.words import word
from workflow.core.errors import ValidationFailed
from workflow.core.models import (
    Compact,
    Jurisdiction,
    PatrolQuota,
    table_of,
)
from workflow.core.uow import UnitOfWork
from workflow.patrols.basics import LEVELS, PERIODS, ancestors, month_days, round_half_up

_quota = table_of(PatrolQuota)
_juris = table_of(Jurisdiction)
_compact = table_of(Compact)


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
    jurisdiction: str | None = None  # the scope's division code, when the row holds one jurisdiction's chiefs
    compact: str | None = None  # the scope's compact code, when the row holds one compact's chiefs

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

    def over(self, months: Sequence[tuple[int, int]]) -> Window:
        """The assessment over consecutive months: each month's requirement summed, over the days they look at.

        A quarter's or a year's quota counts in the period that holds its last
        month, over its whole span (so 2026-Q4 looks at all of 2026 for a
        yearly quota); the label is the period's when the span is the months'.
        """
        windows = [self.window(year, month) for year, month in months]
        first, end = min(w.first for w in windows), max(w.end for w in windows)
        own = (month_days(*months[0])[0], month_days(*months[-1])[1])
        widest = max(windows, key=lambda w: w.end - w.first)
        label = period_label(months) if (first, end) == own else widest.label
        return Window(label, first, end, sum(w.required for w in windows))

    def describe(self, *, en: bool = False) -> str:
        """每旬不少于1次 (at least one patrol every ten days)."""
        return word(f"quota_rule.{self.per}", en, n=self.count)


def period_label(months: Sequence[tuple[int, int]]) -> str:
    """2026, 2026-Q2, 2026-03, or 2026-01 – 2026-11 for any other run of months."""
    (y0, m0), (y1, m1) = months[0], months[-1]
    if len(months) == 1:
        return f"{y0}-{m0:02d}"
    if y0 == y1 and (m0, m1) == (1, 12):
        return str(y0)
    if y0 == y1 and m0 % 3 == 1 and m1 == m0 + 2:
        return f"{y0}-Q{m1 // 3}"
    return f"{y0}-{m0:02d} – {y1}-{m1:02d}"


def _after(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def period_months(period: str, field: str = "period") -> list[tuple[int, int]]:
    """The months of a period written 2026 (a year), 2026-Q2 (a quarter) or 2026-03 (a month)."""
    head, quarter, month = period[:4], period[6:], period[5:]
    if len(head) == 4 and head.isdigit() and 1970 <= int(head) <= 2100:
        year = int(head)
        if len(period) == 4:
            return [(year, m) for m in range(1, 13)]
        if period[4:6] == "-Q" and quarter in ("1", "2", "3", "4"):
            return [(year, m) for m in range(int(quarter) * 3 - 2, int(quarter) * 3 + 1)]
        if period[4:5] == "-" and len(month) == 2 and month.isdigit() and 1 <= int(month) <= 12:
            return [(year, int(month))]
    raise ValidationFailed(field, f"{period!r} is not a year like 2026, a quarter like 2026-Q1 or a month like 2026-03")


def months_within(first: date, end: date) -> list[tuple[int, int]]:
    """The whole months inside the days [first, end): the months an assessment over those days can look at."""
    months = []
    year, month = (first.year, first.month) if first.day == 1 else _after(first.year, first.month)
    while month_days(year, month)[1] <= end:
        months.append((year, month))
        year, month = _after(year, month)
    return months


@dataclass(frozen=True, slots=True)
class QuotaBook:
    """Every quota row in force, and the one that holds a chief."""

    rows: list[Quota]
    by_jurisdiction: dict[tuple[str, str], Quota]  # (level, jurisdiction path)
    by_compact: dict[tuple[str, int], Quota]  # (level, compact id)
    defaults: dict[str, Quota]  # level

    def holding(self, level: str, path: str, compact_id: int | None = None) -> Quota | None:
        """The quota a chief of ``level`` at ``path`` is held to, assessed within the compact (when given):
        the deepest jurisdiction's on the chief's path, else the compact's, else the level's default, else none.
        """
        if self.by_jurisdiction:  # usually none are scoped to a jurisdiction: no path to walk
            for place in reversed(ancestors(path)):
                if (found := self.by_jurisdiction.get((level, place))) is not None:
                    return found
        if compact_id is not None and (found := self.by_compact.get((level, compact_id))) is not None:
            return found
        return self.defaults.get(level)


def quotas(conn: sa.Connection) -> QuotaBook:
    """The quota rows in force, with their scopes, in one statement."""
    rows = conn.execute(
        sa.select(_quota, _juris.c.code.label("jcode"), _juris.c.path, _compact.c.code.label("ccode"))
        .select_from(
            _quota.outerjoin(_juris, _juris.c.id == _quota.c.jurisdiction_id).outerjoin(
                _compact, _compact.c.id == _quota.c.compact_id
            )
        )
        .order_by(_quota.c.level, _juris.c.path.is_not(None), _juris.c.path, _compact.c.code)
    ).all()
    book = QuotaBook([], {}, {}, {})
    for r in rows:
        quota = Quota(r.level, r._mapping["count"], r.per, r.jcode, r.ccode)
        book.rows.append(quota)
        if r.path is not None:
            book.by_jurisdiction[(r.level, r.path)] = quota
        elif r.compact_id is not None:
            book.by_compact[(r.level, r.compact_id)] = quota
        else:
            book.defaults[r.level] = quota
    return book


# -- setting and clearing one row -----------------------------------------------------------------


def _scope(conn: sa.Connection, jurisdiction: str | None, compact: str | None) -> tuple[int | None, int | None]:
    """The row's scope as ids: a jurisdiction's, a compact's, or neither (the level's default)."""
    if jurisdiction is not None and compact is not None:
        raise ValidationFailed("compact", "a quota holds one jurisdiction's chiefs or one compact's, not both")
    jid = cid = None
    if jurisdiction is not None:
        jid = conn.execute(sa.select(_juris.c.id).where(_juris.c.code == jurisdiction)).scalar()
        if jid is None:
            raise ValidationFailed("jurisdiction", f"no jurisdiction with code {jurisdiction!r}")
    if compact is not None:
        cid = conn.execute(sa.select(_compact.c.id).where(_compact.c.code == compact)).scalar()
        if cid is None:
            raise ValidationFailed("compact", f"no compact with code {compact!r}")
    return jid, cid


def _key(level: str, jid: int | None, cid: int | None) -> Any:
    return sa.and_(
        _quota.c.level == level,
        _quota.c.jurisdiction_id.is_(None) if jid is None else _quota.c.jurisdiction_id == jid,
        _quota.c.compact_id.is_(None) if cid is None else _quota.c.compact_id == cid,
    )


def set_quota(
    uow: UnitOfWork, level: str, count: int, per: str, jurisdiction: str | None = None, compact: str | None = None
) -> None:
    """Set (or replace) the quota of a level for one scope: a jurisdiction (by code), a compact, or neither."""
    errors = []
    if level not in LEVELS:
        errors.append(("level", f"{level!r} is not one of {', '.join(LEVELS)}"))
    if not 1 <= count <= 100:
        errors.append(("count", f"{count} is not between 1 and 100"))
    if per not in PERIODS:
        errors.append(("per", f"{per!r} is not one of {', '.join(PERIODS)}"))
    if errors:
        raise ValidationFailed.of(errors)
    with uow:
        conn = uow.connection
        jid, cid = _scope(conn, jurisdiction, compact)
        key = _key(level, jid, cid)
        if conn.execute(sa.select(_quota.c.id).where(key)).first() is None:
            conn.execute(_quota.insert().values(level=level, count=count, per=per, jurisdiction_id=jid, compact_id=cid))
        else:
            conn.execute(_quota.update().where(key).values(count=count, per=per))
        uow.commit()


def clear_quota(uow: UnitOfWork, level: str, jurisdiction: str | None = None, compact: str | None = None) -> None:
    """Remove the quota of a level for one scope; ValidationFailed naming ``level`` when there is none."""
    with uow:
        conn = uow.connection
        jid, cid = _scope(conn, jurisdiction, compact)
        if conn.execute(_quota.delete().where(_key(level, jid, cid))).rowcount == 0:
            where = jurisdiction or compact
            raise ValidationFailed("level", f"no {level} quota" + (f" for {where}" if where else " without a scope"))
        uow.commit()
