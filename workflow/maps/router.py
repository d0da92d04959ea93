"""Point routing on the shared map: a place → its jurisdiction, the nearest segment, the bank and the sides near it.

Geometry is WGS 84 [lon, lat], tested for containment as drawn (GeoJSON's
straight lines in lon/lat). Distances are measured in metres on the local
tangent plane of the WGS 84 ellipsoid at the point: one degree east is
``N·cos φ·π/180`` metres and one degree north ``M·π/180``, with N and M the
ellipsoid's radii of curvature there. Within the 2 km the router ever measures
that is exact to a few parts in a hundred thousand, so no projection library
is needed.

Speed: one STRtree query per layer with a ``dwithin`` predicate in degrees
(wide enough east-west that nothing within the distance in metres is missed),
then exact metric distances only for the few candidates near a border.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from workflow.core.errors import ValidationFailed

if TYPE_CHECKING:
    import sqlalchemy as sa

_A = 6378137.0  # WGS 84 semi-major axis, metres
_E2 = 6.69437999014e-3  # WGS 84 first eccentricity squared
# A candidate box is this much wider than the distance asked for, so rounding never loses a neighbour.
_SLACK = 1.01


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and of latitude at a latitude (WGS 84 ellipsoid)."""
    phi = math.radians(lat)
    w = 1.0 - _E2 * math.sin(phi) ** 2
    n = _A / math.sqrt(w)  # prime vertical radius of curvature
    m = _A * (1.0 - _E2) / w**1.5  # meridional radius of curvature
    return math.radians(1.0) * n * math.cos(phi), math.radians(1.0) * m


@dataclass(frozen=True, slots=True)
class Routing:
    """Where a point falls on the map: who owns it, which segment it is by and who else is near.

    ``jurisdiction`` is the deepest jurisdiction whose polygon holds the point;
    on a shared border (the point on both polygons' boundary) the one whose
    interior holds it, then the deeper, then the lower division code. Off
    every polygon, the nearest within ``border_m``. ``sides`` names it first,
    then every other jurisdiction within ``border_m`` (nearest first), leaving
    out the ancestors of any of them.
    """

    jurisdiction: str | None  # a division code
    segment: str | None  # the nearest segment within segment_max_m
    bank: str | None  # left_bank | right_bank facing downstream; None without a segment or on its centre line
    sides: tuple[str, ...]
    distance_m: float | None  # metres to that segment
    sensitive: tuple[str, ...] = ()  # sensitive areas (看) within border_m of the point


@dataclass(frozen=True, slots=True)
class Area:
    """A polygon the router knows: a jurisdiction (with its tree path) or a sensitive area."""

    code: str
    name: str
    geometry: BaseGeometry
    path: str = ""  # "/510000/510900/510904/": a jurisdiction's place in the tree


@dataclass(frozen=True, slots=True)
class Line:
    """A segment's course, drawn downstream as [[lon, lat], ...]."""

    code: str
    name: str
    coords: Sequence[Sequence[float]]


