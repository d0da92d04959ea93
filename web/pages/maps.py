"""Maps drawn as inline SVG from the stored geometry: no tiles, nothing fetched from outside.

Coordinates are WGS84 longitude/latitude. Over the few tens of kilometres a
compact spans, an equirectangular projection scaled by cos(latitude) keeps
shapes true enough to recognise; the SVG's y axis points down, so latitude is
flipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Shape:
    """One thing to draw: a polygon ring set, a line or a point, with its CSS class and a tooltip."""

    kind: str  # polygon | line | point
    parts: Sequence[Sequence[Point]]  # rings of a polygon, one line, or one [point]
    css: str
    title: str = ""
    href: str | None = None
    label: str | None = None


@dataclass(slots=True)
class MapDrawing:
    """Shapes in a projected frame, ready for the template."""

    width: int
    height: int
    shapes: list[dict[str, object]] = field(default_factory=list)
    # The inverse projection, for a tap on the map: lon = lon0 + x * lon_per_unit, lat = lat0 - y * lat_per_unit.
    lon0: float = 0.0
    lat0: float = 0.0
    lon_per_unit: float = 0.0
    lat_per_unit: float = 0.0


def _bounds(shapes: Iterable[Shape]) -> tuple[float, float, float, float] | None:
    xs: list[float] = []
    ys: list[float] = []
    for shape in shapes:
        for part in shape.parts:
            for lon, lat in part:
                xs.append(lon)
                ys.append(lat)
    if not xs:
        return None
    return min(xs), min(ys), max(xs), max(ys)


def draw(
    shapes: Sequence[Shape],
    *,
    width: int = 640,
    margin: float = 0.08,
    min_span: float = 0.01,
    frame: Sequence[Shape] | None = None,
) -> MapDrawing | None:
    """Project the shapes into an SVG frame ``width`` wide; None when there is nothing to draw.

    The frame fits ``frame`` when given (what the map is about; the rest is drawn around it and
    clipped by the SVG), else every shape.
    """
    bounds = _bounds(frame if frame else shapes)
    if bounds is None:
        return None
    west, south, east, north = bounds
    mid_lat = math.radians((south + north) / 2)
    scale_x = math.cos(mid_lat)
    span_x = max((east - west) * scale_x, min_span)
    span_y = max(north - south, min_span)
    pad = max(span_x, span_y) * margin
    span_x += 2 * pad
    span_y += 2 * pad
    # Keep the frame between 2:1 and 4:3 landscape, widening the narrow side around the centre.
    span_x = max(span_x, span_y * 4 / 3)
    span_y = max(span_y, span_x / 2)
    height = max(120, round(width * span_y / span_x))
    cx, cy = (west + east) / 2, (south + north) / 2

    def project(point: Point) -> tuple[float, float]:
        lon, lat = point
        x = ((lon - cx) * scale_x + span_x / 2) / span_x * width
        y = (span_y / 2 - (lat - cy)) / span_y * height
        return round(x, 1), round(y, 1)

    drawing = MapDrawing(
        width,
        height,
        lon0=cx - span_x / scale_x / 2,
        lat0=cy + span_y / 2,
        lon_per_unit=span_x / scale_x / width,
        lat_per_unit=span_y / height,
    )
    for shape in shapes:
        projected = [[project(p) for p in part] for part in shape.parts]
        item: dict[str, object] = {
            "kind": shape.kind,
            "css": shape.css,
            "title": shape.title,
            "href": shape.href,
            "label": shape.label,
        }
        if shape.kind == "point":
            item["x"], item["y"] = projected[0][0]
        elif shape.kind == "line":
            item["points"] = " ".join(f"{x},{y}" for x, y in projected[0])
        else:
            item["d"] = " ".join(
                "M" + " L".join(f"{x},{y}" for x, y in ring) + " Z" for ring in projected if len(ring) >= 3
            )
        drawing.shapes.append(item)
    return drawing


def shapes_of_geojson(geometry: dict[str, object], css: str, title: str = "", href: str | None = None) -> list[Shape]:
    """The shapes of one GeoJSON geometry (Polygon, MultiPolygon, LineString, MultiLineString, Point)."""
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if not isinstance(coords, list):
        return []

    def pts(seq: list[list[float]]) -> list[Point]:
        return [(float(p[0]), float(p[1])) for p in seq]

    if kind == "Point":
        return [Shape("point", [[(float(coords[0]), float(coords[1]))]], css, title, href)]
    if kind == "LineString":
        return [Shape("line", [pts(coords)], css, title, href)]
    if kind == "MultiLineString":
        return [Shape("line", [pts(line)], css, title, href) for line in coords]
    if kind == "Polygon":
        return [Shape("polygon", [pts(ring) for ring in coords], css, title, href)]
    if kind == "MultiPolygon":
        return [Shape("polygon", [pts(ring) for ring in polygon], css, title, href) for polygon in coords]
    return []
