"""What a map draws of a stored geometry, worked out once, when the geometry is written: the places its name
may go, and its course simplified at each zoom a page draws it at, with the places of its name on that.

A page draws a frame some hundreds of pixels wide and simplifies what it draws to half a pixel (a finer course
would not show); the frames differ from page to page and compact to compact, so the tolerances are
continuous. They are stored at a few levels instead, one per zoom of a 256-pixel Web Mercator tile (half a
pixel at the equator, ``zoom_tolerance``): 8 (a province) to 14 (a village's street). A drawing takes the
coarsest level at or finer than its own tolerance (``zoom_for``): never coarser than it asked for, and
between zooms 8 and 14 at most twice as fine.

A name goes where a reader looks for it: inside an area (a point sure to lie in the polygon, not its
centroid, which may fall outside a U-shaped township), along a line beside it, on a point; each has a few
places to try, so that whoever draws the map can move a name out of another's way.

The writers (the layer import, the reference loader, the province generator) store ``drawn_columns`` beside
the geometry; the map reads the level it needs and works it out here for a row stored without it.
Migration 0022 fills the rows written before it with a copy of these functions; a test keeps them equal.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import shapely
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel

Point = tuple[float, float]
# Where a name stands from its point: centred on it, or on one side of it.
SIDES = ("center", "above", "below", "right", "left")
Place = tuple[Point, str]  # a point and a side
# Where along a line its name is tried, as fractions of its length: the middle first.
ALONG_LINE = (0.5, 0.35, 0.65, 0.2, 0.8)
# The zooms whose drawing is stored, coarsest first; a column each (``drawn_column``).
ZOOMS = tuple(range(8, 15))
# The column of the places of a name on the geometry as stored (no simplification): [[lon, lat, side], ...].
PLACES_COLUMN = "label_places"


def zoom_tolerance(zoom: int) -> float:
    """Half a pixel of a 256-pixel tile at ``zoom``, in degrees of longitude: what its drawing is simplified to."""
    return 180.0 / 2.0 ** (zoom + 8)


def zoom_for(tolerance: float) -> int | None:
    """The stored zoom a drawing simplified to ``tolerance`` degrees reads: the coarsest at or finer than it
    (the coarsest stored for a coarser drawing); None, the geometry as stored, for none or one finer than all."""
    if tolerance <= 0:
        return None
    return next((zoom for zoom in ZOOMS if zoom_tolerance(zoom) <= tolerance), None)


def drawn_column(zoom: int) -> str:
    """The column holding the drawing at ``zoom``: {"geometry": GeoJSON, "places": [[lon, lat, side], ...]}."""
    return f"drawn_z{zoom}"


DRAWN_COLUMNS = (PLACES_COLUMN, *(drawn_column(zoom) for zoom in ZOOMS))


def label_places(geometry: dict[str, Any]) -> tuple[Place, ...]:
    """Where a geometry's name may go, best first, each with the side of its point it stands on (``SIDES``).

    In the largest area, centred: first at the point farthest from its edges, then at others inside it. On
    a point, centred. Along the longest line, halfway first, then nearer its ends (for when the middle is
    crowded); above or below the line where it runs more across than up and down, else right or left of it,
    so that the name does not cover the line. Nothing for an empty or broken geometry.
    """
    found = _shape(geometry)
    return _places(found) if found is not None else ()


def drawing(geometry: dict[str, Any], tolerance: float, named: bool) -> tuple[dict[str, Any], tuple[Place, ...]]:
    """A geometry simplified to ``tolerance`` degrees (none: as stored), with the places of its name on what
    is drawn when ``named``. An area keeps its rings valid; a point is drawn as it is."""
    found = _shape(geometry) if named or tolerance > 0 else None
    if found is None:
        return geometry, ()
    if tolerance > 0 and found.geom_type not in ("Point", "MultiPoint"):
        # A line needs no care for its rings (and is simplified several times faster).
        simpler = found.simplify(tolerance, preserve_topology=found.geom_type in ("Polygon", "MultiPolygon"))
        if not simpler.is_empty:
            found, geometry = simpler, json.loads(shapely.to_geojson(simpler))
    return geometry, _places(found) if named else ()


def drawn_columns(geometry: dict[str, Any] | None) -> dict[str, Any]:
    """The stored drawing of a geometry, as the columns of its row (``DRAWN_COLUMNS``); all None without one."""
    if not geometry:
        return dict.fromkeys(DRAWN_COLUMNS)
    columns: dict[str, Any] = {PLACES_COLUMN: stored_places(label_places(geometry))}
    for zoom in ZOOMS:
        drawn, places = drawing(geometry, zoom_tolerance(zoom), named=True)
        columns[drawn_column(zoom)] = {"geometry": drawn, "places": stored_places(places)}
    return columns


def segment_line(points: Sequence[Sequence[float]]) -> dict[str, Any]:
    """A segment's stored line ([[lon, lat], ...]) as the GeoJSON LineString a map draws."""
    return {"type": "LineString", "coordinates": [[p[0], p[1]] for p in points]}


def stored_places(places: Sequence[Place]) -> list[list[Any]]:
    """Places as a column holds them: [[lon, lat, side], ...]."""
    return [[at[0], at[1], side] for at, side in places]


def read_places(stored: Sequence[Sequence[Any]]) -> tuple[Place, ...]:
    """Places as a column holds them, back as ((lon, lat), side) pairs."""
    return tuple(((p[0], p[1]), p[2]) for p in stored)


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