class Router:
    """Routes points against the map held in memory; build once (``Router.load``), query many times.

    ``route`` may be called from several threads: GEOS prepared geometries are
    not safe to share between threads, so one lock serialises the queries.
    """

    def __init__(
        self,
        jurisdictions: Sequence[Area],
        segments: Sequence[Line] = (),
        sensitive: Sequence[Area] = (),
        *,
        border_m: float = 200.0,
        segment_max_m: float = 2000.0,
    ) -> None:
        if border_m < 0 or segment_max_m < 0:
            raise ValidationFailed("border_m" if border_m < 0 else "segment_max_m", "must not be negative")
        self.border_m = border_m
        self.segment_max_m = segment_max_m
        self._areas = list(jurisdictions)
        self._area_geoms = np.array([a.geometry for a in self._areas], dtype=object)
        self._codes = [a.code for a in self._areas]
        self._paths = [a.path for a in self._areas]
        self._depth = [a.path.count("/") for a in self._areas]
        self._area_tree = shapely.STRtree(self._area_geoms)
        self._segments = [s for s in segments if len(s.coords) >= 2]
        coords = [np.asarray(s.coords, dtype=float)[:, :2] for s in self._segments]
        self._segment_tree = shapely.STRtree([shapely.LineString(c) for c in coords])
        # Every segment's edges in one array, so the candidates near a point are measured in one go.
        counts = [len(c) - 1 for c in coords]
        offsets = np.concatenate([[0], np.cumsum(counts, dtype=int)]).tolist()
        self._edge_start = np.concatenate([c[:-1] for c in coords]) if coords else np.empty((0, 2))
        self._edge_vector = np.concatenate([np.diff(c, axis=0) for c in coords]) if coords else np.empty((0, 2))
        self._edge_owner: list[int] = np.repeat(np.arange(len(coords)), counts).tolist()
        self._edges_of = [np.arange(offsets[i], offsets[i + 1]) for i in range(len(coords))]
        self._edge_first, self._edge_last = offsets[:-1], [end - 1 for end in offsets[1:]]
        self._sensitive = list(sensitive)
        self._sensitive_geoms = np.array([a.geometry for a in self._sensitive], dtype=object)
        self._sensitive_tree = shapely.STRtree(self._sensitive_geoms)
        shapely.prepare(self._area_geoms)
        shapely.prepare(self._sensitive_geoms)
        self.jurisdiction_names = {a.code: a.name for a in self._areas}
        self.segment_names = {s.code: s.name for s in self._segments}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, conn: sa.Connection, *, border_m: float = 200.0, segment_max_m: float = 2000.0) -> Router:
        """The map as stored: jurisdiction polygons, segment lines (``segment.geometry``) and sensitive areas."""
        import sqlalchemy as sa

        from workflow.core.models import Jurisdiction, MapFeature, Segment, table_of

        f, j, s = table_of(MapFeature), table_of(Jurisdiction), table_of(Segment)
        areas = [
            Area(code, name, shape(geometry), path)
            for code, name, path, geometry in conn.execute(
                sa.select(j.c.code, j.c.name, j.c.path, f.c.geometry)
                .join(j, j.c.id == f.c.jurisdiction_id)
                .where(f.c.layer == "jurisdiction")
                .order_by(f.c.id)
            )
        ]
        lines = [
            Line(code, name, geometry)
            for code, name, geometry in conn.execute(
                sa.select(s.c.code, s.c.name, s.c.geometry).where(s.c.geometry.is_not(None)).order_by(s.c.id)
            )
            if geometry
        ]
        sensitive = [
            Area(code, name, shape(geometry))
            for code, name, geometry in conn.execute(
                sa.select(f.c.code, f.c.name, f.c.geometry).where(f.c.layer == "sensitive").order_by(f.c.id)
            )
        ]
        return cls(areas, lines, sensitive, border_m=border_m, segment_max_m=segment_max_m)

    def route(self, lon: float, lat: float) -> Routing:
        """Where (lon, lat) falls: jurisdiction, nearest segment and bank, the sides within border_m."""
        _check_position(lon, lat)
        lon, lat = float(lon), float(lat)
        kx, ky = metres_per_degree(lat)
        point = shapely.Point(lon, lat)
        segment = bank = distance = None
        sensitive: tuple[str, ...] = ()
        with self._lock:
            jurisdiction, sides = self._jurisdictions(point, lon, lat, kx, ky)
            if self._segments:
                segment, bank, distance = self._segment(point, lon, lat, kx, ky)
            if self._sensitive:
                sensitive = self._near_sensitive(point, lon, lat, kx, ky)
        return Routing(jurisdiction, segment, bank, sides, distance, sensitive)

    def _jurisdictions(
        self, point: shapely.Point, lon: float, lat: float, kx: float, ky: float
    ) -> tuple[str | None, tuple[str, ...]]:
        # kx <= ky, so border_m / kx degrees reaches at least border_m in every direction.
        found: list[int] = self._area_tree.query(
            point, predicate="dwithin", distance=self.border_m * _SLACK / kx
        ).tolist()
        if not found:
            return None, ()
        covers = shapely.intersects_xy(self._area_geoms[found], lon, lat).tolist()
        inside = [i for i, c in zip(found, covers, strict=True) if c]
        outside = [i for i, c in zip(found, covers, strict=True) if not c]
        near: list[tuple[int, float]] = []
        if outside:
            metres = _metres_to(self._area_geoms[outside], lon, lat, kx, ky, self.border_m).tolist()
            near = [(i, d) for i, d in zip(outside, metres, strict=True) if d <= self.border_m]
        if inside:
            chosen = self._deepest(inside, lon, lat)
        elif near:  # just outside every polygon (a gap in the drawing): the nearest, then the deepest
            chosen = min(near, key=lambda item: (round(item[1], 3), *self._rank(item[0])))[0]
        else:
            return None, ()
        code = self._codes[chosen]
        if not near and len(inside) == 1:
            return code, (code,)
        # The others: not the chosen one's ancestors, nor anyone's ancestor in the list;
        # the ones holding the point (on a shared border) at distance 0.
        candidates = [(i, 0.0) for i in inside] + near
        everyone = [i for i, _ in candidates]
        rest = sorted(
            (d, self._codes[i])
            for i, d in candidates
            if i != chosen and not any(self._is_ancestor(i, other) for other in everyone)
        )
        return code, (code, *(c for _, c in rest))

    def _rank(self, i: int) -> tuple[int, str]:
        return -self._depth[i], self._codes[i]

    def _is_ancestor(self, i: int, j: int) -> bool:
        a, b = self._paths[i], self._paths[j]
        return bool(a) and a != b and b.startswith(a)

    def _deepest(self, covering: list[int], lon: float, lat: float) -> int:
        # Drop every polygon with a descendant that also covers the point; on a
        # shared border, the one whose interior holds the point, then the deeper
        # one, then the lower division code: deterministic whatever the order.
        if len(covering) == 1:
            return covering[0]
        deepest = max(covering, key=self._depth.__getitem__)
        if all(i == deepest or self._is_ancestor(i, deepest) for i in covering):
            return deepest  # one line of descent, the usual case inside a jurisdiction
        leaves = [i for i in covering if not any(self._is_ancestor(i, other) for other in covering)]
        interior = shapely.contains_xy(self._area_geoms[leaves], lon, lat).tolist()
        return min(zip(leaves, interior, strict=True), key=lambda item: (not item[1], *self._rank(item[0])))[0]

    def _segment(
        self, point: shapely.Point, lon: float, lat: float, kx: float, ky: float
    ) -> tuple[str | None, str | None, float | None]:
        found = self._segment_tree.query(point, predicate="dwithin", distance=self.segment_max_m * _SLACK / kx).tolist()
        if not found:
            return None, None, None
        edges = self._edges_of[found[0]] if len(found) == 1 else np.concatenate([self._edges_of[i] for i in found])
        scale = (kx, ky)
        start = (self._edge_start[edges] - (lon, lat)) * scale  # in metres, the point at the origin
        vector = self._edge_vector[edges] * scale
        length2 = np.einsum("ij,ij->i", vector, vector)
        t = np.clip(-np.einsum("ij,ij->i", start, vector) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
        nearest = start + t[:, None] * vector
        distance = np.hypot(nearest[:, 0], nearest[:, 1])
        best = float(distance.min())
        if best > self.segment_max_m:
            return None, None, None
        # Equally near (two segments meeting at a vertex): the lower code.
        k = min(
            np.flatnonzero(distance == best).tolist(), key=lambda j: self._segments[self._edge_owner[edges[j]]].code
        )
        edge = int(edges[k])
        owner = self._edge_owner[edge]
        direction = vector[k]
        # At a vertex the tangent is the mean of the two edges' directions: the
        # point lies in the wedge outside the bend, on the side that mean shows.
        if t[k] == 0.0 and edge > self._edge_first[owner]:
            direction = _unit(self._edge_vector[edge - 1] * scale) + _unit(vector[k])
        elif t[k] == 1.0 and edge < self._edge_last[owner]:
            direction = _unit(vector[k]) + _unit(self._edge_vector[edge + 1] * scale)
        if not direction.any():
            direction = vector[k]
        # Cross product of the flow direction with the way to the point: positive is to the left.
        cross = float(direction[0] * -nearest[k, 1] - direction[1] * -nearest[k, 0])
        bank = None if cross == 0.0 else ("left_bank" if cross > 0 else "right_bank")
        return self._segments[owner].code, bank, best

    def _near_sensitive(self, point: shapely.Point, lon: float, lat: float, kx: float, ky: float) -> tuple[str, ...]:
        found = self._sensitive_tree.query(point, predicate="dwithin", distance=self.border_m * _SLACK / kx).tolist()
        if not found:
            return ()
        metres = _metres_to(self._sensitive_geoms[found], lon, lat, kx, ky, self.border_m).tolist()
        return tuple(sorted(self._sensitive[i].code for i, d in zip(found, metres, strict=True) if d <= self.border_m))


class CachedRouter:
    """A ``Router`` kept between requests and rebuilt only when the map has changed.

    Each ``get`` asks the database for a stamp of the map (the map features'
    count and latest import, and the segment lines themselves, which
    ``riverchief load`` may change without a map import): a few milliseconds,
    against a full load for every request.
    """

    def __init__(self, *, border_m: float = 200.0, segment_max_m: float = 2000.0) -> None:
        self.border_m = border_m
        self.segment_max_m = segment_max_m
        self._router: Router | None = None
        self._stamp: tuple[Any, ...] | None = None
        self._lock = threading.Lock()

    def get(self, conn: sa.Connection) -> Router:
        """The router for the map as it is now in the database behind ``conn``."""
        stamp = map_stamp(conn)
        with self._lock:
            if self._router is None or stamp != self._stamp:
                self._router = Router.load(conn, border_m=self.border_m, segment_max_m=self.segment_max_m)
                self._stamp = stamp
            return self._router


def map_stamp(conn: sa.Connection) -> tuple[Any, ...]:
    """What changes whenever the routed map does: count and latest import of the features, and the segment lines."""
    import sqlalchemy as sa

    from workflow.core.models import MapFeature, Segment, table_of

    f, s = table_of(MapFeature), table_of(Segment)
    count, latest = conn.execute(sa.select(sa.func.count(), sa.func.max(f.c.imported_at))).one()
    lines = conn.execute(sa.select(s.c.code, s.c.geometry).where(s.c.geometry.is_not(None)).order_by(s.c.id)).all()
    return count, latest, hash(repr(lines))


def _check_position(lon: float, lat: float) -> None:
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise ValidationFailed("lon", f"{lon} is not a WGS 84 longitude (-180 to 180)")
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ValidationFailed("lat", f"{lat} is not a WGS 84 latitude (-90 to 90)")


def _metres_to(
    geoms: NDArray[Any], lon: float, lat: float, kx: float, ky: float, reach_m: float
) -> NDArray[np.float64]:
    """Metres from (lon, lat) to each geometry, exact up to ``reach_m`` (anything farther reads as farther)."""
    # Only the part of a geometry inside the box around the point can be within
    # reach, so clip first: a district's long boundary is not projected whole.
    dx, dy = reach_m * _SLACK / kx, reach_m * _SLACK / ky
    clipped = shapely.clip_by_rect(geoms, lon - dx, lat - dy, lon + dx, lat + dy)
    empty = shapely.is_empty(clipped)
    local = shapely.transform(clipped, lambda xy: (xy - (lon, lat)) * (kx, ky))
    distance: NDArray[np.float64] = shapely.distance(shapely.Point(0.0, 0.0), local)
    distance[empty] = math.inf
    return distance


def _unit(vector: NDArray[np.float64]) -> NDArray[np.float64]:
    norm = float(np.hypot(vector[0], vector[1]))
    return vector / norm if norm > 0 else vector
