"""Maps drawn as inline SVG from the stored geometry: no tiles, nothing fetched from outside.

Coordinates are WGS84 longitude/latitude. Over the few tens of kilometres a
compact spans, an equirectangular projection scaled by cos(latitude) keeps
shapes true enough to recognise; the SVG's y axis points down, so latitude is
flipped. Names are placed greedily, the most important first: one that would
cover a name already placed, or stand partly outside the frame, is left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from markupsafe import escape

Point = tuple[float, float]
# An issue is a pin whose tip is on its place (the same as ``_map.html``'s PIN, which the legend draws).
PIN = "M0,0 L-5.6,-8.7 A6.5,6.5 0 1 1 5.6,-8.7 Z"


@dataclass(frozen=True, slots=True)
class Shape:
    """One thing to draw: a polygon ring set, a line or a point, with its CSS class and a tooltip."""

    kind: str  # polygon | line | point
    parts: Sequence[Sequence[Point]]  # rings of a polygon, one line, or one [point]
    css: str
    title: str = ""
    href: str | None = None


@dataclass(frozen=True, slots=True)
class Label:
    """A name to write at a point; labels of a smaller ``rank`` are placed first."""

    text: str
    places: Sequence[tuple[Point, str]]  # where it may go, best first: a point, and centred on it or to a side
    css: str
    rank: int
    size: float = 13.0  # the font size, in the drawing's units


@dataclass(slots=True)
class MapDrawing:
    """Shapes in a projected frame, ready for the template."""

    width: int
    height: int
    shapes: list[dict[str, object]] = field(default_factory=list)
    labels: list[dict[str, object]] = field(default_factory=list)
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


@dataclass(frozen=True, slots=True)
class Projection:
    """An equirectangular projection of a frame into a drawing ``width`` by ``height`` units (y down)."""

    width: int
    height: int
    cx: float
    cy: float
    scale_x: float
    span_x: float
    span_y: float

    def __call__(self, point: Point) -> tuple[float, float]:
        lon, lat = point
        x = ((lon - self.cx) * self.scale_x + self.span_x / 2) / self.span_x * self.width
        y = (self.span_y / 2 - (lat - self.cy)) / self.span_y * self.height
        return round(x, 1), round(y, 1)

    def drawing(self) -> MapDrawing:
        """An empty drawing of this frame, with its inverse projection."""
        return MapDrawing(
            self.width,
            self.height,
            lon0=self.cx - self.span_x / self.scale_x / 2,
            lat0=self.cy + self.span_y / 2,
            lon_per_unit=self.span_x / self.scale_x / self.width,
            lat_per_unit=self.span_y / self.height,
        )


def projection(
    shapes: Sequence[Shape], *, width: int = 640, margin: float = 0.08, min_span: float = 0.01
) -> Projection | None:
    """The projection that fits ``shapes`` (with a margin, between 2:1 and 4:3 landscape); None for nothing."""
    bounds = _bounds(shapes)
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
    return Projection(width, height, (west + east) / 2, (south + north) / 2, scale_x, span_x, span_y)


def projected(shape: Shape, project: Callable[[Point], tuple[float, float]]) -> dict[str, object]:
    """A shape as the drawing holds it: its kind, class, title and link, and its points in the drawing's units."""
    parts = [[project(p) for p in part] for part in shape.parts]
    item: dict[str, object] = {"kind": shape.kind, "css": shape.css, "title": shape.title, "href": shape.href}
    if shape.kind == "point":
        item["x"], item["y"] = parts[0][0]
    elif shape.kind == "line":
        item["points"] = " ".join(f"{x},{y}" for x, y in parts[0])
    else:
        item["d"] = " ".join("M" + " L".join(f"{x},{y}" for x, y in ring) + " Z" for ring in parts if len(ring) >= 3)
    return item


def draw(
    shapes: Sequence[Shape],
    *,
    width: int = 640,
    margin: float = 0.08,
    min_span: float = 0.01,
    frame: Sequence[Shape] | None = None,
    labels: Sequence[Label] = (),
) -> MapDrawing | None:
    """Project the shapes into an SVG frame ``width`` wide, with the labels that fit; None when there is nothing.

    The frame fits ``frame`` when given (what the map is about; the rest is drawn around it and
    clipped by the SVG), else every shape.
    """
    project = projection(frame if frame else shapes, width=width, margin=margin, min_span=min_span)
    if project is None:
        return None
    drawing = project.drawing()
    drawing.shapes = [projected(shape, project) for shape in shapes]
    marks = [(item["x"], item["y"]) for item in drawing.shapes if item["kind"] == "point"]
    drawing.labels = placed(spots(labels, project), marks)  # type: ignore[arg-type]
    return drawing


Box = tuple[float, float, float, float]  # left, top, right, bottom, in the drawing's units
Spot = tuple[float, float, str, Box]  # x, y, anchor, and the box the text covers (with a gap)


