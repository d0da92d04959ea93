"""Geometry for the inline SVG figures: computed here, drawn by the templates (which escape every label)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from reports.words import DEFAULT, say


@dataclass(frozen=True, slots=True)
class Label:
    """Where a map's text goes: its anchor (SVG text-anchor) and baseline, placed off the line and inside the box."""

    x: float
    y: float
    anchor: str  # start, middle or end
    halo: tuple[float, float, float, float] = (0, 0, 0, 0)  # x, y, width, height of the white ground under the text


@dataclass(frozen=True, slots=True)
class MapFigure:
    """A segment's course and the problem's position, fitted into a box, with their labels placed clear of the line."""

    width: int
    height: int
    line: str  # SVG polyline points
    point: tuple[float, float] | None
    start: tuple[float, float] | None
    scale_px: float  # length of the scale bar
    scale_label: str
    segment_label: Label | None = None
    point_label: Label | None = None


FONT_PX = 10  # the maps' font-size
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def text_width(text: str, font_px: float = FONT_PX) -> float:
    """A generous estimate: a CJK character is one em, anything else about 0.62 em."""
    return sum(font_px if ord(ch) > 0x2E7F else font_px * 0.62 for ch in text)


def _box(label: Label, width: float, font_px: float = FONT_PX) -> Box:
    left = {"start": label.x, "middle": label.x - width / 2, "end": label.x - width}[label.anchor]
    return (left, label.y - font_px * 0.9, left + width, label.y + font_px * 0.25)


def _line_hits(box: Box, points: list[tuple[float, float]], margin: float) -> int:
    """How many samples along the polyline (every 2 px) fall within margin of the box."""
    x0, y0, x1, y1 = box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin
    hits = 0
    for (ax, ay), (bx, by) in itertools.pairwise(points):
        steps = max(1, int(math.hypot(bx - ax, by - ay) / 2))
        for i in range(steps + 1):
            x, y = ax + (bx - ax) * i / steps, ay + (by - ay) * i / steps
            hits += x0 <= x <= x1 and y0 <= y <= y1
    if len(points) == 1:
        hits += x0 <= points[0][0] <= x1 and y0 <= points[0][1] <= y1
    return hits


