"""Completion against quota per chief and jurisdiction over a month, a quarter or a year, the under-quota list
and the interview list. A patrol still under way (started on a phone, not yet stopped) counts for nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

import sqlalchemy as sa

from workflow.core.errors import ValidationFailed
from workflow.core.lookups import member_paths
from workflow.core.models import (
    Jurisdiction,
    Patrol,
    Person,
    table_of,
)
from workflow.patrols.basics import QUOTA_KINDS, ancestors, midnight, parse_month, percent, side_of_path
from workflow.patrols.quotas import Quota, QuotaBook, Window, months_within, period_label, period_months, quotas
from workflow.reading.practice import PatrolCounts, patrol_counts, patrols_by_district

_patrol = table_of(Patrol)
_person = table_of(Person)
_juris = table_of(Jurisdiction)


# -- completion -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChiefCompletion:
    """One chief's patrols against their quota over a period's assessment."""

    person: str
    name: str
    jurisdiction_id: int
    jurisdiction_code: str
    jurisdiction: str
    path: str
    level: str
    window: str
    done: int
    required: int

    @property
    def rate(self) -> Fraction | None:
        """done / required (may exceed 1); None when nothing was required."""
        return Fraction(self.done, self.required) if self.required else None

    @property
    def under(self) -> bool:
        """Below quota in an assessed period."""
        return self.done < self.required


@dataclass(frozen=True, slots=True)
class JurisdictionCompletion:
    """A jurisdiction's assessed chiefs (its own and those under it) taken together."""

    code: str
    name: str
    level: str
    depth: int
    chiefs: int
    under: int
    done: int
    required: int

    @property
    def rate(self) -> Fraction | None:
        """done / required over its chiefs."""
        return Fraction(self.done, self.required) if self.required else None


@dataclass(frozen=True, slots=True)
class Completion:
    """A period's patrol completion: per chief, per jurisdiction, and overall."""

    period: str  # 2026, 2026-Q1, 2026-03, or 2026-01 – 2026-11
    chiefs: list[ChiefCompletion]
    jurisdictions: list[JurisdictionCompletion]

    @property
    def done(self) -> int:
        """Patrols counted over every assessed chief."""
        return sum(c.done for c in self.chiefs if c.required)

    @property
    def required(self) -> int:
        """Patrols required over every assessed chief."""
        return sum(c.required for c in self.chiefs)

    @property
    def rate(self) -> Fraction | None:
        """The overall completion rate (Wanzhou's 128%)."""
        return Fraction(self.done, self.required) if self.required else None

    def at_level(self, level: str = "district") -> list[JurisdictionCompletion]:
        """The jurisdictions of one level (districts by default): each the sum of its assessed chiefs."""
        return [j for j in self.jurisdictions if j.level == level]

    @property
    def under_quota(self) -> list[ChiefCompletion]:
        """The chiefs below their quota, lowest rate first."""
        return sorted((c for c in self.chiefs if c.under), key=lambda c: (c.done / c.required, c.path, c.person))


def chief_rows(
    conn: sa.Connection, compact_id: int | None, person: str | None = None, *, within: list[str] | None = None
) -> list[Any]:
    """Active chiefs with a jurisdiction (within the compact's members, when given; or at or under the
    ``within`` paths, already read). The paths are asked of the database, not of every chief of the province."""
    query = (
        sa.select(
            _person.c.id,
            _person.c.code,
            _person.c.name,
            _juris.c.id.label("jurisdiction_id"),
            _juris.c.code.label("jurisdiction_code"),
            _juris.c.name.label("jurisdiction"),
            _juris.c.path,
            _juris.c.level,
        )
        .join(_juris, _juris.c.id == _person.c.jurisdiction_id)
        .where(_person.c.role == "chief", _person.c.active.is_(True))
        .order_by(_juris.c.path, _person.c.code)
    )
    if person is not None:
        query = query.where(_person.c.code == person)
    if within is None and compact_id is not None:
        within = member_paths(conn, compact_id)
    if within is not None:
        query = query.where(sa.or_(sa.false(), *(_juris.c.path.startswith(p, autoescape=True) for p in within)))
    return list(conn.execute(query).all())


def _chiefs_within(conn: sa.Connection, members: list[str] | None) -> list[Any]:
    """``chief_rows`` with the compact's member paths already read (None: everywhere)."""
    return chief_rows(conn, None, within=members)


