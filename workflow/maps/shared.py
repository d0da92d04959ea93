"""The shared map (一张图) as it is read: every stored feature with the places its name may be written at,
and the issues on it by state group.

What a drawing needs of a feature (its course simplified to the drawing's resolution, where its name goes)
is worked out when the feature is written and read back as stored (``workflow.core.drawing``). Issues fall
into three groups: open (未办结), open past their deadline (逾期), and closed (销号, its revisit and the
archive included); ``states.chart`` says which states are open and which closed.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from states.chart import CLOSED_STATES, OPEN_STATES
from workflow.core.clock import SHANGHAI
from workflow.core.drawing import (
    PLACES_COLUMN,
    Place,
    drawing,
    drawn_column,
    read_places,
    segment_line,
    zoom_for,
    zoom_tolerance,
)
from workflow.core.models import CompactMember, Issue, Jurisdiction, MapFeature, Segment, table_of

# The layers bottom to top: areas first, then lines, then points, so nothing small hides under something large.
LAYER_ORDER = ("jurisdiction", "catchment", "sensitive", "river", "segment", "sewage_plant", "outfall")
# The issue groups, drawn in this order: the urgent ones last, on top.
ISSUE_GROUPS = ("closed", "open", "overdue")
# Which closed issues a map marks (``closed_span``): those closed in the last twelve months, none, or a year's.
CLOSED_RECENT = "recent"
CLOSED_NONE = "none"
RECENT_DAYS = 365

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


def stored_features(
    conn: sa.Connection, near: Box | None = None, tolerance: float = 0.0, *, named: bool = True
) -> list[Feature]:
    """The stored layers in drawing order; ``near`` keeps only the features whose bounding box meets it.

    A segment known only from the reference data (its line in ``segment.geometry``, no feature imported for
    it) is drawn all the same; its box (``segment.min_lon`` ...) picks it as ``map_feature``'s picks a
    feature, in SQL. With a ``tolerance`` (degrees) lines and areas are drawn as stored for the coarsest zoom
    at or finer than it (``zoom_for``), their names placed on what is drawn; a map that writes no names
    (``named`` False) is spared their places. A row stored without its drawing has it worked out here, the
    same as it would have been stored.
    """
    return stored_frame(conn, near, tolerance, named=named).features()


@dataclass(frozen=True, slots=True)
class StoredFrame:
    """The stored rows a drawing of a frame reads, their JSON still as text: ``digest`` names what they hold, so
    that what is drawn of them can be kept until a row in the frame is written again, and ``features`` decodes
    them (``stored_features``)."""

    # layer, code, name, level, drawing, geometry (JSON text), and whether the geometry is a segment's bare line
    rows: tuple[tuple[str, str, str, str | None, str | None, str | None, bool], ...]
    zoom: int | None  # the zoom read (None: as stored)
    drawn_at: float  # its tolerance (0: as stored)
    named: bool

    def digest(self) -> str:
        """A digest of every row's layer, code, name, level, drawing and geometry as stored, and of the zoom
        read: the same until a row in the frame is written again (whatever wrote it), a row comes or goes."""
        found = hashlib.blake2b(repr((self.zoom, self.named)).encode(), digest_size=20)
        for row in self.rows:
            found.update(repr(row).encode())
        return found.hexdigest()

    def features(self) -> list[Feature]:
        """The rows as features, in drawing order."""
        found = []
        for layer, code, name, level, drawn_text, geometry_text, bare in self.rows:
            drawn, geometry = _json(drawn_text), _json(geometry_text)
            if bare:  # a segment known only from the reference data: drawn when it has a line
                if not (geometry or drawn):
                    continue
                geometry = segment_line(geometry) if geometry else None
            found.append(_read(layer, code, name, geometry, drawn, self.drawn_at, self.named, level))
        rank = {layer: i for i, layer in enumerate(LAYER_ORDER)}
        return sorted(found, key=lambda f: rank.get(f.layer, len(rank)))


def stored_frame(
    conn: sa.Connection, near: Box | None = None, tolerance: float = 0.0, *, named: bool = True
) -> StoredFrame:
    """The rows ``stored_features`` reads, undecoded, with a digest of all they hold (two statements, as it)."""
    zoom = zoom_for(tolerance)
    drawn_at = zoom_tolerance(zoom) if zoom is not None else 0.0
    query = (
        sa.select(_feature.c.layer, _feature.c.code, _feature.c.name, _jurisdiction.c.level, *_drawn(_feature, zoom))
        .outerjoin(_jurisdiction, sa.and_(_feature.c.layer == "jurisdiction", _jurisdiction.c.code == _feature.c.code))
        .order_by(_feature.c.id)
    )
    segments = sa.select(_segment.c.code, _segment.c.name, *_drawn(_segment, zoom)).where(
        _segment.c.geometry.is_not(None)
    )
    if near is not None:
        query = query.where(*_meets(_feature, near))
        segments = segments.where(*_meets(_segment, near))
    rows = [(r.layer, r.code, r.name, r.level, r.drawn, r.geometry, False) for r in conn.execute(query)]
    done = {row[1] for row in rows if row[0] == "segment"}
    rows += [
        ("segment", s.code, s.name, None, s.drawn, s.geometry, True)
        for s in conn.execute(segments.order_by(_segment.c.id))
        if s.code not in done
    ]
    return StoredFrame(tuple(rows), zoom, drawn_at, named)


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _drawn(table: sa.Table, zoom: int | None) -> tuple[sa.ColumnElement[Any], sa.ColumnElement[Any]]:
    """A row's stored drawing at ``zoom`` (None: the places of its name on the geometry as stored) as
    ``drawn``, and its geometry as ``geometry``: as stored, but at a zoom only for a row stored without its
    drawing, so that a row's whole course is not sent and decoded for nothing."""
    # As text: decoded only when what is drawn of them is not kept already (``StoredFrame.digest``).
    if zoom is None:
        return _text(table.c[PLACES_COLUMN]).label("drawn"), _text(table.c.geometry).label("geometry")
    stored = table.c[drawn_column(zoom)]
    return _text(stored).label("drawn"), sa.case((stored.is_(None), _text(table.c.geometry))).label("geometry")


def _text(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    return sa.cast(column, sa.Text)


def _meets(table: sa.Table, box: Box) -> tuple[sa.ColumnElement[bool], ...]:
    """Whether a row's bounding box meets ``box`` (west, south, east, north): what ``ix_segment_box`` serves."""
    west, south, east, north = box
    return (table.c.min_lon <= east, table.c.max_lon >= west, table.c.min_lat <= north, table.c.max_lat >= south)


def _read(
    layer: str,
    code: str,
    name: str,
    geometry: dict[str, Any] | None,
    drawn: Any,
    tolerance: float,
    named: bool,
    level: str | None = None,
) -> Feature:
    """A stored feature, simplified to ``tolerance`` degrees (none: as stored), with the places of its name
    when ``named``: from its stored drawing (``drawn``) when it has one, else worked out from ``geometry``."""
    if drawn is None:  # stored before its drawing was: worked out now, as it would have been stored
        shown, places = drawing(geometry or {}, tolerance, named)
        return Feature(layer, code, name, shown, places, level)
    if tolerance > 0:  # the drawing at its zoom: {"geometry": ..., "places": [...]}
        return Feature(layer, code, name, drawn["geometry"], read_places(drawn["places"]) if named else (), level)
    return Feature(layer, code, name, geometry or {}, read_places(drawn) if named else (), level)


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
