"""The shared map (一张图) as it is read: every stored feature with the places its name may be written at,
and the issues on it by state group.

A name goes where a reader looks for it: inside an area (a point sure to lie in the polygon, not its centroid,
which may fall outside a U-shaped township), along a line beside it, on a point; each has a few places to try,
so that whoever draws the map can move a name out of another's way. Issues fall into three groups: open
(未办结), open past their deadline (逾期), and closed (销号, its revisit and the archive included);
``states.chart`` says which states are open and which closed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import shapely
import sqlalchemy as sa
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel

from states.chart import CLOSED_STATES, OPEN_STATES
from workflow.core.clock import SHANGHAI
from workflow.core.models import CompactMember, Issue, Jurisdiction, MapFeature, Segment, table_of

# The layers bottom to top: areas first, then lines, then points, so nothing small hides under something large.
LAYER_ORDER = ("jurisdiction", "catchment", "sensitive", "river", "segment", "sewage_plant", "outfall")
# The issue groups, drawn in this order: the urgent ones last, on top.
ISSUE_GROUPS = ("closed", "open", "overdue")
# Which closed issues a map marks (``closed_span``): those closed in the last twelve months, none, or a year's.
CLOSED_RECENT = "recent"
CLOSED_NONE = "none"
RECENT_DAYS = 365

Point = tuple[float, float]
# Where a name stands from its point: centred on it, or on one side of it.
SIDES = ("center", "above", "below", "right", "left")
Place = tuple[Point, str]  # a point and a side
# Where along a line its name is tried, as fractions of its length: the middle first.
ALONG_LINE = (0.5, 0.35, 0.65, 0.2, 0.8)
Box = tuple[float, float, float, float]  # west, south, east, north

_feature = table_of(MapFeature)
_segment = table_of(Segment)
_jurisdiction = table_of(Jurisdiction)
_issue = table_of(Issue)
_member = table_of(CompactMember)


@dataclass(frozen=True, slots=True)
class Feature:
    """One stored feature: its layer, code, name, GeoJSON geometry and where its name is written."""

    layer: str
    code: str
    name: str
    geometry: dict[str, Any]
    places: tuple[Place, ...]  # where its name may go, best first (``label_places``)
    level: str | None = None  # a jurisdiction's level (province … village): larger areas are named first


@dataclass(frozen=True, slots=True)
class MarkedIssue:
    """An issue placed on the map, with its state group."""

    code: str
    title: str
    state: str
    lon: float
    lat: float
    group: str  # one of ISSUE_GROUPS


def label_places(geometry: dict[str, Any]) -> tuple[Place, ...]:
    """Where a geometry's name may go, best first, each with the side of its point it stands on (``SIDES``).

    In the largest area, centred: first at the point farthest from its edges, then at others inside it. On
    a point, centred. Along the longest line, halfway first, then nearer its ends (for when the middle is
    crowded); above or below the line where it runs more across than up and down, else right or left of it,
    so that the name does not cover the line. Nothing for an empty or broken geometry.
    """
    found = _shape(geometry)
    return _places(found) if found is not None else ()


def _shape(geometry: dict[str, Any]) -> BaseGeometry | None:
    try:
        if geometry.get("type") == "LineString":  # a segment's: made in one call, not point by point
            found: BaseGeometry = shapely.linestrings(geometry["coordinates"])
        else:
            found = shape(geometry)
    except (ValueError, TypeError, AttributeError, KeyError, shapely.errors.GEOSException):
        return None
    return None if found.is_empty else found


def _places(found: BaseGeometry) -> tuple[Place, ...]:
    parts = list(getattr(found, "geoms", [found]))
    if found.geom_type in ("MultiLineString", "LineString"):
        line = max(parts, key=lambda p: p.length)
        return tuple(
            (_rounded(line.interpolate(f, normalized=True)), side)
            for f in ALONG_LINE
            for side in _sides_of(line, f * line.length)
        )
    if found.geom_type in ("MultiPolygon", "Polygon"):
        area = max(parts, key=lambda p: p.area)
        inside = [polylabel(area, tolerance=math.sqrt(area.area) / 50), area.representative_point(), area.centroid]
        points = dict.fromkeys(_rounded(p) for p in inside if area.contains(p))
        return tuple((p, "center") for p in points)
    return ((_rounded(parts[0].representative_point()), "center"),)


def _rounded(point: ShapelyPoint) -> Point:
    return round(point.x, 6), round(point.y, 6)


def _sides_of(line: BaseGeometry, distance: float) -> tuple[str, str]:
    step = line.length / 20
    before, after = line.interpolate(max(distance - step, 0)), line.interpolate(min(distance + step, line.length))
    across = abs(after.x - before.x) * math.cos(math.radians((after.y + before.y) / 2))
    return ("above", "below") if across >= abs(after.y - before.y) else ("right", "left")


def stored_features(
    conn: sa.Connection, near: Box | None = None, tolerance: float = 0.0, *, named: bool = True
) -> list[Feature]:
    """The stored layers in drawing order; ``near`` keeps only the features whose bounding box meets it.

    A segment known only from the reference data (its line in ``segment.geometry``, no feature imported for
    it) is drawn all the same; its box (``segment.min_lon`` ...) picks it as ``map_feature``'s picks a
    feature, in SQL. With a ``tolerance`` (degrees) lines and areas are simplified to what a drawing of that
    resolution can show, and their names placed on what is drawn; a map that writes no names (``named``
    False) is spared finding their places.
    """
    query = (
        sa.select(_feature.c.layer, _feature.c.code, _feature.c.name, _feature.c.geometry, _jurisdiction.c.level)
        .outerjoin(_jurisdiction, sa.and_(_feature.c.layer == "jurisdiction", _jurisdiction.c.code == _feature.c.code))
        .order_by(_feature.c.id)
    )
    segments = sa.select(_segment.c.code, _segment.c.name, _segment.c.geometry).where(_segment.c.geometry.is_not(None))
    if near is not None:
        query = query.where(*_meets(_feature, near))
        segments = segments.where(*_meets(_segment, near))
    rows = conn.execute(query).all()
    found = [_read(r.layer, r.code, r.name, r.geometry, tolerance, named, r.level) for r in rows]
    drawn = {f.code for f in found if f.layer == "segment"}
    for s in conn.execute(segments.order_by(_segment.c.id)):
        if s.code not in drawn and s.geometry:
            line = {"type": "LineString", "coordinates": [[p[0], p[1]] for p in s.geometry]}
            found.append(_read("segment", s.code, s.name, line, tolerance, named))
    rank = {layer: i for i, layer in enumerate(LAYER_ORDER)}
    return sorted(found, key=lambda f: rank.get(f.layer, len(rank)))


def _meets(table: sa.Table, box: Box) -> tuple[sa.ColumnElement[bool], ...]:
    """Whether a row's bounding box meets ``box`` (west, south, east, north): what ``ix_segment_box`` serves."""
    west, south, east, north = box
    return (table.c.min_lon <= east, table.c.max_lon >= west, table.c.min_lat <= north, table.c.max_lat >= south)


