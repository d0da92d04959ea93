"""Patrol funding by township class, in whole fen, as the finance office's table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import sqlalchemy as sa

from workflow.core.errors import ValidationFailed
from workflow.core.models import (
    FundingStandard,
    Jurisdiction,
    Patrol,
    Person,
    TownshipClass,
    table_of,
)
from workflow.core.uow import UnitOfWork
from workflow.patrols.basics import QUOTA_KINDS, midnight, month_days, parse_month, round_half_up

_patrol = table_of(Patrol)
_person = table_of(Person)
_juris = table_of(Jurisdiction)
_class = table_of(TownshipClass)
_standard = table_of(FundingStandard)


# -- funding --------------------------------------------------------------------------------------

# The district's share of a township's patrol funding, by the township's class (percent).
DISTRICT_SHARE: dict[str, int] = {"I": 70, "II": 80, "III": 90, "IV": 95}
GRADE_LABELS = {"I": "Ⅰ", "II": "Ⅱ", "III": "Ⅲ", "IV": "Ⅳ"}
_GRADE_ALIASES = {
    **{g: g for g in DISTRICT_SHARE},
    **{label: g for g, label in GRADE_LABELS.items()},
    **{str(i + 1): g for i, g in enumerate(DISTRICT_SHARE)},
}


def parse_yuan(text: str, field: str) -> int:
    """An amount in yuan ("15", "15.5", "15.50") as whole fen; never through a float."""
    try:
        amount = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise ValidationFailed(field, f"{text!r} is not an amount in yuan, e.g. 15.00") from None
    if not amount.is_finite() or amount < 0:
        raise ValidationFailed(field, f"{text!r} is not an amount of zero or more")
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise ValidationFailed(field, f"{text!r} has more than two decimals (fen are the smallest unit)")
    return int(fen)


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals: 150 → 1.50."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _jurisdiction_row(conn: sa.Connection, code: str, field: str = "jurisdiction") -> Any:
    row = conn.execute(
        sa.select(_juris.c.id, _juris.c.code, _juris.c.name, _juris.c.level, _juris.c.path).where(_juris.c.code == code)
    ).first()
    if row is None:
        raise ValidationFailed(field, f"no jurisdiction with code {code!r}")
    return row


def set_township_class(uow: UnitOfWork, jurisdiction: str, grade: str) -> str:
    """Set a township's class (Ⅰ–Ⅳ; I–IV and 1–4 are read too); returns the class as stored."""
    stored = _GRADE_ALIASES.get(grade.strip().upper() if grade.isascii() else grade.strip())
    if stored is None:
        raise ValidationFailed("class", f"{grade!r} is not one of Ⅰ, Ⅱ, Ⅲ, Ⅳ (or I–IV)")
    with uow:
        conn = uow.connection
        row = _jurisdiction_row(conn, jurisdiction)
        if row.level != "township":
            raise ValidationFailed(
                "jurisdiction", f"{row.name} ({row.code}) is a {row.level}; classes are for townships"
            )
        if conn.execute(sa.select(_class.c.grade).where(_class.c.jurisdiction_id == row.id)).first() is None:
            conn.execute(_class.insert().values(jurisdiction_id=row.id, grade=stored))
        else:
            conn.execute(_class.update().where(_class.c.jurisdiction_id == row.id).values(grade=stored))
        uow.commit()
    return stored


def set_funding_standard(
    uow: UnitOfWork, jurisdiction: str, per_patrol_fen: int, insurance_fen: int, effective_from: date
) -> None:
    """Set (or replace) a jurisdiction's patrol funding standard from a day: the subsidy per patrol and the
    yearly accident insurance per patroller, in fen. It applies to every township under the jurisdiction."""
    errors = [
        (name, "must be zero or more fen")
        for name, value in (("per_patrol", per_patrol_fen), ("insurance", insurance_fen))
        if value < 0
    ]
    if errors:
        raise ValidationFailed.of(errors)
    with uow:
        conn = uow.connection
        row = _jurisdiction_row(conn, jurisdiction)
        key = sa.and_(_standard.c.jurisdiction_id == row.id, _standard.c.effective_from == effective_from)
        values = {"per_patrol_fen": per_patrol_fen, "insurance_fen_per_patroller_year": insurance_fen}
        if conn.execute(sa.select(_standard.c.id).where(key)).first() is None:
            conn.execute(_standard.insert().values(jurisdiction_id=row.id, effective_from=effective_from, **values))
        else:
            conn.execute(_standard.update().where(key).values(**values))
        uow.commit()


@dataclass(frozen=True, slots=True)
class FundingRow:
    """One township's patrol funding for a month, in fen."""

    code: str
    name: str
    funder: str  # the jurisdiction whose standard applies
    grade: str
    patrols: int
    patrollers: int
    per_patrol_fen: int
    subsidy_fen: int
    insurance_fen: int
    district_percent: int
    district_fen: int
    township_fen: int

    @property
    def total_fen(self) -> int:
        """Subsidy and insurance together."""
        return self.subsidy_fen + self.insurance_fen