def _patrol_counts(conn: sa.Connection, first: date, end: date, people: Sequence[int]) -> dict[int, int]:
    """Patrols that count toward a quota, per patroller, started on the days [first, end)."""
    if not people:
        return {}
    rows = conn.execute(
        sa.select(_patrol.c.patroller_id, sa.func.count())
        .where(
            _patrol.c.kind.in_(QUOTA_KINDS),
            _patrol.c.started_at >= midnight(first),
            _patrol.c.started_at < midnight(end),
            _patrol.c.patroller_id.in_(sorted(set(people))),
            _patrol.c.ended_at.is_not(None),  # one still under way has not been made yet
        )
        .group_by(_patrol.c.patroller_id)
    )
    return dict(rows.all())  # a result has keys(): dict() would read it as a mapping


def assess(
    conn: sa.Connection,
    months: Sequence[tuple[int, int]],
    chiefs: list[Any],
    book: QuotaBook,
    compact_id: int | None = None,
) -> list[ChiefCompletion]:
    """Each chief held to a quota (``QuotaBook.holding``) with their patrols over the months' assessment.

    One count per distinct span the chiefs' windows look at: a handful of
    statements however many chiefs there are.
    """
    # The quota holding a chief depends on their level and place only, and its window on the quota only:
    # each is worked out once per place and once per quota, not once per chief (a province's 1,863 chiefs
    # at scale 0.1 sit in 1,063 places under three quotas).
    held: dict[tuple[str, str], Window | None] = {}
    folded: dict[Quota, Window] = {}
    windows: dict[int, Window] = {}
    spans: dict[tuple[date, date], list[int]] = {}
    for pid, *_, path, level in chiefs:
        if (level, path) not in held:
            quota = book.holding(level, path, compact_id)
            if quota is not None and quota not in folded:
                folded[quota] = quota.over(months)
            held[(level, path)] = None if quota is None else folded[quota]
        if (w := held[(level, path)]) is not None:
            windows[pid] = w
            spans.setdefault((w.first, w.end), []).append(pid)
    counts = {span: _patrol_counts(conn, *span, spans[span]) for span in sorted(spans)}
    out = []
    for pid, code, name, jid, jcode, jname, path, level in chiefs:  # chief_rows' columns, unpacked once
        w = windows.get(pid)
        if w is None:
            continue
        done = counts[(w.first, w.end)].get(pid, 0)
        out.append(ChiefCompletion(code, name, jid, jcode, jname, path, level, w.label, done, w.required))
    return out


def completion(conn: sa.Connection, period: str, compact_id: int | None = None) -> Completion:
    """Each chief held to a quota, with the patrols done against it over a period (2026, 2026-Q1 or
    2026-03), and the jurisdictions above them rolled up (within the compact's members when one is given).

    A month's requirement is ``Quota.window``'s; a quarter's or a year's is
    its months' summed, a quarterly or yearly quota counted over its span.
    """
    return completion_of(conn, period_months(period), compact_id)


def completion_within(conn: sa.Connection, first: date, end: date, compact_id: int | None = None) -> Completion:
    """Completion over the whole months inside the days [first, end) (none: nobody assessed, period "")."""
    months = months_within(first, end)
    return completion_of(conn, months, compact_id) if months else Completion("", [], [])


def completion_of(
    conn: sa.Connection, months: Sequence[tuple[int, int]], compact_id: int | None, members: list[str] | None = None
) -> Completion:
    """Completion over consecutive months, within the compact's members (their paths, read when not given)."""
    if compact_id is not None and members is None:
        members = member_paths(conn, compact_id)
    chiefs = assess(conn, months, _chiefs_within(conn, members), quotas(conn), compact_id)
    # Summed per place first, then each place's sums added to the places above it (within the members).
    here: dict[str, list[int]] = {}
    for c in chiefs:
        if not c.required:
            continue
        t = here.setdefault(c.path, [0, 0, 0, 0])
        t[0] += 1
        t[1] += c.under
        t[2] += c.done
        t[3] += c.required
    totals: dict[str, list[int]] = {}
    for place, sums in here.items():
        for path in ancestors(place):
            if members is not None and not side_of_path(members, path):
                continue
            t = totals.setdefault(path, [0, 0, 0, 0])
            for i, value in enumerate(sums):
                t[i] += value
    named = sa.select(_juris.c.path, _juris.c.code, _juris.c.name, _juris.c.level)
    names = (
        {
            path: (code, name, level)
            for path, code, name, level in conn.execute(named.where(_juris.c.path.in_(sorted(totals))))
        }
        if totals
        else {}
    )
    depth0 = min((p.count("/") for p in totals), default=0)
    rows = [JurisdictionCompletion(*names[p], p.count("/") - depth0, *totals[p]) for p in sorted(totals) if p in names]
    return Completion(period_label(months), chiefs, rows)