def _read(
    layer: str, code: str, name: str, geometry: dict[str, Any], tolerance: float, named: bool, level: str | None = None
) -> Feature:
    """A stored feature, its geometry simplified to ``tolerance`` degrees (none: as stored), with the places
    of its name when ``named``."""
    found = _shape(geometry) if named or tolerance > 0 else None
    if found is None:
        return Feature(layer, code, name, geometry, (), level)
    if tolerance > 0 and found.geom_type not in ("Point", "MultiPoint"):
        # An area keeps its rings valid; a line needs no such care (and is simplified several times faster).
        simpler = found.simplify(tolerance, preserve_topology=found.geom_type in ("Polygon", "MultiPolygon"))
        if not simpler.is_empty:
            found, geometry = simpler, json.loads(shapely.to_geojson(simpler))
    return Feature(layer, code, name, geometry, _places(found) if named else (), level)


def frame_of_compacts(
    conn: sa.Connection, compact_ids: frozenset[int], issues: Sequence[MarkedIssue] = ()
) -> Box | None:
    """What a map of these compacts shows (west, south, east, north): the areas and segments of their member
    jurisdictions and of every place under them, and the ``issues`` marked on it (read already, so not read
    again); None when none of them has a place."""
    west, south, east, north = math.inf, math.inf, -math.inf, -math.inf
    if compact_ids:
        member = _jurisdiction.alias("member")
        under = (
            sa.select(_jurisdiction.c.id, _jurisdiction.c.code)
            .join(member, _jurisdiction.c.path.startswith(member.c.path))
            .join(_member, _member.c.jurisdiction_id == member.c.id)
            .where(_member.c.compact_id.in_(sorted(compact_ids)))
            .cte("under")
        )
        boxes = sa.union_all(
            sa.select(_segment.c.min_lon, _segment.c.min_lat, _segment.c.max_lon, _segment.c.max_lat).where(
                _segment.c.jurisdiction_id.in_(sa.select(under.c.id))
            ),
            sa.select(_feature.c.min_lon, _feature.c.min_lat, _feature.c.max_lon, _feature.c.max_lat).where(
                _feature.c.layer == "jurisdiction", _feature.c.code.in_(sa.select(under.c.code))
            ),
        ).subquery()
        found = conn.execute(
            sa.select(
                sa.func.min(boxes.c.min_lon),
                sa.func.min(boxes.c.min_lat),
                sa.func.max(boxes.c.max_lon),
                sa.func.max(boxes.c.max_lat),
            )
        ).one()
        if found[0] is not None:
            west, south, east, north = (float(v) for v in found)
    for issue in issues:
        west, south, east, north = (
            min(west, issue.lon),
            min(south, issue.lat),
            max(east, issue.lon),
            max(north, issue.lat),
        )
    return (west, south, east, north) if west <= east else None