def funding(conn: sa.Connection, month: str) -> list[FundingRow]:
    """Each township under a funding standard in force on the month's first day: its patrols in the month
    (routine and swap, by the patrollers at or under it), its patrollers (active chiefs at or under it),
    the subsidy, a month of insurance, and the district's and township's shares by the township's class.

    Amounts are whole fen, rounded half up once per township; the township's
    share is what the district's leaves, so the two always add up.
    """
    first, end = month_days(*parse_month(month))
    standards: dict[str, Any] = {}
    for r in conn.execute(
        sa.select(_standard, _juris.c.path, _juris.c.name)
        .join(_juris, _juris.c.id == _standard.c.jurisdiction_id)
        .where(_standard.c.effective_from <= first)
        .order_by(_standard.c.effective_from)
    ):
        standards[r.path] = r  # the latest in force per jurisdiction
    if not standards:
        return []
    funders: dict[str, str] = {}  # each township's path: the path of the standard that applies to it
    townships = []
    for t in conn.execute(
        sa.select(_juris.c.id, _juris.c.code, _juris.c.name, _juris.c.path, _class.c.grade)
        .outerjoin(_class, _class.c.jurisdiction_id == _juris.c.id)
        .where(_juris.c.level == "township")
        .order_by(_juris.c.path)
    ):
        funder = _nearest_above(t.path, standards)
        if funder is not None:
            funders[t.path] = funder
            townships.append(t)
    missing = [
        ("township_class", f"{t.name} ({t.code}) has no class (Ⅰ–Ⅳ): set it with `riverchief patrol class {t.code} Ⅱ`")
        for t in townships
        if t.grade is None
    ]
    if missing:
        raise ValidationFailed.of(missing)
    people = conn.execute(
        sa.select(_juris.c.path, sa.func.count())
        .select_from(_person.join(_juris, _juris.c.id == _person.c.jurisdiction_id))
        .where(_person.c.role == "chief", _person.c.active.is_(True))
        .group_by(_juris.c.path)
    ).all()
    # The month's patrols counted per patroller from the index first, then the patrollers' counts (a few per
    # chief) summed by place: the province's month (65,000 patrols at province scale) is joined to nothing.
    by_patroller = (
        sa.select(_patrol.c.patroller_id, sa.func.count().label("n"))
        .where(
            _patrol.c.kind.in_(QUOTA_KINDS),
            _patrol.c.started_at >= midnight(first),
            _patrol.c.started_at < midnight(end),
            _patrol.c.ended_at.is_not(None),  # a patrol still under way is not paid for yet
        )
        .group_by(_patrol.c.patroller_id)
        .subquery("by_patroller")
    )
    patrols = conn.execute(
        sa.select(_juris.c.path, sa.cast(sa.func.sum(by_patroller.c.n), sa.Integer))
        .select_from(by_patroller.join(_person, _person.c.id == by_patroller.c.patroller_id))
        .join(_juris, _juris.c.id == _person.c.jurisdiction_id)
        .group_by(_juris.c.path)
    ).all()
    done_by = _by_township(townships, patrols)
    patrollers_by = _by_township(townships, people)
    rows = []
    for t in townships:
        standard = standards[funders[t.path]]
        done, patrollers = done_by[t.path], patrollers_by[t.path]
        subsidy = done * standard.per_patrol_fen
        insurance = round_half_up(Fraction(standard.insurance_fen_per_patroller_year * patrollers, 12))
        share = DISTRICT_SHARE[t.grade]
        district = round_half_up(Fraction((subsidy + insurance) * share, 100))
        rows.append(
            FundingRow(
                t.code,
                t.name,
                standard.name,
                t.grade,
                done,
                patrollers,
                standard.per_patrol_fen,
                subsidy,
                insurance,
                share,
                district,
                subsidy + insurance - district,
            )
        )
    return rows


def _nearest_above(path: str, paths: Container[str]) -> str | None:
    """The longest of ``paths`` at or above ``path`` ("/500000/500101/"), looked up by its prefixes."""
    nearest = None
    cut = path.find("/", 1)
    while cut != -1:
        if path[: cut + 1] in paths:
            nearest = path[: cut + 1]
        cut = path.find("/", cut + 1)
    return nearest


def _by_township(townships: Sequence[Any], counts: Sequence[Any]) -> Counter[str]:
    """The counts per jurisdiction path summed per township path, for every path at or under the township:
    each path looked up by its prefixes of a township path's length, not tested against every township."""
    paths = {t.path for t in townships}
    lengths = sorted({len(p) for p in paths})
    summed: Counter[str] = Counter()
    for path, n in counts:
        for length in lengths:
            if path[:length] in paths:
                summed[path[:length]] += n
    return summed


FUNDING_COLUMNS = (
    "乡镇代码",
    "乡镇（街道）",
    "补助标准单位",
    "类别",
    "巡河次数",
    "巡河人员",
    "每次补助（元）",
    "巡河补贴（元）",
    "意外保险（元）",
    "合计（元）",
    "区级补助比例",
    "区级承担（元）",
    "乡镇承担（元）",
)


def funding_sheet(rows: Sequence[FundingRow]) -> list[list[Any]]:
    """The finance office's table: a header, a row per township, and a total row; amounts as Decimal yuan."""

    def money(fen: int) -> Decimal:
        return Decimal(fen).scaleb(-2)

    sheet: list[list[Any]] = [list(FUNDING_COLUMNS)]
    for r in rows:
        sheet.append(
            [
                r.code,
                r.name,
                r.funder,
                GRADE_LABELS[r.grade],
                r.patrols,
                r.patrollers,
                money(r.per_patrol_fen),
                money(r.subsidy_fen),
                money(r.insurance_fen),
                money(r.total_fen),
                f"{r.district_percent}%",
                money(r.district_fen),
                money(r.township_fen),
            ]
        )
    sheet.append(
        [
            "",
            "合计",
            "",
            "",
            sum(r.patrols for r in rows),
            sum(r.patrollers for r in rows),
            "",
            money(sum(r.subsidy_fen for r in rows)),
            money(sum(r.insurance_fen for r in rows)),
            money(sum(r.total_fen for r in rows)),
            "",
            money(sum(r.district_fen for r in rows)),
            money(sum(r.township_fen for r in rows)),
        ]
    )
    return sheet
