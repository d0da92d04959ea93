"""Possible duplicates: the open issues of a category near a point, nearest first, with their distances.

A bounding box in SQL (on ``lon`` and ``lat``, both databases alike) keeps the candidates few; the
great-circle distance in Python decides. "Open" is neither terminal nor closed: a problem closed and seen
again is a rebound for its revisit, not a duplicate. When the new report's segment is known, an issue on
another segment is a different problem; one recorded without a segment may still be the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from states.chart import CHART
from states.policy import CATEGORIES, DUPLICATE_DAYS, DUPLICATE_MAX, DUPLICATE_RADIUS_M
from workflow.core.errors import ValidationFailed
from workflow.core.models import Issue, Segment, table_of

_issue = table_of(Issue)
_segment = table_of(Segment)

# The mean radius of the WGS 84 ellipsoid: a haversine with it is within about 0.5% of the geodesic.
EARTH_RADIUS_M = 6_371_008.8
_M_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180
# The box is this much wider than the radius, so rounding never loses a neighbour at its edge.
_SLACK = 1.01
_TERMINAL = tuple(s.name for s in CHART.states if s.terminal)


@dataclass(frozen=True, slots=True)
class NearbyIssue:
    """An open issue near a point, and how far from it."""

    code: str
    title: str
    category: str
    state: str
    segment: str | None  # the segment's code
    created_at: datetime
    distance_m: float


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """The great-circle distance between two WGS 84 positions, in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def check_position(lon: float, lat: float) -> None:
    """Refuse a position off the globe, naming the coordinate."""
    errors = []
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        errors.append(("lon", "must be between -180 and 180"))
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        errors.append(("lat", "must be between -90 and 90"))
    if errors:
        raise ValidationFailed.of(errors)


def nearby_open(
    conn: sa.Connection,
    compact_id: int,
    lon: float,
    lat: float,
    category: str,
    segment: str | None = None,
    *,
    now: datetime,
    exclude: str | None = None,
    radius_m: float = DUPLICATE_RADIUS_M,
    days: int = DUPLICATE_DAYS,
    limit: int = DUPLICATE_MAX,
) -> list[NearbyIssue]:
    """The compact's open issues of ``category`` within ``radius_m`` of (lon, lat), reported in the last
    ``days``, on ``segment`` (a code) or on no recorded segment when one is given; nearest first.

    ``exclude`` leaves out one issue (the one a duplicate is being marked on).
    """
    check_position(lon, lat)
    if category not in CATEGORIES:
        raise ValidationFailed("category", f"{category!r} is not one of {', '.join(CATEGORIES)}")
    where = [
        _issue.c.compact_id == compact_id,
        _issue.c.category == category,
        _issue.c.state.not_in(_TERMINAL),
        _issue.c.closed_at.is_(None),
        _issue.c.created_at >= now - timedelta(days=days),
        *_box(lon, lat, radius_m),
    ]
    if segment:
        segment_id = conn.execute(sa.select(_segment.c.id).where(_segment.c.code == segment)).scalar()
        if segment_id is None:
            raise ValidationFailed("segment", f"no segment with code {segment!r}")
        where.append(sa.or_(_issue.c.segment_id == segment_id, _issue.c.segment_id.is_(None)))
    if exclude:
        where.append(_issue.c.code != exclude)
    rows = conn.execute(
        sa.select(
            _issue.c.code,
            _issue.c.title,
            _issue.c.category,
            _issue.c.state,
            _issue.c.created_at,
            _issue.c.lon,
            _issue.c.lat,
            _segment.c.code.label("segment"),
        )
        .select_from(_issue.outerjoin(_segment, _segment.c.id == _issue.c.segment_id))
        .where(*where)
    ).all()
    found = [
        NearbyIssue(r.code, r.title, r.category, r.state, r.segment, r.created_at, d)
        for r in rows
        if (d := haversine_m(lon, lat, r.lon, r.lat)) <= radius_m
    ]
    found.sort(key=lambda n: (n.distance_m, n.code))
    return found[:limit]


def _box(lon: float, lat: float, radius_m: float) -> list[sa.ColumnElement[bool]]:
    """The lon/lat box around the circle (no longitude bound where the circle reaches a pole or the date line)."""
    dlat = radius_m * _SLACK / _M_PER_DEGREE
    box: list[sa.ColumnElement[bool]] = [
        _issue.c.lat.is_not(None),
        _issue.c.lon.is_not(None),
        _issue.c.lat.between(lat - dlat, lat + dlat),
    ]
    reach = max(abs(lat) + dlat, 0.0)
    if reach < 89.0:
        dlon = dlat / math.cos(math.radians(reach))
        if lon - dlon > -180 and lon + dlon < 180:
            box.append(_issue.c.lon.between(lon - dlon, lon + dlon))
    return box


@dataclass(frozen=True, slots=True)
class LinkedIssue:
    """An issue a duplicate was merged into, or one merged into it."""

    code: str
    title: str
    state: str


_MERGED_INTO = _issue.alias("merged_into")
# Built once: every issue page asks both (an alias's columns cost more to set up than the statement to run).
_ORIGINAL = (
    sa.select(_MERGED_INTO.c.code, _MERGED_INTO.c.title, _MERGED_INTO.c.state)
    .join(_issue, _issue.c.duplicate_of_id == _MERGED_INTO.c.id)
    .where(_issue.c.id == sa.bindparam("issue_id"))
)
_DUPLICATES = (
    sa.select(_issue.c.code, _issue.c.title, _issue.c.state)
    .where(_issue.c.duplicate_of_id == sa.bindparam("issue_id"))
    .order_by(_issue.c.created_at, _issue.c.id)
)


def duplicate_links(conn: sa.Connection, issue_id: int) -> tuple[LinkedIssue | None, list[LinkedIssue]]:
    """The issue this one was merged into (if it is a duplicate), and the duplicates merged into it, oldest first."""
    original = conn.execute(_ORIGINAL, {"issue_id": issue_id}).first()
    duplicates = conn.execute(_DUPLICATES, {"issue_id": issue_id}).all()
    return (
        LinkedIssue(original.code, original.title, original.state) if original else None,
        [LinkedIssue(d.code, d.title, d.state) for d in duplicates],
    )