def _overlap(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def place_label(
    at: tuple[float, float],
    text: str,
    candidates: list[tuple[float, float, str]],
    line: list[tuple[float, float]],
    taken: list[Box],
    size: tuple[int, int],
    bold: bool = False,
) -> Label:
    """The first candidate offset whose text the line does not cross and that covers nothing taken, kept in the box.

    Each candidate is (dx, dy, text-anchor) from the point `at`; when none is clear, the one the line crosses least.
    The label is then shifted, if need be, to lie wholly inside the figure."""
    width = text_width(text) * (1.05 if bold else 1.0)
    best: tuple[float, int, Label] | None = None
    for order, (dx, dy, anchor) in enumerate(candidates):
        label = Label(round(at[0] + dx, 1), round(at[1] + dy, 1), anchor)
        box = _box(label, width)
        outside = max(0.0, 4 - box[0]) + max(0.0, box[2] - (size[0] - 4)) + max(0.0, 4 - box[1])
        outside += max(0.0, box[3] - (size[1] - 4))
        cost = _line_hits(box, line, 3.5) * 10 + sum(_overlap(box, t) for t in taken) + outside * 2
        if best is None or (cost, order) < (best[0], best[1]):
            best = (cost, order, label)
    assert best is not None
    label = best[2]
    x0, y0, x1, y1 = _box(label, width)
    shift_x = max(0.0, 4 - x0) - max(0.0, x1 - (size[0] - 4))
    shift_y = max(0.0, 4 - y0) - max(0.0, y1 - (size[1] - 4))
    x0, y0, x1, y1 = x0 + shift_x - 2, y0 + shift_y - 1, x1 + shift_x + 2, y1 + shift_y + 1
    halo = (round(x0, 1), round(y0, 1), round(x1 - x0, 1), round(y1 - y0, 1))
    return Label(round(label.x + shift_x, 1), round(label.y + shift_y, 1), label.anchor, halo)


def map_figure(
    course: list[list[float]] | None,
    point: tuple[float, float] | None,
    segment: str = "",
    width: int = 520,
    height: int = 240,
    *,
    lang: str = DEFAULT,
) -> MapFigure | None:
    """Project lon/lat (equirectangular, corrected for latitude) into the box; None with nothing to draw.

    The segment's name goes by the start of its course and "problem here" (in ``lang``) by the point, each where
    the line does not run through it (the template also draws them over a white halo) and inside the figure."""
    point_text = say("common.map.problem_here", lang)
    coords = [(float(lon), float(lat)) for lon, lat in (course or [])]
    everything = coords + ([point] if point else [])
    if not everything:
        return None
    lons, lats = [c[0] for c in everything], [c[1] for c in everything]
    mid_lat = math.radians((min(lats) + max(lats)) / 2)
    kx = math.cos(mid_lat)
    span_x = max((max(lons) - min(lons)) * kx, 0.004)
    span_y = max(max(lats) - min(lats), 0.004)
    pad = 28
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    ox = (width - span_x * scale) / 2
    oy = (height - span_y * scale) / 2

    def project(lon: float, lat: float) -> tuple[float, float]:
        return round(ox + (lon - min(lons)) * kx * scale, 1), round(height - oy - (lat - min(lats)) * scale, 1)

    # A scale bar of a round number of kilometres, about a fifth of the width.
    km_per_px = 111.32 / scale
    target_km = km_per_px * width / 5
    step = 10 ** math.floor(math.log10(target_km)) if target_km > 0 else 1
    km = next(m * step for m in (5, 2, 1) if m * step <= target_km) if target_km >= step else step
    line = [project(*c) for c in coords]
    spot = project(*point) if point else None
    scale_px = round(km / km_per_px, 1)
    # The scale bar and its text, the north arrow and the problem's dot are not to be covered.
    taken: list[Box] = [(8, height - 32, 22 + max(scale_px, 40), height - 8), (width - 30, 6, width - 6, 40)]
    if spot:
        taken.append((spot[0] - 9, spot[1] - 9, spot[0] + 9, spot[1] + 9))
    point_label = None
    if spot:
        point_label = place_label(
            spot,
            point_text,
            [
                (11, 4, "start"),
                (-11, 4, "end"),
                (0, -12, "middle"),
                (0, 21, "middle"),
                (11, -9, "start"),
                (-11, -9, "end"),
                (11, 17, "start"),
                (-11, 17, "end"),
            ],
            line,
            taken,
            (width, height),
            bold=True,
        )
        taken.append(_box(point_label, text_width(point_text) * 1.05))
    segment_label = None
    if line and segment:
        segment_label = place_label(
            line[0],
            segment,
            [
                (6, -8, "start"),
                (-6, -8, "end"),
                (6, 16, "start"),
                (-6, 16, "end"),
                (0, -10, "middle"),
                (0, 19, "middle"),
                (9, 4, "start"),
                (-9, 4, "end"),
            ],
            line,
            taken,
            (width, height),
        )
    return MapFigure(
        width=width,
        height=height,
        line=" ".join(f"{x},{y}" for x, y in line),
        point=spot,
        start=line[0] if line else None,
        scale_px=scale_px,
        scale_label=f"{km:g} km",
        segment_label=segment_label,
        point_label=point_label,
    )


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a chart, with its label and value."""

    label: str
    value: int
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True, slots=True)
class BarChart:
    """Horizontal bars with their labels: legible in print, solid fills only."""

    width: int
    height: int
    label_width: int
    bars: list[Bar]


def bar_chart(
    rows: list[tuple[str, int]], width: int = 520, bar_height: int = 16, gap: int = 6, label_width: int = 150
) -> BarChart:
    """Bars scaled to the largest value; an empty chart still has its labels."""
    top = max((v for _, v in rows), default=0) or 1
    usable = width - label_width - 40
    bars = [
        Bar(label, value, label_width, i * (bar_height + gap) + 4, round(usable * value / top, 1), bar_height)
        for i, (label, value) in enumerate(rows)
    ]
    return BarChart(width, len(rows) * (bar_height + gap) + 8, label_width, bars)