def district_figures(
    conn: sa.Connection, compact_id: int, first: date, end: date, patrols: PatrolCounts | None = None
) -> dict[str, Any]:
    """Per district of the compact over the days [first, end): patrols, problems found on patrol, and patrol
    completion over the whole months inside the days (``completion_period``; "" when there is none);
    ``patrols``: the compact's ``patrol_counts`` of the same days, when the caller has them."""
    counts = patrols
    if counts is None:
        counts = patrol_counts(conn, member_paths(conn, compact_id), midnight(first), midnight(end))
    months = months_within(first, end)
    done = completion_of(conn, months, compact_id, list(counts.members)) if months else Completion("", [], [])
    rates = {j.code: j for j in done.at_level("district")}
    districts = []
    for d in patrols_by_district(conn, counts):
        held = rates.get(d["code"])
        districts.append(
            d
            | {
                "chiefs_assessed": held.chiefs if held else 0,
                "patrols_done": held.done if held else 0,
                "patrols_required": held.required if held else 0,
                "completion": percent(held.rate if held else None),
            }
        )
    return {"completion_period": done.period, "districts": districts}


def under_quota(conn: sa.Connection, month: str, compact_id: int | None = None) -> list[ChiefCompletion]:
    """The chiefs below their quota in the month's assessment (月通报)."""
    parse_month(month)
    return completion(conn, month, compact_id).under_quota


def _three_months(period: str) -> list[str]:
    """A quarter's months ("2026-Q1"), or the three months ending with a month ("2026-05")."""
    if "-Q" in period:
        head, _, q = period.partition("-Q")
        if not (len(head) == 4 and head.isdigit() and q in ("1", "2", "3", "4")):
            raise ValidationFailed("period", f"{period!r} is not a quarter like 2026-Q1 or a month like 2026-03")
        return [f"{head}-{m:02d}" for m in range((int(q) - 1) * 3 + 1, int(q) * 3 + 1)]
    year, month = parse_month(period, "period")
    months = []
    for _ in range(3):
        months.append(f"{year}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months[::-1]


@dataclass(frozen=True, slots=True)
class InterviewEntry:
    """A chief below quota in each of three months running (季约谈), with the three months."""

    person: str
    name: str
    jurisdiction_id: int
    jurisdiction: str
    months: list[ChiefCompletion]


def interview_list(conn: sa.Connection, period: str, compact_id: int | None = None) -> list[InterviewEntry]:
    """The chiefs below quota in every month of a quarter (or of the three months ending with a month).

    A quota longer than a month is assessed once in its period, so only
    chiefs assessed monthly can be under it three months running.
    """
    months = _three_months(period)
    per_month = [{c.person: c for c in under_quota(conn, m, compact_id)} for m in months]
    common = set(per_month[0]).intersection(*per_month[1:])
    entries = []
    for code in sorted(common, key=lambda k: (per_month[-1][k].path, k)):
        last = per_month[-1][code]
        entries.append(
            InterviewEntry(code, last.name, last.jurisdiction_id, last.jurisdiction, [m[code] for m in per_month])
        )
    return entries


def bulletin_figures(conn: sa.Connection, compact_id: int, month: str) -> dict[str, Any]:
    """The patrol part of a monthly bulletin (月通报): completion and the chiefs under quota by name."""
    done = completion(conn, month, compact_id)
    return {
        "assessed": sum(1 for c in done.chiefs if c.required),
        "done": done.done,
        "required": done.required,
        "rate": percent(done.rate),
        "under_quota": [
            {
                "person": c.person,
                "name": c.name,
                "jurisdiction": c.jurisdiction,
                "window": c.window,
                "done": c.done,
                "required": c.required,
                "rate": percent(c.rate),
            }
            for c in done.under_quota
        ],
    }


def interview_parties(conn: sa.Connection, compact_id: int, quarter: str) -> list[dict[str, Any]]:
    """The chiefs under patrol quota three months running, as parties of a quarterly interview list (季约谈)."""
    return [
        {
            "party": "patrol",
            "jurisdiction_id": e.jurisdiction_id,
            "jurisdiction": e.jurisdiction,
            "chiefs": [e.name],
            "issues": [],
            "person": e.person,
            "months": [{"month": m.window, "done": m.done, "required": m.required} for m in e.months],
        }
        for e in interview_list(conn, quarter, compact_id)
    ]
