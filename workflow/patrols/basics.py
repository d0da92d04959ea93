"""The patrol vocabulary and limits, the month arithmetic every patrol module shares, and look-ups by code."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from typing import Any

import sqlalchemy as sa

from states.words import word
from workflow.core.clock import SHANGHAI
from workflow.core.errors import ValidationFailed
from workflow.core.models import (
    Compact,
    CompactMember,
    Jurisdiction,
    Person,
    Segment,
    table_of,
)

_person = table_of(Person)
_segment = table_of(Segment)
_juris = table_of(Jurisdiction)
_member = table_of(CompactMember)
_compact = table_of(Compact)


KINDS = ("routine", "swap", "covert")
# Patrols that count toward a chief's own quota and its funding; a covert inspection checks on others.
QUOTA_KINDS = ("routine", "swap")
RELATIONS = ("upstream", "downstream", "left_bank", "right_bank")
PERIODS = ("week", "tenday", "month", "quarter", "year")
LEVELS = ("village", "township", "district", "city", "province")

# Common practice where nothing is configured: a village chief weekly, a township chief every ten days,
# a district chief monthly, a city chief quarterly, a province chief twice a year. Load ``patrol_quotas:``
# with the reference data to put quotas in force (`riverchief load`); none are in force until then.
DEFAULT_QUOTAS: tuple[tuple[str, int, str], ...] = (
    ("village", 1, "week"),
    ("township", 1, "tenday"),
    ("district", 1, "month"),
    ("city", 1, "quarter"),
    ("province", 2, "year"),
)

MAX_PATROL = timedelta(hours=24)
# How far ahead of the server's clock a phone's may run: a start or an end this far "in the future" is taken.
CLOCK_SKEW = timedelta(minutes=5)
# Patrols in one batch (a year's import of a busy district is about 1,200: two batches).
BATCH_MAX = 1000
MAX_TRACK_BYTES = 20 * 1024 * 1024
MAX_TRACK_POINTS = 200_000
# The mean radius of the WGS 84 ellipsoid: a haversine sum with it is within about 0.5% of the geodesic.
EARTH_RADIUS_M = 6_371_008.8


def kind_label(kind: str, *, en: bool = False) -> str:
    """A patrol kind's words (日常巡河, routine patrol); the code as stored for a kind no longer listed."""
    return word(f"kind_{kind}", en) if kind in KINDS else kind


def level_label(level: str, *, en: bool = False) -> str:
    """A chief's level (村级, village); the code as stored for a level no longer listed."""
    return word(f"common.level.{level}", en) if level in LEVELS else level


def local_day(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


def parse_month(value: str, field: str = "month") -> tuple[int, int]:
    """A month written 2026-03, as (year, month); ValidationFailed naming ``field`` otherwise."""
    try:
        year, month = (int(part) for part in value.split("-"))
        date(year, month, 1)
    except ValueError:
        raise ValidationFailed(field, f"{value!r} is not a month like 2026-03") from None
    if len(value) != 7:
        raise ValidationFailed(field, f"{value!r} is not a month like 2026-03")
    return year, month


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def month_days(year: int, month: int) -> tuple[date, date]:
    """The first day of the month and of the next."""
    return date(year, month, 1), date(*_next_month(year, month), 1)


def ancestors(path: str) -> list[str]:
    """ "/500000/500152/" → ["/500000/", "/500000/500152/"]."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def percent(rate: Fraction | None) -> str:
    """A rate as people read it: 128%, or — when nothing was required."""
    return "—" if rate is None else f"{round_half_up(rate * 100)}%"


# -- people, segments and sides -------------------------------------------------------------------


def person_row(conn: sa.Connection, code: str, field: str) -> Any:
    row = conn.execute(
        sa.select(_person.c.id, _person.c.code, _person.c.name, _person.c.role, _person.c.active, _juris.c.path)
        .select_from(_person.outerjoin(_juris, _juris.c.id == _person.c.jurisdiction_id))
        .where(_person.c.code == code)
    ).first()
    if row is None or not row.active:
        raise ValidationFailed(field, f"no active person with code {code!r}")
    return row


def _segments() -> sa.Select[Any]:
    return sa.select(
        _segment.c.id,
        _segment.c.code,
        _segment.c.name,
        _segment.c.chief_id,
        _segment.c.counterpart_id,
        _segment.c.relation,
        _juris.c.id.label("jurisdiction_id"),
        _juris.c.code.label("jurisdiction_code"),
        _juris.c.name.label("jurisdiction"),
        _juris.c.path,
    ).join(_juris, _juris.c.id == _segment.c.jurisdiction_id)


def segment_row(conn: sa.Connection, code: str, field: str = "segment") -> Any:
    row = conn.execute(_segments().where(_segment.c.code == code)).first()
    if row is None:
        raise ValidationFailed(field, f"no segment with code {code!r}")
    return row


def segment_rows(conn: sa.Connection, codes: Iterable[str]) -> dict[str, Any]:
    """The segments named, by code, in one query; a code with no segment is left out."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    return {row.code: row for row in conn.execute(_segments().where(_segment.c.code.in_(wanted)))}


def owns_segment(person_id: int | None, person_path: str | None, segment: Any) -> bool:
    """A chief's own segment: the one they are chief of, or any in their jurisdiction."""
    return segment.chief_id == person_id or bool(person_path and segment.path.startswith(person_path))


def side_of_path(paths: Iterable[str], path: str) -> str | None:
    """The compact member a jurisdiction belongs to, by path."""
    return next((p for p in paths if path.startswith(p)), None)