def group_of(state: str, due_at: datetime | None, now: datetime) -> str | None:
    """An issue's group on the map; None for one ended without a closure (dismissed, merged as a duplicate)."""
    if state in CLOSED_STATES:
        return "closed"
    if state not in OPEN_STATES:
        return None
    return "overdue" if due_at is not None and due_at < now else "open"


def closed_span(choice: str, now: datetime) -> tuple[datetime, datetime | None] | None:
    """When the closed issues a map marks were closed (from, until; None: to this day): ``CLOSED_RECENT`` the
    last twelve months, a year ("2021") that calendar year in Asia/Shanghai, ``CLOSED_NONE`` none (None)."""
    if choice == CLOSED_NONE:
        return None
    if choice == CLOSED_RECENT:
        return now - timedelta(days=RECENT_DAYS), None
    year = int(choice)
    return datetime(year, 1, 1, tzinfo=SHANGHAI), datetime(year + 1, 1, 1, tzinfo=SHANGHAI)


def earliest_closure(conn: sa.Connection, compact_ids: frozenset[int]) -> datetime | None:
    """When the first of these compacts' issues with a position that is closed now was closed (None: none is):
    the oldest year a map's closed layer may be asked for."""
    return conn.execute(
        sa.select(sa.func.min(_issue.c.closed_at)).where(
            _issue.c.compact_id.in_(sorted(compact_ids)),
            _issue.c.lon.is_not(None),
            _issue.c.lat.is_not(None),
            _issue.c.state.in_(sorted(CLOSED_STATES)),
        )
    ).scalar()


def marked_issues(
    conn: sa.Connection,
    compact_ids: frozenset[int],
    now: datetime,
    closed: tuple[datetime, datetime | None] | None,
) -> list[MarkedIssue]:
    """The issues of these compacts that have a position and are open (all of them, however old) or were
    closed within ``closed`` (from, until, ``closed_span``; None: no closed one), in drawing order (by group).

    Ten years of a compact's closed issues would bury the open ones (and take seconds to draw): a coordinator
    looks at what is open and at what was closed lately, and asks for an older year when needed."""
    wanted: sa.ColumnElement[bool] = _issue.c.state.in_(sorted(OPEN_STATES))
    if closed is not None:
        since, until = closed
        within = [_issue.c.state.in_(sorted(CLOSED_STATES)), _issue.c.closed_at >= since]
        if until is not None:
            within.append(_issue.c.closed_at < until)
        wanted = sa.or_(wanted, sa.and_(*within))
    rows = conn.execute(
        sa.select(_issue.c.code, _issue.c.title, _issue.c.state, _issue.c.due_at, _issue.c.lon, _issue.c.lat)
        .where(
            _issue.c.compact_id.in_(sorted(compact_ids)),
            _issue.c.lon.is_not(None),
            _issue.c.lat.is_not(None),
            wanted,
        )
        .order_by(_issue.c.id)
    ).all()
    marked = []
    for r in rows:
        group = group_of(r.state, r.due_at, now)
        if group is not None:
            marked.append(MarkedIssue(r.code, r.title, r.state, r.lon, r.lat, group))
    return sorted(marked, key=lambda m: ISSUE_GROUPS.index(m.group))