def spots(labels: Sequence[Label], project: Projection) -> list[tuple[dict[str, object], list[Spot]]]:
    """Each label's words and the spots it may take within the drawing, best first, the labels in the order
    they are placed (by rank): all of a name's placing that does not hang on what else is on the map."""
    found = []
    for label in sorted(labels, key=lambda lb: lb.rank):
        inside = []
        for at, side in label.places:
            spot = _spot(label, project(at), side)
            box = spot[3]
            if box[0] < 0 or box[1] < 0 or box[2] > project.width or box[3] > project.height:
                continue
            inside.append(spot)
        if inside:
            found.append(({"text": label.text, "css": label.css, "size": label.size}, inside))
    return found


def placed(
    candidates: Sequence[tuple[dict[str, object], Sequence[Spot]]], marks: Iterable[tuple[float, float]]
) -> list[dict[str, object]]:
    """The labels that fit (``spots``), each at its first spot that covers no marker and no name placed before."""
    # The markers are what the map is for: no name covers one (an issue's pin stands above its point).
    taken = _Taken()
    for x, y in marks:
        taken.add((x - 8, y - 20, x + 8, y + 8))
    found: list[dict[str, object]] = []
    for words, inside in candidates:
        for x, y, anchor, box in inside:
            if taken.meets(box):
                continue
            taken.add(box)
            found.append({"x": x, "y": y, "anchor": anchor, **words})
            break
    return found


def _spot(
    label: Label, point: tuple[float, float], side: str
) -> tuple[float, float, str, tuple[float, float, float, float]]:
    """Where a label's text goes from a projected point: its x, y, anchor and the box it covers (with a gap)."""
    px, py = point
    width, half_h, gap = text_width(label.text, label.size), label.size * 0.65, 3.0
    x, y, anchor, left = px, py, "middle", px - width / 2
    if side in ("above", "below"):
        y = py + (half_h + 4) * (-1 if side == "above" else 1)
    elif side == "right":
        x, anchor, left = px + 7, "start", px + 7
    elif side == "left":
        x, anchor, left = px - 7, "end", px - 7 - width
    return round(x, 1), round(y, 1), anchor, (left - gap, y - half_h - gap, left + width + gap, y + half_h + gap)


def text_width(text: str, size: float) -> float:
    """About how wide a text is: a Chinese character takes a full em, a Latin letter or digit about half."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.55 for ch in text)


class _Taken:
    """The boxes names and markers already cover, by the cells of a grid they fall in, so that a new name is
    checked against its neighbours only (a compact's map has thousands of issue markers)."""

    CELL = 48.0

    def __init__(self) -> None:
        self._cells: dict[tuple[int, int], list[Box]] = {}

    def _under(self, box: Box) -> Iterator[tuple[int, int]]:
        left, top, right, bottom = (math.floor(v / self.CELL) for v in box)
        return ((i, j) for i in range(left, right + 1) for j in range(top, bottom + 1))

    def add(self, box: Box) -> None:
        for cell in self._under(box):
            self._cells.setdefault(cell, []).append(box)

    def meets(self, box: Box) -> bool:
        """Whether ``box`` overlaps a box already taken."""
        return any(
            box[0] < t[2] and t[0] < box[2] and box[1] < t[3] and t[1] < box[3]
            for cell in self._under(box)
            for t in self._cells.get(cell, ())
        )


def shape_svg(item: dict[str, object]) -> str:
    """One projected shape as SVG markup, as ``_map.html``'s ``_shape`` writes it (every word escaped): for a
    page that writes thousands at once, without a template call for each."""
    css, title = escape(item["css"]), escape(item["title"])
    if item["kind"] == "polygon":
        svg = f'<path class="{css}" d="{item["d"]}" fill-rule="evenodd"><title>{title}</title></path>'
    elif item["kind"] == "line":
        svg = f'<polyline class="{css}" points="{item["points"]}"><title>{title}</title></polyline>'
    elif "issue" in str(item["css"]).split():
        svg = (
            f'<g class="{css}" transform="translate({item["x"]} {item["y"]})"><title>{title}</title>'
            f'<path d="{PIN}"></path><circle class="eye" cy="-12" r="2.3"></circle></g>'
        )
    else:
        svg = f'<circle class="{css}" cx="{item["x"]}" cy="{item["y"]}" r="7"><title>{title}</title></circle>'
    return f'<a href="{escape(item["href"])}">{svg}</a>' if item["href"] else svg


def label_svg(label: dict[str, object]) -> str:
    """A placed label as SVG markup, as ``_map.html`` writes it."""
    return (
        f'<text class="label {escape(label["css"])}" x="{label["x"]}" y="{label["y"]}" font-size="{label["size"]}" '
        f'text-anchor="{label["anchor"]}" dominant-baseline="central">{escape(label["text"])}</text>'
    )


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
